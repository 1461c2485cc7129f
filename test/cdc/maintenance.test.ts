/**
 * Warehouse maintenance (`maintainTable`, what `strata maintain` and the scheduled jobs run):
 * every answer stays the same; only files nothing references are removed (the referenced set
 * read independently of the warehouse code); snapshots pinned by a running query and a
 * pipeline's committed position survive expiry; small manifests become one `replace`
 * snapshot with the same data files. Retention cutoffs come from an injected clock (a month
 * ahead), never from waiting.
 */
import { existsSync, utimesSync, writeFileSync } from 'node:fs';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { maintainTable, maintenanceTargets, settingsFor } from '../../src/cdc/maintenance.js';
import { Compiler } from '../../src/core/compile.js';
import { collect } from '../../src/engines/engine.js';
import { openEngine } from '../../src/engines/open-engine.js';
import type { WritableWarehouse } from '../../src/engines/warehouse-location.js';
import { positionIn } from '../../src/pipelines/sink.js';
import { loadProject } from '../../src/project/load-project.js';
import { readManifestList } from '../../src/warehouse/manifest.js';
import { pinSnapshots, pinsDirectory } from '../../src/warehouse/pins.js';
import type { Warehouse } from '../../src/warehouse/table.js';
import { readWithDuckDb, readWithIcebird, serveFileUrls } from '../warehouse/support.js';
import {
  allFiles,
  createCdcProject,
  RAW_COLUMNS,
  referencedFiles,
  TABLE,
  type CdcProject,
  type Change,
} from './support.js';

const MONTH_MS = 30 * 24 * 3600_000;
/** A month from now: every snapshot and file written by the test is past the 7-day retention. */
const later = () => Date.now() + MONTH_MS;

let project: CdcProject;
let opened: WritableWarehouse;
let warehouse: Warehouse;

beforeEach(async () => {
  project = createCdcProject();
  opened = await project.open();
  warehouse = opened.warehouse;
  await warehouse.createTable(TABLE, RAW_COLUMNS);
});

afterEach(async () => {
  await opened.close();
  project.cleanup();
});

function target() {
  const { model, config } = loadProject(project.dir);
  const found = maintenanceTargets(model).find((t) => t.table === 'raw.thing_changes')!;
  return { target: found, settings: settingsFor(found, config) };
}

function change(id: number, op: Change['_op'], seq: number, val: string | null = `v${seq}`): Change {
  return { id, val, _op: op, _op_ts: new Date(Date.UTC(2026, 0, 1) + seq * 1000).toISOString(), _seq: seq };
}

/** Appends changes in small batches, each batch one snapshot. */
async function append(changes: Change[], batch = 3): Promise<void> {
  for (let i = 0; i < changes.length; i += batch)
    await warehouse.appendRows(TABLE, changes.slice(i, i + batch) as unknown as Record<string, unknown>[]);
}

/** A history with updates, deletes and a re-created key; compacted once halfway (superseded files). */
async function buildHistory(): Promise<void> {
  await append([
    change(1, 'c', 1),
    change(2, 'c', 2),
    change(3, 'c', 3),
    change(1, 'u', 4),
    change(2, 'd', 5),
    change(4, 'c', 6),
  ]);
  const { target: t, settings } = target();
  await maintainTable(warehouse, t, settings);
  await append([change(3, 'u', 7), change(4, 'd', 8), change(2, 'c', 9), change(5, 'r', 10)]);
}

const tableDir = () => join(project.root, TABLE.namespace, TABLE.name);

describe('warehouse maintenance', () => {
  it('keeps every answer identical and removes only files nothing references', async () => {
    await buildHistory();
    // Leftovers of crashed commits: unreferenced, old.
    const orphans = [
      join(tableDir(), 'data', 'crashed.parquet'),
      join(tableDir(), 'metadata', 'crashed-m0.avro'),
    ];
    for (const path of orphans) writeFileSync(path, 'left by a crash');
    const answers = await project.answers();
    expect(answers).toEqual(['[1,"v4"]', '[2,"v9"]', '[3,"v7"]', '[5,"v10"]']);
    const before = allFiles(tableDir());

    const { target: t, settings } = target();
    const result = await maintainTable(warehouse, t, settings, { now: later });

    expect(await project.answers()).toEqual(answers);
    const state = await warehouse.load(TABLE);
    const referenced = await referencedFiles(state.metadataLocation);
    const after = allFiles(tableDir());
    expect(result.expiredSnapshots).toBeGreaterThan(0);
    expect(result.compaction?.committed).toBe(true);
    expect(result.newSnapshot).toBe(true);
    // Only unreferenced files went, and they are gone.
    for (const path of result.removedFiles) {
      expect(referenced.has(path), path).toBe(false);
      expect(existsSync(path), path).toBe(false);
    }
    // Everything past the retention that nothing references went: what is left is referenced.
    expect(after.filter((path) => !referenced.has(path))).toEqual([]);
    for (const path of referenced) expect(existsSync(path), path).toBe(true);
    for (const path of orphans) expect(result.removedFiles).toContain(path);
    // What went was in the table's directory (files this run wrote and then expired, such as the
    // compaction's manifests once the manifest rewrite superseded its snapshot, went too).
    for (const path of result.removedFiles) expect(path.startsWith(tableDir())).toBe(true);
    expect(before.filter((p) => !existsSync(p)).every((p) => result.removedFiles.includes(p))).toBe(true);
    expect(state.metadata.snapshots).toHaveLength(1);
    // An independent Iceberg reader sees the same rows as ours.
    const restore = serveFileUrls();
    try {
      expect(await readWithIcebird(state)).toEqual(await readWithDuckDb(warehouse, opened.duckdb, state));
    } finally {
      restore();
    }

    // Nothing left to do: a second run changes nothing.
    const again = await maintainTable(warehouse, t, settings, { now: later });
    expect(again).toMatchObject({
      expiredSnapshots: 0,
      removedFiles: [],
      rewrittenManifests: 0,
      newSnapshot: false,
    });
    expect(again.compaction?.committed).toBe(false);
    expect(await project.answers()).toEqual(answers);
  });

  it('spares files younger than the retention, which a commit in progress may be about to reference', async () => {
    await buildHistory();
    const young = join(tableDir(), 'data', 'being-committed.parquet');
    const old = join(tableDir(), 'data', 'crashed.parquet');
    writeFileSync(young, 'a commit in progress');
    writeFileSync(old, 'left by a crash');
    const eightDaysAgo = (Date.now() - 8 * 24 * 3600_000) / 1000;
    utimesSync(old, eightDaysAgo, eightDaysAgo);
    const { target: t, settings } = target();
    const result = await maintainTable(warehouse, t, settings);
    expect(result.removedFiles).toEqual([old]);
    expect(existsSync(young)).toBe(true);
    // Snapshots written just now are within the retention: none expired.
    expect(result.expiredSnapshots).toBe(0);
  });

  it('keeps a snapshot pinned by a running query, with its files, until the pin is released', async () => {
    await buildHistory();
    const pinnedState = await warehouse.load(TABLE);
    const pinned = pinnedState.snapshot!;
    const rows = await readWithDuckDb(warehouse, opened.duckdb, pinnedState);
    const { files } = await warehouse.planFiles(pinnedState);
    // Another process's query pins it (a pin file is all it takes), then more commits land.
    const pin = await pinSnapshots(project.root, [
      {
        table: 'raw.thing_changes',
        snapshotId: String(pinned.snapshotId),
        manifestList: pinned.manifestList,
      },
    ]);
    await append([change(1, 'd', 11), change(6, 'c', 12)]);
    const { target: t, settings } = target();
    const result = await maintainTable(warehouse, t, settings, { now: later });
    expect(result.expiredSnapshots).toBeGreaterThan(0);
    const state = await warehouse.load(TABLE);
    expect(state.metadata.snapshots.map((s) => String(s['snapshot-id']))).toContain(
      String(pinned.snapshotId),
    );
    for (const file of files) expect(existsSync(file.path), file.path).toBe(true);
    expect(await readWithDuckDb(warehouse, opened.duckdb, state, pinned.snapshotId)).toEqual(rows);

    await pin.release();
    await maintainTable(warehouse, t, settings, { now: later });
    const released = await warehouse.load(TABLE);
    expect(released.metadata.snapshots.map((s) => String(s['snapshot-id']))).not.toContain(
      String(pinned.snapshotId),
    );
    const referenced = await referencedFiles(released.metadataLocation);
    for (const file of files) expect(existsSync(file.path)).toBe(referenced.has(file.path));
  });

  it("pins a query's snapshots while it runs, in a file any process sees", async () => {
    await buildHistory();
    const { model, config } = loadProject(project.dir);
    const sql = new Compiler(model).compile('things', { dialect: 'duckdb' }).sql;
    const engine = await openEngine(project.dir, {}, config);
    try {
      const pins = () => readdir(pinsDirectory(project.root)).catch(() => [] as string[]);
      const stream = engine.stream(sql)[Symbol.asyncIterator]();
      const first = await stream.next();
      expect(first.done).toBe(false);
      expect(await pins()).toHaveLength(1);
      // Maintenance in the middle of the query: the pinned snapshot's files stay.
      const { target: t, settings } = target();
      await maintainTable(warehouse, t, settings, { now: later });
      const rest = [first.value!];
      for (let next = await stream.next(); !next.done; next = await stream.next()) rest.push(next.value);
      expect(rest.flat().length).toBe(4);
      expect(await pins()).toHaveLength(0);
      expect((await collect(engine.stream(sql))).length).toBe(4);
    } finally {
      await engine.close();
    }
  });

  it("keeps a pipeline's committed position readable through compaction and expiry", async () => {
    await buildHistory();
    const properties = {
      'strata.pipeline': 'studio',
      'strata.pipeline.seq': '42',
      'strata.pipeline.resume': '0/16B3A48',
      'strata.pipeline.fence': '3',
    };
    await warehouse.appendAtomically([
      { id: TABLE, rows: [change(7, 'c', 42)] as unknown as Record<string, unknown>[], properties },
    ]);
    const { target: t, settings } = target();
    const result = await maintainTable(warehouse, t, settings, { now: later });
    expect(result.compaction?.committed).toBe(true);
    expect(result.expiredSnapshots).toBeGreaterThan(0);
    const state = await warehouse.load(TABLE);
    expect(positionIn(state, 'studio')).toEqual({ seq: 42n, resume: '0/16B3A48' });
    expect(state.metadata.snapshots.some((s) => s.summary['strata.pipeline.seq'] === '42')).toBe(true);
  });

  it('rewrites small manifests into one replace snapshot with the same data files', async () => {
    const added = [];
    for (let i = 1; i <= 5; i++) added.push(await warehouse.appendRows(TABLE, [{ ...change(i, 'c', i) }]));
    const before = await warehouse.load(TABLE);
    expect(await readManifestList(before.snapshot!.manifestList)).toHaveLength(5);
    const planned = (await warehouse.planFiles(before)).files;

    const result = await warehouse.rewriteManifests(TABLE);
    expect(result).toMatchObject({ replaced: 5, created: 1 });
    const after = await warehouse.load(TABLE);
    expect(after.snapshot?.operation).toBe('replace');
    expect(after.snapshot?.summary['total-records']).toBe('5');
    expect(await readManifestList(after.snapshot!.manifestList)).toHaveLength(1);
    const files = (await warehouse.planFiles(after)).files;
    const key = (f: { path: string; sequenceNumber?: number; snapshotId?: unknown }) =>
      `${f.path}@${f.sequenceNumber}/${String(f.snapshotId)}`;
    // Same files, each keeping the sequence number and snapshot of the commit that added it.
    expect(files.map(key).sort()).toEqual(planned.map(key).sort());
    expect(added.map((s) => s.sequenceNumber)).toEqual(files.map((f) => f.sequenceNumber).sort());
    const restore = serveFileUrls();
    try {
      expect(await readWithIcebird(after)).toEqual(await readWithDuckDb(warehouse, opened.duckdb, before));
    } finally {
      restore();
    }
    expect(await warehouse.rewriteManifests(TABLE)).toEqual({ replaced: 0, created: 0 });
  });
});
