/** `strata sync` on a terminal shows what it is doing (querying, then each destination with its API calls). */
import { cpSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../support/example-project.js';
import { FakeSheets } from '../support/fake-sheets.js';
import { strataInProcess } from '../support/in-process-cli.js';

const TOKEN = 'progress-token';
let dir: string;
let sheets: FakeSheets;
let env: NodeJS.ProcessEnv;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'strata-sync-progress-'));
  cpSync(join(REPO_ROOT, 'definitions'), join(dir, 'definitions'), { recursive: true });
  cpSync(join(REPO_ROOT, 'trackers', 'movie-status.yaml'), join(dir, 'trackers', 'movie-status.yaml'));
  const demo = await strataInProcess(['demo', '--project', dir]);
  expect(demo.status, demo.stderr).toBe(0);
  sheets = await new FakeSheets({ tokens: [TOKEN] }).start();
  sheets.addSpreadsheet('progress-sheet', [{ title: 'Readme' }]);
  env = {
    STRATA_GOOGLE_ACCESS_TOKEN: TOKEN,
    STRATA_SHEETS_ROOT_URL: sheets.url,
    STRATA_DEMO_SPREADSHEET_ID: 'progress-sheet',
  };
});

afterAll(async () => {
  await sheets.close();
  rmSync(dir, { recursive: true, force: true });
});

/** Runs a command with stderr taken for a terminal of 100 columns. */
async function onTerminal(args: string[]) {
  const { isTTY, columns } = process.stderr;
  Object.assign(process.stderr, { isTTY: true, columns: 100 });
  try {
    return await strataInProcess(args, { env });
  } finally {
    Object.assign(process.stderr, { isTTY, columns });
  }
}

describe('strata sync progress', () => {
  it('rewrites one stderr line per step on a terminal, clears it, then prints the run', async () => {
    const r = await onTerminal(['sync', 'movie-status', '--project', dir]);
    expect(r.status, r.stderr).toBe(0);
    const lines = r.stderr.split('\r').filter((l) => l.trim() !== '');
    expect(lines[0]?.trimEnd()).toBe('sync movie-status: 0/1 querying');
    const writes = lines.slice(1).map((l) => l.trimEnd());
    expect(writes.length).toBeGreaterThan(1);
    expect(writes[0]).toMatch(
      /^sync movie-status: 1\/1 google_sheets env:STRATA_DEMO_SPREADSHEET_ID\/Movies, 0 API calls$/,
    );
    const calls = writes.map((l) => Number(/, (\d+) API calls$/.exec(l)?.[1]));
    expect(calls).toEqual([...calls].sort((a, b) => a - b));
    // The run's own report counts the same calls; the last progress line saw every one of them.
    const reported = Number(/(\d+) API calls/.exec(r.stdout)?.[1]);
    expect(calls.at(-1)).toBe(reported);
    expect(r.stderr.endsWith(`\r${' '.repeat(99)}\r`)).toBe(true);
    expect(r.stdout).toMatch(/^movie-status: succeeded, \d+ rows/);
  });

  it('prints no progress when stderr is not a terminal', async () => {
    const r = await strataInProcess(['sync', 'movie-status', '--project', dir], { env });
    expect(r.status, r.stderr).toBe(0);
    expect(r.stderr).toBe('');
  });
});
