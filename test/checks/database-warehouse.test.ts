/**
 * `strata validate --database` with no file: the embedded default, DuckDB over the project's
 * Iceberg warehouse (as `strata demo` builds it). The example project checks clean there.
 */
import { cpSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it, vi } from 'vitest';
import { demoCommand, validateCommand } from '../../src/cli/commands.js';
import { REPO_ROOT } from '../support/example-project.js';

let project: string;

beforeAll(async () => {
  project = mkdtempSync(join(tmpdir(), 'strata-check-warehouse-'));
  cpSync(join(REPO_ROOT, 'definitions'), join(project, 'definitions'), { recursive: true });
  await quietly(() => demoCommand(project, {}));
}, 90_000);
afterAll(() => rmSync(project, { recursive: true, force: true }));

/** Runs `body` with stdout and stderr captured. */
async function quietly(body: () => Promise<number>): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const stdout = vi.spyOn(process.stdout, 'write').mockImplementation((text) => {
    out += String(text);
    return true;
  });
  const stderr = vi.spyOn(process.stderr, 'write').mockImplementation((text) => {
    err += String(text);
    return true;
  });
  try {
    return { code: await body(), out, err };
  } finally {
    stdout.mockRestore();
    stderr.mockRestore();
  }
}

it('checks the example project clean on the embedded Iceberg warehouse', async () => {
  const { code, out, err } = await quietly(() => validateCommand(project, { database: true }));
  expect(err).toBe('checked 8 sources on duckdb in 23 queries\n');
  expect(code).toBe(0);
  expect(out).toMatch(/^ok: 8 sources/);
});
