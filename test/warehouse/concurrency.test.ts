/**
 * Concurrent writers on one table: several Warehouse instances, separate processes, overwrites
 * racing appends, and a writer killed between writing its files and the catalog swap.
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  CommitConflictError,
  Warehouse,
  fromUri,
  readParquetSql,
  type Snapshot,
  type TableIdentifier,
  type TableState,
} from '../../src/warehouse/index.js';
import type { WriterTask } from './fixtures/writer.js';
import {
  readWithDuckDb,
  readWithIcebird,
  serveFileUrls,
  TestEnvironment,
  type CatalogKind,
} from './support.js';

const REPO_ROOT = fileURLToPath(new URL('../..', import.meta.url));
const WRITER = fileURLToPath(new URL('./fixtures/writer.ts', import.meta.url));
const id: TableIdentifier = { namespace: 'events', name: 'clicks' };
const COLUMNS = [
  { name: 'id', type: 'long' as const, required: true },
  { name: 'name', type: 'string' as const },
];

let restoreFetch: () => void;
beforeAll(() => {
  restoreFetch = serveFileUrls();
});
afterAll(() => restoreFetch());

function idsSql(first: number, count: number, name = 'x'): string {
  return `SELECT ${first} + range AS id, '${name}' AS name FROM range(${count})`;
}

function range(first: number, count: number): number[] {
  return Array.from({ length: count }, (_, i) => first + i);
}

async function ids(warehouse: Warehouse, state?: TableState): Promise<number[]> {
  const current = state ?? (await warehouse.load(id));
  const { files, schema } = await warehouse.planFiles(current);
  const duckdb = await warehouseDuckDb;
  const reader = await duckdb.runAndReadAll(`SELECT id FROM (${readParquetSql(files, schema)}) ORDER BY id`);
  return reader.getRows().map(([value]) => Number(value));
}

let warehouseDuckDb: ReturnType<TestEnvironment['duckdb']>;

/** The snapshots from the current one back to the first: sequence numbers must strictly decrease to 1. */
function history(state: TableState): number[] {
  const bySnapshot = new Map(state.metadata.snapshots.map((s) => [String(s['snapshot-id']), s]));
  const sequence: number[] = [];
  let cursor = bySnapshot.get(String(state.snapshot?.snapshotId));
  while (cursor) {
    sequence.push(cursor['sequence-number']);
    const parent = cursor['parent-snapshot-id'];
    cursor = parent === undefined ? undefined : bySnapshot.get(String(parent));
  }
  return sequence;
}

function runWriter(
  task: WriterTask,
): Promise<{ code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', WRITER, JSON.stringify(task)], {
      cwd: REPO_ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.on('error', reject);
    child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr }));
  });
}

describe.each<CatalogKind>(['sqlite', 'postgres'])('concurrent writers with a %s catalog', (kind) => {
  let env: TestEnvironment;

  beforeEach(async () => {
    env = await TestEnvironment.create(kind);
    warehouseDuckDb = env.duckdb();
  });
  afterEach(async () => env.dispose());

  it('loses no append from several Warehouse instances racing', async () => {
    const writers = await Promise.all(range(0, 4).map(() => env.warehouse()));
    await writers[0]!.createTable(id, COLUMNS);
    const appends = 6;
    const rows = 25;
    const results = await Promise.all(
      writers.map(async (writer, w) => {
        const snapshots: Snapshot[] = [];
        for (let i = 0; i < appends; i++)
          snapshots.push(await writer.appendQuery(id, idsSql((w * appends + i) * rows, rows)));
        return snapshots;
      }),
    );
    const state = await writers[0]!.load(id);
    expect(await ids(writers[0]!, state)).toEqual(range(0, writers.length * appends * rows));
    const total = writers.length * appends;
    expect(history(state)).toEqual(range(1, total).reverse());
    expect(state.metadata['last-sequence-number']).toBe(total);
    expect(state.snapshot?.summary['total-records']).toBe(String(total * rows));
    // Each writer saw its own commits land in order.
    for (const snapshots of results) {
      const sequence = snapshots.map((s) => s.sequenceNumber);
      expect(sequence).toEqual([...sequence].sort((a, b) => a - b));
    }
    const mine = await readWithDuckDb(writers[0]!, await warehouseDuckDb, state);
    expect(await readWithIcebird(state)).toEqual(mine);
  });

  it('keeps rows appended while an overwrite commits, and rebases the overwrite on them', async () => {
    const appender = await env.warehouse();
    let armed = false;
    let raced = false;
    const compactor = await env.warehouse({
      // Land an append between the overwrite writing its files and swapping them in.
      beforeSwap: async () => {
        if (!armed || raced) return;
        raced = true;
        await appender.appendQuery(id, idsSql(1000, 10));
      },
    });
    await compactor.createTable(id, COLUMNS);
    await compactor.appendQuery(id, idsSql(0, 10));
    await compactor.appendQuery(id, idsSql(10, 10));
    const base = await compactor.load(id);
    const { files, schema } = await compactor.planFiles(base);
    // The compaction keeps even ids only: the odd ones are superseded and must not come back.
    armed = true;
    const overwrite = await compactor.overwrite(
      id,
      files,
      `SELECT * FROM (${readParquetSql(files, schema)}) WHERE id % 2 = 0`,
      base.snapshot!,
    );
    expect(raced).toBe(true);
    const state = await compactor.load(id);
    expect(overwrite.sequenceNumber).toBe(4);
    expect(overwrite.parentSnapshotId).not.toEqual(base.snapshot?.snapshotId);
    expect(await ids(compactor, state)).toEqual([
      ...range(0, 20).filter((n) => n % 2 === 0),
      ...range(1000, 10),
    ]);
    expect(overwrite.summary).toMatchObject({
      'deleted-records': '20',
      'added-records': '10',
      'total-records': '20',
    });
    expect(history(state)).toEqual([4, 3, 2, 1]);
  });

  it('lets only one of two overwrites of the same files commit', async () => {
    const other = await env.warehouse();
    const setup = await env.warehouse();
    await setup.createTable(id, COLUMNS);
    await setup.appendQuery(id, idsSql(0, 10));
    const base = await setup.load(id);
    const { files, schema } = await setup.planFiles(base);
    let winner: Snapshot | undefined;
    const loser = await env.warehouse({
      beforeSwap: async () => {
        winner ??= await other.overwrite(
          id,
          files,
          `SELECT * FROM (${readParquetSql(files, schema)}) WHERE id < 5`,
          base.snapshot!,
        );
      },
    });
    const attempt = loser.overwrite(
      id,
      files,
      `SELECT * FROM (${readParquetSql(files, schema)}) WHERE id >= 5`,
      base.snapshot!,
    );
    await expect(attempt).rejects.toBeInstanceOf(CommitConflictError);
    expect(winner?.sequenceNumber).toBe(2);
    expect(await ids(setup)).toEqual(range(0, 5));
    expect((await setup.removeOrphanFiles(id, { olderThanMs: Date.now() + 60_000 })).removed).toEqual([]);
  });

  it('never loses or resurrects rows when compactions race appends', async () => {
    const writers = await Promise.all(range(0, 3).map(() => env.warehouse()));
    const compactor = await env.warehouse();
    await compactor.createTable(id, COLUMNS);
    let next = 0;
    const appended: number[] = [];
    const appendLoop = async (writer: Warehouse): Promise<void> => {
      for (let i = 0; i < 5; i++) {
        const first = next;
        next += 7;
        await writer.appendQuery(id, idsSql(first, 7));
        appended.push(...range(first, 7));
      }
    };
    let compactions = 0;
    let appending = true;
    const compactLoop = async (): Promise<void> => {
      while (appending || compactions === 0) {
        const state = await compactor.load(id);
        const { files, schema } = await compactor.planFiles(state);
        if (files.length < 2) {
          await new Promise((resolve) => setTimeout(resolve, 5));
          continue;
        }
        // A pure rewrite (as CDC compaction of an unchanged latest view): same rows, fewer files.
        // Appends never invalidate a compaction (it rebases onto them); it may only run out of retries.
        const sql = `SELECT * FROM (${readParquetSql(files, schema)})`;
        try {
          await compactor.overwrite(id, files, sql, state.snapshot!);
          compactions++;
        } catch (error) {
          if (!(error instanceof CommitConflictError && error.reason === 'retries-exhausted')) throw error;
        }
      }
    };
    const appends = Promise.all(writers.map(appendLoop)).finally(() => (appending = false));
    await Promise.all([appends, compactLoop()]);
    expect(compactions).toBeGreaterThan(0);
    const state = await compactor.load(id);
    expect(await ids(compactor, state)).toEqual([...appended].sort((a, b) => a - b));
    expect(history(state)).toEqual(range(1, state.metadata['last-sequence-number']).reverse());
    expect(await readWithIcebird(state)).toEqual(
      await readWithDuckDb(compactor, await warehouseDuckDb, state),
    );
  });
});

describe('writers in separate processes (sqlite catalog)', () => {
  let env: TestEnvironment;

  beforeEach(async () => {
    env = await TestEnvironment.create('sqlite');
    warehouseDuckDb = env.duckdb();
  });
  afterEach(async () => env.dispose());

  function task(overrides: Partial<WriterTask>): WriterTask {
    return {
      mode: 'append',
      root: env.root,
      sqlitePath: env.sqlitePath,
      catalogName: env.catalogName,
      namespace: id.namespace,
      table: id.name,
      firstId: 0,
      appends: 1,
      rows: 10,
      ...overrides,
    };
  }

  it('loses no commit from two processes appending at once', async () => {
    const warehouse = await env.warehouse();
    await warehouse.createTable(id, COLUMNS);
    const [a, b] = await Promise.all([
      runWriter(task({ firstId: 0, appends: 8 })),
      runWriter(task({ firstId: 10_000, appends: 8 })),
    ]);
    for (const result of [a, b]) expect(result, result.stderr).toMatchObject({ code: 0 });
    const sequences = [a, b].flatMap(
      (r) => (JSON.parse(r.stdout) as { sequenceNumbers: number[] }).sequenceNumbers,
    );
    expect(sequences.sort((x, y) => x - y)).toEqual(range(1, 16));
    const state = await warehouse.load(id);
    expect(await ids(warehouse, state)).toEqual([...range(0, 80), ...range(10_000, 80)]);
    expect(history(state)).toEqual(range(1, 16).reverse());
  }, 30_000);

  it('leaves the table at its previous snapshot when a writer dies before the swap', async () => {
    const warehouse = await env.warehouse();
    await warehouse.createTable(id, COLUMNS);
    await warehouse.appendQuery(id, idsSql(0, 10));
    const before = await warehouse.load(id);
    const startedAt = Date.now();

    const crashed = await runWriter(task({ mode: 'crash', firstId: 500 }));
    expect(crashed.signal).toBe('SIGKILL');

    const after = await warehouse.load(id);
    expect(after.metadataLocation).toBe(before.metadataLocation);
    expect(after.snapshot?.snapshotId).toEqual(before.snapshot?.snapshotId);
    expect(await ids(warehouse, after)).toEqual(range(0, 10));
    expect(await readWithIcebird(after)).toEqual(
      await readWithDuckDb(warehouse, await warehouseDuckDb, after),
    );

    // Recent files are spared (a live commit may be about to reference them)...
    expect((await warehouse.removeOrphanFiles(id, { olderThanMs: startedAt - 60_000 })).removed).toEqual([]);
    // ...older leftovers are not: the data file, manifest, manifest list and metadata file.
    const { removed } = await warehouse.removeOrphanFiles(id, { olderThanMs: Date.now() + 60_000 });
    const kinds = removed.map((path) =>
      path.endsWith('.parquet')
        ? 'data'
        : path.endsWith('.metadata.json')
          ? 'metadata'
          : /\/snap-/.test(path)
            ? 'list'
            : 'manifest',
    );
    expect(kinds.sort()).toEqual(['data', 'list', 'manifest', 'metadata']);
    for (const path of removed) expect(existsSync(path)).toBe(false);
    expect(existsSync(fromUri(before.metadataLocation))).toBe(true);
    expect(await ids(warehouse)).toEqual(range(0, 10));

    // And the table takes new commits as usual.
    await warehouse.appendQuery(id, idsSql(10, 5));
    expect(await ids(warehouse)).toEqual(range(0, 15));
  }, 30_000);
});
