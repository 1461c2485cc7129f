/**
 * CDC over Iceberg: random change histories appended in random batches. The latest view
 * the compiler generates equals a brute-force reference, before and after compaction;
 * compaction leaves one row per live key in one file; appends racing with compaction are
 * never lost and nothing deleted comes back.
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

interface Change {
  id: number;
  val: string | null;
  _op: 'c' | 'u' | 'd' | 'r';
  _op_ts: string;
  _seq: number;
}

const TABLE = { namespace: 'raw', name: 'thing_changes' };
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

/** Changes in log order: `_seq` strictly increasing, `_op_ts` never decreasing (ties allowed). */
const history = fc
  .array(
    fc.record({
      id: fc.integer({ min: 1, max: 6 }),
      val: fc.option(fc.constantFrom('a', 'b', "c'd", 'é'), { nil: null }),
      _op: fc.constantFrom('c', 'u', 'u', 'd', 'r'),
      tick: fc.integer({ min: 0, max: 2 }),
    }),
    { minLength: 1, maxLength: 40 },
  )
  .map((events) => {
    let t = Date.UTC(2026, 0, 1);
    return events.map((e, i): Change => {
      t += e.tick * 1000;
      return {
        id: e.id,
        val: e.val,
        _op: e._op as Change['_op'],
        _op_ts: new Date(t).toISOString(),
        _seq: i + 1,
      };
    });
  });

/** The latest row per key by (_op_ts, _seq), deleted keys dropped. */
function reference(changes: Change[]): string[] {
  const latest = new Map<number, Change>();
  for (const c of changes) {
    const seen = latest.get(c.id);
    if (!seen || c._op_ts > seen._op_ts || (c._op_ts === seen._op_ts && c._seq > seen._seq))
      latest.set(c.id, c);
  }
  return [...latest.values()]
    .filter((c) => c._op !== 'd')
    .map((c) => JSON.stringify([c.id, c.val]))
    .sort();
}

function splitBatches(changes: Change[], cuts: number[]): Change[][] {
  const points = [...new Set(cuts.map((c) => c % changes.length))].sort((a, b) => a - b).filter((p) => p > 0);
  const batches: Change[][] = [];
  let start = 0;
  for (const p of [...points, changes.length]) {
    batches.push(changes.slice(start, p));
    start = p;
  }
  return batches.filter((b) => b.length > 0);
}

async function withWarehouse<T>(
  body: (ctx: {
    dir: string;
    warehouse: Warehouse;
    open: () => Promise<Warehouse>;
    latest: () => Promise<string[]>;
  }) => Promise<T>,
): Promise<T> {
  const dir = mkdtempSync(join(tmpdir(), 'strata-cdc-'));
  const closers: (() => Promise<void>)[] = [];
  const open = async () => {
    const duckdb = await DuckDbEngine.open({ path: ':memory:' });
    const catalog = SqliteCatalog.open(join(dir, 'catalog.db'));
    closers.push(async () => {
      await catalog.close();
      await duckdb.close();
    });
    return new Warehouse({ root: join(dir, 'warehouse'), catalog, duckdb: duckdb.rawConnection });
  };
  const { model } = buildModel([
    { path: 'thing.yaml', kind: 'source', text: SOURCE },
    { path: 'things.yaml', kind: 'input', text: INPUT },
  ]);
  const sql = new Compiler(model).compile('things', { dialect: 'duckdb' }).sql;
  const latest = async () => {
    const engine = await IcebergDuckDbEngine.open({
      root: join(dir, 'warehouse'),
      catalog: SqliteCatalog.open(join(dir, 'catalog.db')),
    });
    try {
      return (await collect(engine.stream(sql))).map((r) => JSON.stringify(r)).sort();
    } finally {
      await engine.close();
    }
  };
  try {
    const warehouse = await open();
    await warehouse.createTable(TABLE, [
      { name: 'id', type: 'long' },
      { name: 'val', type: 'string' },
      { name: '_op', type: 'string' },
      { name: '_op_ts', type: 'timestamp' },
      { name: '_seq', type: 'long' },
    ]);
    return await body({ dir, warehouse, open, latest });
  } finally {
    for (const close of closers) await close();
    rmSync(dir, { recursive: true, force: true });
  }
}

const source = () =>
  buildModel([{ path: 'thing.yaml', kind: 'source', text: SOURCE }]).model.sources.get('thing')!;

describe('CDC latest view over Iceberg', () => {
  it('equals the reference before and after compaction; compaction keeps one row per live key in one file', async () => {
    await fc.assert(
      fc.asyncProperty(history, fc.array(fc.nat(), { maxLength: 4 }), async (changes, cuts) =>
        withWarehouse(async ({ warehouse, latest }) => {
          for (const batch of splitBatches(changes, cuts))
            await warehouse.appendRows(TABLE, batch as unknown as Record<string, unknown>[]);
          const expected = reference(changes);
          expect(await latest()).toEqual(expected);
          const result = await compactSource(warehouse, source());
          expect(await latest()).toEqual(expected);
          const { files } = await warehouse.planFiles(await warehouse.load(TABLE));
          expect(files.reduce((n, f) => n + f.recordCount, 0)).toBe(expected.length);
          expect(files.length).toBeLessThanOrEqual(1);
          expect(result.rowsAfter).toBe(expected.length);
        }),
      ),
      { numRuns: 25 },
    );
  });

  it('appends racing with compaction lose nothing and resurrect nothing', async () => {
    await fc.assert(
      fc.asyncProperty(history, history, fc.nat({ max: 3 }), async (before, later, delay) =>
        withWarehouse(async ({ warehouse, open, latest }) => {
          await warehouse.appendRows(TABLE, before as unknown as Record<string, unknown>[]);
          // Later changes come after `before` in the log.
          const shifted = later.map((c, i) => ({
            ...c,
            _seq: before.length + i + 1,
            _op_ts: new Date(Date.parse(c._op_ts) + 86_400_000).toISOString(),
          }));
          const writer = await open();
          const compactor = await open();
          const appends = (async () => {
            for (const batch of splitBatches(shifted, [3, 7, 13])) {
              await new Promise((r) => setTimeout(r, delay));
              await writer.appendRows(TABLE, batch as unknown as Record<string, unknown>[]);
            }
          })();
          await Promise.all([appends, compactSource(compactor, source())]);
          expect(await latest()).toEqual(reference([...before, ...shifted]));
        }),
      ),
      { numRuns: 15 },
    );
  });
});
