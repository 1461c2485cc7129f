/** The `table` destination against the real local PostgreSQL. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SyncTable } from '../../src/destinations/destination.js';
import { DEFAULT_RETRY } from '../../src/destinations/http.js';
import { InMemoryRateLimiter } from '../../src/destinations/limiter.js';
import { TableDestination } from '../../src/destinations/table.js';
import type { Engine } from '../../src/engines/engine.js';
import { POSTGRES_URL, postgres, uniqueSchema } from '../support/databases.js';

const schema = uniqueSchema('dest');
const env = { BI_URL: POSTGRES_URL };
const ctx = (runId = 'run-1') => ({
  limiter: new InMemoryRateLimiter(),
  retry: DEFAULT_RETRY,
  runId,
  tracker: 't',
  env,
  log: { info: () => undefined, warn: () => undefined },
});

const columns: SyncTable['columns'] = [
  { name: 'id', label: 'ID', type: 'integer' },
  { name: 'name', label: 'Name', type: 'string' },
  { name: 'amount', label: 'Amount', type: 'decimal' },
  { name: 'ratio', label: 'Ratio', type: 'number' },
  { name: 'active', label: 'Active', type: 'boolean' },
  { name: 'day', label: 'Day', type: 'date' },
  { name: 'at', label: 'At', type: 'timestamp' },
];
const row = (id: number, name: string | null, amount = 10.5): SyncTable['rows'][number] => [
  id,
  name,
  amount,
  id / 3,
  id % 2 === 0,
  '2026-01-31',
  '2026-01-31T12:30:00.000Z',
];

let pg: Engine;
beforeAll(async () => {
  pg = await postgres();
});
afterAll(async () => {
  await pg.execute(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
  await pg.close();
});

const contents = async (table: string) =>
  (await pg.query(`SELECT * FROM ${schema}.${table} ORDER BY id`)).rows;

describe('table destination (PostgreSQL)', () => {
  it('replace creates typed columns and swaps a staging table in', async () => {
    const dest = new TableDestination(
      { type: 'table', connection: 'env:BI_URL', table: `${schema}.replaced` },
      { env },
    );
    await dest.write({ columns, rows: [row(1, 'a'), row(2, "o'k")] }, ctx());
    const types = await pg.query(
      `SELECT column_name, data_type FROM information_schema.columns WHERE table_schema = '${schema}' AND table_name = 'replaced' ORDER BY ordinal_position`,
    );
    expect(types.rows).toEqual([
      ['id', 'bigint'],
      ['name', 'text'],
      ['amount', 'numeric'],
      ['ratio', 'double precision'],
      ['active', 'boolean'],
      ['day', 'date'],
      ['at', 'timestamp without time zone'],
    ]);
    const result = await dest.write({ columns, rows: [row(3, 'c')] }, ctx('run-2'));
    expect(result).toMatchObject({ created: 1, deleted: 2 });
    expect(await contents('replaced')).toEqual([
      [3, 'c', 10.5, 1, false, '2026-01-31', '2026-01-31T12:30:00.000Z'],
    ]);
  });

  it('upsert writes only what changed, by key, and applies onMissing', async () => {
    const dest = new TableDestination(
      {
        type: 'table',
        connection: 'env:BI_URL',
        table: `${schema}.upserted`,
        mode: 'upsert',
        key: ['id'],
        onMissing: 'delete',
      },
      { env },
    );
    expect(await dest.write({ columns, rows: [row(1, 'a'), row(2, 'b'), row(3, 'c')] }, ctx())).toMatchObject(
      { created: 3, updated: 0, deleted: 0 },
    );
    const plan = await dest.plan({ columns, rows: [row(1, 'a'), row(2, 'B'), row(4, 'd')] });
    expect(plan).toMatchObject({ creates: 1, updates: 1, deletes: 1, unchanged: 1 });
    expect(
      await dest.write({ columns, rows: [row(1, 'a'), row(2, 'B'), row(4, 'd')] }, ctx('run-2')),
    ).toMatchObject({ created: 1, updated: 1, deleted: 1, unchanged: 1 });
    expect((await contents('upserted')).map((r) => [r[0], r[1]])).toEqual([
      [1, 'a'],
      [2, 'B'],
      [4, 'd'],
    ]);
    const keep = new TableDestination(
      {
        type: 'table',
        connection: 'env:BI_URL',
        table: `${schema}.upserted`,
        mode: 'upsert',
        key: ['id'],
        onMissing: 'keep',
      },
      { env },
    );
    expect(await keep.write({ columns, rows: [row(5, 'e')] }, ctx('run-3'))).toMatchObject({
      created: 1,
      deleted: 0,
      unchanged: 0,
    });
    expect((await contents('upserted')).length).toBe(4);
  });

  it('a duplicate key is refused before writing', async () => {
    const dest = new TableDestination(
      { type: 'table', connection: 'env:BI_URL', table: `${schema}.dups`, mode: 'upsert', key: ['name'] },
      { env },
    );
    await expect(dest.write({ columns, rows: [row(1, 'x'), row(2, 'x')] }, ctx())).rejects.toThrow(
      /appears twice/,
    );
  });

  it('append is idempotent for a retried run', async () => {
    const dest = new TableDestination(
      { type: 'table', connection: 'env:BI_URL', table: `${schema}.appended`, mode: 'append' },
      { env },
    );
    await dest.write({ columns, rows: [row(1, 'a')] }, ctx('run-1'));
    await dest.write({ columns, rows: [row(2, 'b')] }, ctx('run-2'));
    const retried = await dest.write({ columns, rows: [row(2, 'b')] }, ctx('run-2'));
    expect(retried).toMatchObject({ created: 0 });
    expect((await contents('appended')).map((r) => r[0])).toEqual([1, 2]);
  });

  it('readers never see a half-replaced table', async () => {
    const dest = new TableDestination(
      { type: 'table', connection: 'env:BI_URL', table: `${schema}.swapped` },
      { env },
    );
    const rows = (n: number) => Array.from({ length: 2000 }, (_, i) => row(i, `v${n}`));
    await dest.write({ columns, rows: rows(0) }, ctx());
    const writing = dest.write({ columns, rows: rows(1) }, ctx('run-2'));
    const seen = new Set<string>();
    for (let i = 0; i < 10_000 && seen.size < 2; i++) {
      const counts = await pg
        .query(`SELECT count(*), count(DISTINCT name), min(name) FROM ${schema}.swapped`)
        .catch(() => undefined);
      if (counts) {
        const [n, distinct, name] = counts.rows[0]!;
        expect([n, distinct]).toEqual([2000, 1]);
        seen.add(String(name));
      }
      if (seen.has('v1')) break;
    }
    await writing;
    expect(seen.has('v1')).toBe(true);
  });
});
