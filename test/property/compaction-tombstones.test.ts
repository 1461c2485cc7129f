/**
 * Compaction never lets a late change resurrect a deleted key (spec §8, docs/warehouse.md):
 * random change events arrive in a random order (so an event older by (`_op_ts`, `_seq`) than
 * what is already stored can arrive after a compaction), in random batches, with compactions
 * between random batches. After every step the latest view the compiler generates equals a
 * brute-force reference over every event that arrived: per key the greatest (`_op_ts`,
 * `_seq`), keys whose latest event is a delete dropped. The deletes are within the tombstone
 * retention (the clock is injected); one example shows what happens past it.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { compactSource } from '../../src/cdc/compaction.js';
import { Compiler } from '../../src/core/compile.js';
import { buildModel } from '../../src/core/model/build.js';
import { DuckDbEngine } from '../../src/engines/duckdb.js';
import { collect } from '../../src/engines/engine.js';
import { IcebergDuckDbEngine } from '../../src/engines/iceberg-duckdb.js';
import { SqliteCatalog } from '../../src/warehouse/catalog.js';
import { Warehouse } from '../../src/warehouse/table.js';
import { RAW_COLUMNS, TABLE, type Change } from '../cdc/support.js';

const SOURCE = `name: thing
table: raw.thing_changes
primaryKey: id
cdc:
  orderBy: [_op_ts, _seq]
  deletedWhen: "_op = 'd'"
fields:
  - { name: id, type: integer }
  - { name: val, type: string }
`;
const INPUT = 'name: things\nfrom: thing\nfields: [thing.id, thing.val]\n';
const { model } = buildModel([
  { path: 'thing.yaml', kind: 'source', text: SOURCE },
  { path: 'things.yaml', kind: 'input', text: INPUT },
]);
const source = model.sources.get('thing')!;
const SQL = new Compiler(model).compile('things', { dialect: 'duckdb' }).sql;

const BASE = Date.UTC(2026, 0, 1);
const DAY = 24 * 3600_000;

/**
 * Events in arrival order. `_op_ts` is random (ties common), `_seq` a random permutation: an
 * event that arrives later may well be older by (`_op_ts`, `_seq`) than one already stored.
 */
const arrivals = fc
  .array(
    fc.record({
      id: fc.integer({ min: 1, max: 4 }),
      op: fc.constantFrom<Change['_op']>('c', 'u', 'd', 'd', 'r'),
      second: fc.integer({ min: 0, max: 8 }),
      order: fc.double({ min: 0, max: 1, noNaN: true }),
    }),
    { minLength: 1, maxLength: 24 },
  )
  .map((events) => {
    const seqs = events
      .map((e, i) => ({ i, order: e.order }))
      .sort((a, b) => a.order - b.order || a.i - b.i)
      .map(({ i }, rank) => [i, rank + 1] as const);
    const seqOf = new Map(seqs);
    return events.map((e, i): Change => ({
      id: e.id,
      val: `v${i}`,
      _op: e.op,
      _op_ts: new Date(BASE + e.second * 1000).toISOString(),
      _seq: seqOf.get(i)!,
    }));
  });

/** Batches in arrival order, each followed by a compaction or not. */
const steps = fc
  .tuple(
    arrivals,
    fc.array(fc.tuple(fc.integer({ min: 1, max: 6 }), fc.boolean()), { minLength: 1, maxLength: 8 }),
  )
  .map(([events, plan]) => {
    const out: { batch: Change[]; compact: boolean }[] = [];
    let start = 0;
    for (const [size, compact] of plan) {
      if (start >= events.length) break;
      out.push({ batch: events.slice(start, start + size), compact });
      start += size;
    }
    if (start < events.length) out.push({ batch: events.slice(start), compact: true });
    return out;
  });

const newer = (a: Change, b: Change) => a._op_ts > b._op_ts || (a._op_ts === b._op_ts && a._seq > b._seq);

/** The latest view by brute force. */
function reference(changes: readonly Change[]): string[] {
  const latest = new Map<number, Change>();
  for (const c of changes) {
    const seen = latest.get(c.id);
    if (!seen || newer(c, seen)) latest.set(c.id, c);
  }
  return [...latest.values()]
    .filter((c) => c._op !== 'd')
    .map((c) => JSON.stringify([c.id, c.val]))
    .sort();
}

async function withTable<T>(
  body: (ctx: { warehouse: Warehouse; latest: () => Promise<string[]> }) => Promise<T>,
): Promise<T> {
  const dir = mkdtempSync(join(tmpdir(), 'strata-tombstones-'));
  const duckdb = await DuckDbEngine.open({ path: ':memory:' });
  const catalog = SqliteCatalog.open(join(dir, 'catalog.db'));
  const warehouse = new Warehouse({ root: join(dir, 'warehouse'), catalog, duckdb: duckdb.rawConnection });
  await warehouse.createTable(TABLE, RAW_COLUMNS);
  const engine = await IcebergDuckDbEngine.open({
    root: join(dir, 'warehouse'),
    catalog: SqliteCatalog.open(join(dir, 'catalog.db')),
  });
  const latest = async () => (await collect(engine.stream(SQL))).map((r) => JSON.stringify(r)).sort();
  try {
    return await body({ warehouse, latest });
  } finally {
    await engine.close();
    await catalog.close();
    await duckdb.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

const rows = (changes: Change[]) => changes as unknown as Record<string, unknown>[];

describe('compaction tombstones', () => {
  it('late changes older than a compacted delete never bring its key back', async () => {
    await fc.assert(
      fc.asyncProperty(steps, async (plan) =>
        withTable(async ({ warehouse, latest }) => {
          const arrived: Change[] = [];
          // Every event is a day old at most: well within the 30-day default retention.
          const options = { now: () => BASE + DAY };
          for (const { batch, compact } of plan) {
            await warehouse.appendRows(TABLE, rows(batch));
            arrived.push(...batch);
            if (compact) await compactSource(warehouse, source, options);
            expect(await latest()).toEqual(reference(arrived));
          }
        }),
      ),
      { numRuns: 20 },
    );
  });

  it('drops deletes past the tombstone retention (a change older than such a delete would return)', async () => {
    await withTable(async ({ warehouse, latest }) => {
      const created = { id: 1, val: 'a', _op: 'c', _op_ts: new Date(BASE).toISOString(), _seq: 1 } as const;
      const deleted = { ...created, _op: 'd', _op_ts: new Date(BASE + 2000).toISOString(), _seq: 2 } as const;
      const late = {
        ...created,
        val: 'late',
        _op: 'u',
        _op_ts: new Date(BASE + 1000).toISOString(),
        _seq: 3,
      } as const;
      await warehouse.appendRows(TABLE, rows([created, deleted]));
      // Within the retention: the delete stays as the key's only row.
      const kept = await compactSource(warehouse, source, { now: () => BASE + DAY });
      expect(kept.rowsAfter).toBe(1);
      await warehouse.appendRows(TABLE, rows([late]));
      expect(await latest()).toEqual([]);
      // Past it (a week's retention, 8 days later): the delete goes, and the latest view is unchanged...
      const dropped = await compactSource(warehouse, source, {
        now: () => BASE + 8 * DAY,
        tombstoneRetentionMs: 7 * DAY,
      });
      expect(dropped.rowsAfter).toBe(0);
      expect(await latest()).toEqual([]);
      // ...but a change older than the delete arriving now is no longer superseded.
      await warehouse.appendRows(TABLE, rows([{ ...late, _seq: 4 }]));
      expect(await latest()).toEqual(['[1,"late"]']);
    });
  });
});
