/**
 * Issue 7 §6: `strata worker` and `strata serve --with-worker` stop on the first SIGTERM or
 * SIGINT within a bounded time, even with Redis unreachable (real processes of the built CLI);
 * a job still running when the grace period ends is handed back to the queue, and another
 * worker runs it with the same run id.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer, type Server, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';
import { createInterface } from 'node:readline';
import type { Job } from 'bullmq';
import { afterAll, beforeAll, describe, expect, test, vi } from 'vitest';
import { Compiler } from '../../src/core/compile.js';
import { loadProject } from '../../src/project/load-project.js';
import { enqueueSync, openSyncQueue, type SyncJobData } from '../../src/trackers/scheduler.js';
import { runIdForJob, startWorker, type SyncJobSummary } from '../../src/trackers/worker.js';
import { CLI } from '../support/cli.js';
import { startFakeAirtable, type FakeAirtable } from '../support/fake-airtable.js';
import {
  createProject,
  deleteKeys,
  ITEMS,
  REDIS_URL,
  silentLogger,
  uniquePrefix,
  type TestProject,
} from './support.js';

/** Far more than a bounded shutdown takes (about 7 s with Redis unreachable), far less than the test timeout. */
const EXIT_WITHIN_MS = 25_000;

let project: TestProject;
/** A TCP server that accepts connections and never answers: an unreachable Redis, a hung API. */
let silent: Server;
let silentUrl: string;
const sockets: Socket[] = [];

beforeAll(async () => {
  project = await createProject();
  silent = createServer((socket) => sockets.push(socket));
  await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
  silentUrl = `127.0.0.1:${(silent.address() as AddressInfo).port}`;
});

afterAll(async () => {
  for (const socket of sockets) socket.destroy();
  await new Promise((resolve) => silent.close(resolve));
  project?.cleanup();
});

/** Starts the built CLI; resolves once a stderr log line passes `ready`; collects every line. */
async function startCli(args: string[], ready: (entry: Record<string, unknown>) => boolean) {
  const child = spawn(process.execPath, [CLI, '--project', project.dir, ...args], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  const logs: Record<string, unknown>[] = [];
  await new Promise<void>((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`exited early with ${code}: ${JSON.stringify(logs)}`)));
    createInterface({ input: child.stderr! }).on('line', (line) => {
      const entry = JSON.parse(line) as Record<string, unknown>;
      logs.push(entry);
      if (ready(entry)) resolve();
    });
  });
  return { child, logs };
}

/** Sends `signal`; resolves with the exit code, or null if the process was still running after EXIT_WITHIN_MS. */
function stop(child: ChildProcess, signal: NodeJS.Signals): Promise<number | null> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      resolve(null);
    }, EXIT_WITHIN_MS);
    child.once('exit', (code) => {
      clearTimeout(timer);
      resolve(code);
    });
    child.kill(signal);
  });
}

describe('with Redis unreachable', () => {
  test('strata worker exits on the first SIGTERM', async () => {
    const { child, logs } = await startCli(
      ['worker', '--redis', 'redis://127.0.0.1:1'],
      (entry) => entry.msg === 'worker connecting to Redis',
    );
    expect(await stop(child, 'SIGTERM')).toBe(0);
    expect(logs.map((l) => l.msg)).toContain('worker closed');
  });

  test('strata serve --with-worker exits on the first SIGINT', async () => {
    const { child, logs } = await startCli(
      ['serve', '--port', '0', '--with-worker', '--redis', 'redis://127.0.0.1:1'],
      (entry) => entry.msg === 'strata serve is listening',
    );
    expect(await stop(child, 'SIGINT')).toBe(0);
    expect(logs.map((l) => l.msg)).toContain('worker closed');
    // Bound to this machine only unless asked otherwise.
    expect(logs.find((l) => l.msg === 'strata serve is listening')?.url).toMatch(
      /^http:\/\/127\.0\.0\.1:\d+$/,
    );
  });
});

describe('a job running when the worker closes', () => {
  const prefix = uniquePrefix('shutdown');
  const queue = openSyncQueue({ redis: REDIS_URL, prefix });
  let airtable: FakeAirtable;

  beforeAll(async () => {
    airtable = await startFakeAirtable();
    const labels = new Compiler(loadProject(project.dir).model)
      .compile('items', { dialect: 'duckdb' })
      .columns.map((c) => c.label);
    airtable.createTable('appShut', 'Items', labels);
    project.writeTracker('slow', {
      destinations: [{ type: 'airtable', baseId: 'appShut', table: 'Items', mode: 'append' }],
    });
  });

  afterAll(async () => {
    await queue.close();
    await airtable?.close();
    await deleteKeys(prefix);
  });

  test('is handed back after the grace period and run again, with the same run id, by another worker', async () => {
    const env = (endpoint: string) => ({
      ...process.env,
      STRATA_AIRTABLE_TOKEN: airtable.token,
      STRATA_AIRTABLE_ENDPOINT_URL: endpoint,
    });
    // The first worker's API never answers: its job is still running when it closes.
    const first = await startWorker({
      projectDir: project.dir,
      redis: REDIS_URL,
      prefix,
      concurrency: 1,
      shutdownGraceMs: 200,
      env: env(`http://${silentUrl}`),
      logger: silentLogger(),
    });
    const failures: string[] = [];
    first.worker.on('failed', (_job, e) => failures.push(e.message));
    const active = new Promise<Job<SyncJobData, SyncJobSummary>>((resolve) =>
      first.worker.once('active', resolve),
    );
    const calls = sockets.length;
    const id = await enqueueSync(queue, 'slow', 'manual');
    const started = await active;
    // The job is inside its API call when the worker closes.
    await vi.waitFor(() => expect(sockets.length).toBeGreaterThan(calls), { timeout: 15_000, interval: 20 });
    await first.close();

    const job = (await queue.getJob(id))!;
    expect(await job.getState()).toBe('waiting');
    expect(job.attemptsMade).toBe(0);
    expect(failures).toEqual([]);

    const second = await startWorker({
      projectDir: project.dir,
      redis: REDIS_URL,
      prefix,
      concurrency: 1,
      env: env(airtable.url),
      logger: silentLogger(),
    });
    try {
      const done = await new Promise<Job<SyncJobData, SyncJobSummary>>((resolve, reject) => {
        second.worker.on('completed', (j) => j.id === id && resolve(j));
        second.worker.on('failed', (j, e) => j?.id === id && reject(e));
      });
      expect(done.returnvalue).toMatchObject({ runId: runIdForJob(started), status: 'succeeded' });
      expect(airtable.records('appShut', 'Items')).toHaveLength(ITEMS.length);
    } finally {
      await second.close();
    }
  });
});
