/**
 * Appends to several tables as one change (the CDC sink's commits): every table gets its
 * snapshot with the summary properties given, all or none become current in one catalog
 * transaction, a lost swap retries on the new versions, and a guard can abandon the append.
 * On both catalogs (SQLite, and the local PostgreSQL).
 */
import { afterEach, describe, expect, it } from 'vitest';
import { CommitConflictError, type Warehouse } from '../../src/warehouse/table.js';
import { TestEnvironment, type CatalogKind } from './support.js';

const COLUMNS = [
  { name: 'id', type: 'long' as const },
  { name: 'name', type: 'string' as const },
];
const a = { namespace: 'raw', name: 'a' };
const b = { namespace: 'raw', name: 'b' };

describe.each<CatalogKind>(['sqlite', 'postgres'])('atomic appends (%s catalog)', (kind) => {
  let env: TestEnvironment;

  async function setup(options: Parameters<TestEnvironment['warehouse']>[0] = {}): Promise<Warehouse> {
    env = await TestEnvironment.create(kind);
    const warehouse = await env.warehouse(options);
    await warehouse.createTable(a, COLUMNS);
    await warehouse.createTable(b, COLUMNS);
    return warehouse;
  }

  afterEach(async () => env?.dispose());

  const rowsOf = async (warehouse: Warehouse, id: typeof a) => {
    const state = await warehouse.load(id);
    return (await warehouse.planFiles(state)).files.reduce((n, f) => n + f.recordCount, 0);
  };

  it('commits every table, each snapshot carrying the properties', async () => {
    const warehouse = await setup();
    const outcome = await warehouse.appendAtomically([
      { id: a, rows: [{ id: 1, name: 'x' }], properties: { 'strata.seq': '10' } },
      {
        id: b,
        rows: [
          { id: 2, name: 'y' },
          { id: 3, name: 'z' },
        ],
        properties: { 'strata.seq': '10' },
      },
    ]);
    expect(outcome).toBe('committed');
    expect(await rowsOf(warehouse, a)).toBe(1);
    expect(await rowsOf(warehouse, b)).toBe(2);
    for (const id of [a, b]) expect((await warehouse.load(id)).snapshot!.summary['strata.seq']).toBe('10');
  });

  it("keeps the properties through later commits that do not set them (a compaction's)", async () => {
    const warehouse = await setup();
    await warehouse.appendAtomically([{ id: a, rows: [{ id: 1 }], properties: { 'strata.seq': '7' } }]);
    await warehouse.appendRows(a, [{ id: 2 }]);
    expect((await warehouse.load(a)).snapshot!.summary['strata.seq']).toBe('7');
  });

  it('retries on the new versions when another writer commits in between', async () => {
    let raced = false;
    const warehouse = await setup({
      beforeSwap: async ({ attempt }) => {
        if (attempt > 0 || raced) return;
        raced = true;
        await other.appendRows(b, [{ id: 99, name: 'other writer' }]);
      },
    });
    const other = await env.warehouse();
    expect(
      await warehouse.appendAtomically([
        { id: a, rows: [{ id: 1 }] },
        { id: b, rows: [{ id: 2 }] },
      ]),
    ).toBe('committed');
    expect(raced).toBe(true);
    expect(await rowsOf(warehouse, a)).toBe(1);
    expect(await rowsOf(warehouse, b)).toBe(2);
  });

  it('makes no table current when the swap of one of them is lost for good', async () => {
    const warehouse = await setup({
      commitRetries: 0,
      beforeSwap: async () => {
        await other.appendRows(b, [{ id: 99 }]);
      },
    });
    const other = await env.warehouse();
    await expect(
      warehouse.appendAtomically([
        { id: a, rows: [{ id: 1 }] },
        { id: b, rows: [{ id: 2 }] },
      ]),
    ).rejects.toBeInstanceOf(CommitConflictError);
    expect((await warehouse.load(a)).snapshot).toBeUndefined();
    expect(await rowsOf(warehouse, b)).toBe(1);
  });

  it('a guard that finds the rows committed already abandons the append', async () => {
    const warehouse = await setup();
    const append = [{ id: a, rows: [{ id: 1 }], properties: { 'strata.seq': '5' } }];
    const notYet = (current: ReadonlyMap<string, Awaited<ReturnType<Warehouse['load']>>>) =>
      Number(current.get('raw.a')!.snapshot?.summary['strata.seq'] ?? -1) < 5;
    expect(await warehouse.appendAtomically(append, notYet)).toBe('committed');
    expect(await warehouse.appendAtomically(append, notYet)).toBe('skipped');
    expect(await rowsOf(warehouse, a)).toBe(1);
  });
});
