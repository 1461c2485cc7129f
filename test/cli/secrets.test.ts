/**
 * Issue 7 §5 end to end: an API whose error body echoes the credential it received (as
 * proxies and some servers do). Neither `strata sync`'s output, `strata runs`, the run
 * history file nor a worker's log lines contain the credential, in any of its echoed forms.
 */
import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { enqueueSync, openSyncQueue } from '../../src/trackers/scheduler.js';
import { defaultLogger, startWorker } from '../../src/trackers/worker.js';
import { strataInProcess } from '../support/in-process-cli.js';
import { createProject, deleteKeys, REDIS_URL, uniquePrefix, type TestProject } from '../service/support.js';

const TOKEN = 'patEchoed.S3cr3t/Tok3n+42';
const GOOGLE_TOKEN = 'ya29.echoed-access-token';
/** Every form of the credentials the server writes back. */
const FORMS = [TOKEN, encodeURIComponent(TOKEN), Buffer.from(TOKEN).toString('base64'), GOOGLE_TOKEN];

let server: Server;
let url: string;
let project: TestProject;
let env: NodeJS.ProcessEnv;

/** Refuses every request, quoting its Authorization header in the error message (as JSON). */
function startEchoServer(): Promise<Server> {
  const echo = createServer((req, res) => {
    const auth = req.headers.authorization ?? '';
    const token = auth.replace(/^Bearer /, '');
    const message =
      `invalid credentials: ${auth} (url-encoded ${encodeURIComponent(token)}, ` +
      `base64 ${Buffer.from(token).toString('base64')})`;
    res
      .writeHead(401, { 'Content-Type': 'application/json' })
      .end(JSON.stringify({ error: { code: 401, type: 'AUTHENTICATION_REQUIRED', message } }));
  });
  return new Promise((resolve) => echo.listen(0, '127.0.0.1', () => resolve(echo)));
}

beforeAll(async () => {
  server = await startEchoServer();
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  project = await createProject();
  project.writeTracker('echoed', {
    destinations: [
      { type: 'airtable', baseId: 'appEcho', table: 'Items', mode: 'upsert', key: ['item_id'] },
      { type: 'google_sheets', spreadsheetId: 'sheet-echo', sheet: 'Items' },
    ],
  });
  env = {
    STRATA_AIRTABLE_TOKEN: TOKEN,
    STRATA_AIRTABLE_ENDPOINT_URL: url,
    STRATA_GOOGLE_ACCESS_TOKEN: GOOGLE_TOKEN,
    STRATA_SHEETS_ROOT_URL: url,
  };
});

afterAll(async () => {
  server?.close();
  project?.cleanup();
});

function expectNoCredential(text: string): void {
  for (const form of FORMS) expect(text).not.toContain(form);
}

test('sync output, strata runs and the run history never show an echoed credential', async () => {
  const sync = await strataInProcess(['sync', 'echoed', '--project', project.dir], { env });
  expect(sync.status).toBe(1);
  // The failure is reported, with the server's message, masked.
  expect(sync.stdout).toMatch(/airtable appEcho\/Items: failed: .*invalid credentials: Bearer \[redacted\]/);
  expect(sync.stdout).toMatch(/google_sheets .*: failed: .*\[redacted\]/);
  expectNoCredential(sync.stdout + sync.stderr);

  const dry = await strataInProcess(['sync', 'echoed', '--dry-run', '--project', project.dir], { env });
  expect(dry.stdout).toMatch(/failed: .*\[redacted\]/);
  expectNoCredential(dry.stdout + dry.stderr);

  const runs = await strataInProcess(['runs', '--project', project.dir], { env });
  expect(runs.stdout).toMatch(/echoed .*failed/);
  expect(runs.stdout).toContain('[redacted]');
  expectNoCredential(runs.stdout + runs.stderr);

  const stored = readFileSync(join(project.dir, '.strata', 'runs.db')).toString('latin1');
  expect(stored).toContain('[redacted]');
  expectNoCredential(stored);
});

test("a worker's log lines never show an echoed credential", async () => {
  const prefix = uniquePrefix('secrets');
  const queue = openSyncQueue({ redis: REDIS_URL, prefix });
  const lines: string[] = [];
  const capture = new Writable({
    write(chunk: Buffer, _encoding, done) {
      lines.push(...chunk.toString().split('\n').filter(Boolean));
      done();
    },
  });
  const worker = await startWorker({
    projectDir: project.dir,
    redis: REDIS_URL,
    prefix,
    env: { ...process.env, ...env },
    logger: defaultLogger(capture),
  });
  try {
    const failed = new Promise<void>((resolve) => worker.worker.on('failed', () => resolve()));
    await enqueueSync(queue, 'echoed', 'manual', { attempts: 1 });
    await failed;
    const log = lines.join('\n');
    expect(log).toMatch(/destination failed/);
    expect(log).toContain('[redacted]');
    expectNoCredential(log);
  } finally {
    await worker.close();
    await queue.close();
    await deleteKeys(prefix);
  }
});
