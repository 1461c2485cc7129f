/**
 * `strata validate --database` with no file: the embedded default, DuckDB over the project's
 * Iceberg warehouse (as `strata demo` builds it). The example project checks clean there.
 */
import { cpSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { REPO_ROOT } from '../support/example-project.js';
import { strataInProcess } from '../support/in-process-cli.js';

let project: string;

beforeAll(async () => {
  project = mkdtempSync(join(tmpdir(), 'strata-check-warehouse-'));
  cpSync(join(REPO_ROOT, 'definitions'), join(project, 'definitions'), { recursive: true });
  expect((await strataInProcess(['demo', '--project', project])).status).toBe(0);
}, 90_000);
afterAll(() => rmSync(project, { recursive: true, force: true }));

it('checks the example project clean on the embedded Iceberg warehouse', async () => {
  const { status, stdout, stderr } = await strataInProcess(['validate', '--database', '--project', project]);
  expect(stderr).toBe('checked 8 sources on duckdb in 23 queries\n');
  expect(status).toBe(0);
  expect(stdout).toMatch(/^ok: 8 sources/);
});
