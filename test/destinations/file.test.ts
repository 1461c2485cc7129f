/** The `file` destination: csv, json and parquet extracts, written then renamed. */
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { SyncTable } from '../../src/destinations/destination.js';
import { FileDestination } from '../../src/destinations/file.js';
import { DEFAULT_RETRY } from '../../src/destinations/http.js';
import { InMemoryRateLimiter } from '../../src/destinations/limiter.js';
import { memoryDuckDb } from '../support/databases.js';

const dir = mkdtempSync(join(tmpdir(), 'strata-files-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const ctx = {
  limiter: new InMemoryRateLimiter(),
  retry: DEFAULT_RETRY,
  runId: 'r1',
  tracker: 't',
  env: {},
  log: { info: () => undefined, warn: () => undefined },
};
const table: SyncTable = {
  columns: [
    { name: 'title', label: 'Title', type: 'string' },
    { name: 'budget', label: 'Budget', type: 'decimal', format: '$#,##0' },
    { name: 'launch', label: 'Launch', type: 'date' },
    { name: 'at', label: 'At', type: 'timestamp' },
    { name: 'active', label: 'Active', type: 'boolean' },
  ],
  rows: [
    ['Alpha, "the"', 1234.5, '2026-01-31', '2026-01-31T12:00:00.000Z', true],
    [null, null, null, null, null],
  ],
};

describe('file destination', () => {
  it('csv: names as header, raw values', async () => {
    await new FileDestination({ type: 'file', path: 'out/a.csv' }, { baseDir: dir }).write(table, ctx);
    expect(readFileSync(join(dir, 'out/a.csv'), 'utf8')).toBe(
      'title,budget,launch,at,active\n"Alpha, ""the""",1234.5,2026-01-31,2026-01-31T12:00:00.000Z,true\n,,,,\n',
    );
  });

  it('csv: text cells a spreadsheet would run as formulas are escaped, numbers never; opt out per file', async () => {
    const risky: SyncTable = {
      columns: [
        { name: 'note', label: 'Note', type: 'string' },
        { name: 'delta', label: 'Delta', type: 'integer' },
      ],
      rows: [
        ['=HYPERLINK("http://evil.example","x")', -5],
        ['+1', 1],
        ['-2', -2],
        ['@SUM(A1)', 0],
        ['\t=1', 0],
        ['plain = text', 3],
      ],
    };
    await new FileDestination({ type: 'file', path: 'out/risky.csv' }, { baseDir: dir }).write(risky, ctx);
    expect(readFileSync(join(dir, 'out/risky.csv'), 'utf8')).toBe(
      'note,delta\n"\'=HYPERLINK(""http://evil.example"",""x"")",-5\n\'+1,1\n\'-2,-2\n\'@SUM(A1),0\n\'\t=1,0\nplain = text,3\n',
    );
    await new FileDestination(
      { type: 'file', path: 'out/raw.csv', escapeFormulas: false },
      { baseDir: dir },
    ).write(risky, ctx);
    expect(readFileSync(join(dir, 'out/raw.csv'), 'utf8')).toContain('\n+1,1\n-2,-2\n@SUM(A1),0\n');
    // Other formats keep values as they are.
    await new FileDestination({ type: 'file', path: 'out/risky.json' }, { baseDir: dir }).write(risky, ctx);
    expect(JSON.parse(readFileSync(join(dir, 'out/risky.json'), 'utf8'))[1]).toEqual({
      note: '+1',
      delta: 1,
    });
  });

  it('json: row objects with typed values', async () => {
    await new FileDestination({ type: 'file', path: 'out/a.json' }, { baseDir: dir }).write(table, ctx);
    expect(JSON.parse(readFileSync(join(dir, 'out/a.json'), 'utf8'))).toEqual([
      {
        title: 'Alpha, "the"',
        budget: 1234.5,
        launch: '2026-01-31',
        at: '2026-01-31T12:00:00.000Z',
        active: true,
      },
      { title: null, budget: null, launch: null, at: null, active: null },
    ]);
  });

  it('parquet: typed columns that DuckDB reads back', async () => {
    await new FileDestination(
      { type: 'file', path: 'out/a.parquet', format: 'parquet' },
      { baseDir: dir },
    ).write(table, ctx);
    const duck = await memoryDuckDb();
    try {
      const path = join(dir, 'out/a.parquet');
      const { rows } = await duck.query(`SELECT * FROM '${path}'`);
      expect(rows).toEqual([
        ['Alpha, "the"', 1234.5, '2026-01-31', '2026-01-31T12:00:00.000Z', true],
        [null, null, null, null, null],
      ]);
      const types = await duck.query(`SELECT column_type FROM (DESCRIBE SELECT * FROM '${path}')`);
      expect(types.rows.map((r) => r[0])).toEqual([
        'VARCHAR',
        'DECIMAL(38,9)',
        'DATE',
        'TIMESTAMP',
        'BOOLEAN',
      ]);
    } finally {
      await duck.close();
    }
  });

  it('leaves no temporary file behind and an unknown extension needs a format', () => {
    expect(readdirSync(join(dir, 'out')).filter((f) => f.endsWith('.tmp'))).toEqual([]);
    expect(() => new FileDestination({ type: 'file', path: 'out/a.txt' }, { baseDir: dir })).toThrow(
      /add format/,
    );
    expect(existsSync(join(dir, 'out/a.csv'))).toBe(true);
  });
});
