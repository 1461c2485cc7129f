/**
 * Issue 7 §3 through the CLI's commands (in-process): `strata sync` names every failure's reason, one line each,
 * and a BI database that cannot be reached is one clear line (not knex's stack trace).
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { strataInProcess } from '../support/in-process-cli.js';
import { createProject, type TestProject } from '../service/support.js';

let project: TestProject;

beforeAll(async () => {
  project = await createProject();
  // `blocked` is a file, so `blocked/items.json` cannot be written.
  writeFileSync(join(project.dir, 'blocked'), '');
  project.writeTracker('mixed', {
    destinations: [
      { type: 'table', connection: 'env:BI_URL', table: 'bi.items' },
      { type: 'file', path: 'blocked/items.json' },
      { type: 'file', path: 'out/items.json' },
    ],
  });
});

afterAll(() => project?.cleanup());

test('sync prints the reason of each failed destination and of a run that failed before them', async () => {
  // Port 1: nothing listens there, the connection is refused at once.
  const env = { BI_URL: 'postgres://strata:not-the-point@127.0.0.1:1/bi' };
  const r = await strataInProcess(['sync', 'mixed', '--project', project.dir], { env });
  expect(r.status).toBe(1);
  const lines = r.stdout.trimEnd().split('\n');
  expect(lines[0]).toMatch(/^mixed: partial, 3 rows, 0 API calls \(run [0-9a-f-]+\)$/);
  expect(lines.slice(1)).toEqual([
    '  table bi.items: failed: cannot connect to 127.0.0.1:1/bi: connect ECONNREFUSED 127.0.0.1:1',
    expect.stringMatching(/^ {2}file .*blocked\/items\.json: failed: .*(ENOTDIR|EEXIST)/),
    expect.stringMatching(/^ {2}file .*out\/items\.json: succeeded, 3 created/),
  ]);
  expect(r.stderr).toBe('');

  const noEngine = await strataInProcess(
    ['sync', 'mixed', '--project', project.dir, '--database', join(project.dir, 'missing.duckdb')],
    { env },
  );
  expect(noEngine.status).toBe(1);
  expect(noEngine.stdout.trimEnd().split('\n')).toEqual([
    expect.stringMatching(/^mixed: failed, 0 rows, 0 API calls/),
    expect.stringMatching(/^ {2}.*missing\.duckdb does not exist/),
  ]);
});
