/**
 * Tables written by the warehouse, read back through planFiles + readParquetSql and by icebird
 * (an independent Iceberg reader), with both catalog backends.
 */
import { readFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { DuckDBConnection } from '@duckdb/node-api';
import {
  CommitConflictError,
  NoSuchTableError,
  TableExistsError,
  Warehouse,
  decodeBound,
  fromUri,
  readParquetSql,
  type ColumnDefinition,
  type TableIdentifier,
} from '../../src/warehouse/index.js';
import { readManifestEntries, readManifestList } from '../../src/warehouse/manifest.js';
import {
  readWithDuckDb,
  readWithIcebird,
  serveFileUrls,
  TestEnvironment,
  type CatalogKind,
  type Row,
} from './support.js';

const COLUMNS: ColumnDefinition[] = [
  { name: 'id', type: 'long', required: true },
  { name: 'name', type: 'string' },
  { name: 'amount', type: 'decimal(12, 2)' },
  { name: 'ratio', type: 'double' },
  { name: 'score', type: 'float' },
  { name: 'qty', type: 'int' },
  { name: 'day', type: 'date' },
  { name: 'at', type: 'timestamp' },
  { name: 'at_tz', type: 'timestamptz' },
  { name: 'active', type: 'boolean' },
];

const FIRST_ROWS = [
  {
    id: 1,
    name: 'O\'Brien "quoted" — ünïcødé ✓ 日本',
    amount: '1234567.89',
    ratio: 0.1,
    score: 1.5,
    qty: 3,
    day: '2024-02-29',
    at: '2024-02-29T23:59:59.123',
    at_tz: '2024-02-29T23:59:59.5+02:00',
    active: true,
  },
  {
    id: 2,
    name: null,
    amount: null,
    ratio: null,
    score: null,
    qty: null,
    day: null,
    at: null,
    at_tz: null,
    active: null,
  },
  {
    id: 3n,
    name: '',
    amount: -0.01,
    ratio: Number.NaN,
    score: -2.25,
    qty: -2147483648,
    day: '1970-01-01',
    at: '1970-01-01T00:00:00',
    at_tz: '1999-12-31T23:00:00Z',
    active: false,
  },
];

describe.each<CatalogKind>(['sqlite', 'postgres'])('warehouse with a %s catalog', (kind) => {
  let env: TestEnvironment;
  let warehouse: Warehouse;
  let duckdb: DuckDBConnection;
  let restoreFetch: () => void;
  const id: TableIdentifier = { namespace: 'sales', name: 'orders' };

  beforeAll(() => {
    restoreFetch = serveFileUrls();
  });
  afterAll(() => restoreFetch());

  beforeEach(async () => {
    env = await TestEnvironment.create(kind);
    duckdb = await env.duckdb();
    warehouse = new Warehouse({ root: env.root, catalog: await env.catalog(), duckdb });
  });
  afterEach(async () => env.dispose());

  async function ours(): Promise<Row[]> {
    return readWithDuckDb(warehouse, duckdb, await warehouse.load(id));
  }

  async function expectIcebirdAgrees(): Promise<Row[]> {
    const state = await warehouse.load(id);
    const rows = await readWithDuckDb(warehouse, duckdb, state);
    expect(await readWithIcebird(state)).toEqual(rows);
    return rows;
  }

  it('creates a v2 table registered in the catalog', async () => {
    const state = await warehouse.createTable(id, COLUMNS, {
      identifierFields: ['id'],
      properties: { owner: 'tests' },
    });
    expect(await warehouse.exists(id)).toBe(true);
    expect(await warehouse.catalog.listTables('sales')).toEqual([id]);
    expect(await warehouse.catalog.listNamespaces()).toEqual(['sales']);
    const { metadata } = state;
    expect(metadata['format-version']).toBe(2);
    expect(metadata.location).toBe(`file://${env.root}/sales/orders`);
    expect(state.metadataLocation).toMatch(/\/sales\/orders\/metadata\/00000-[0-9a-f-]{36}\.metadata\.json$/);
    expect(metadata['last-column-id']).toBe(10);
    expect(metadata['last-sequence-number']).toBe(0);
    expect(metadata['current-snapshot-id']).toBe(-1);
    expect(metadata['partition-specs']).toEqual([{ 'spec-id': 0, fields: [] }]);
    expect(metadata['sort-orders']).toEqual([{ 'order-id': 0, fields: [] }]);
    expect(metadata.properties.owner).toBe('tests');
    expect(metadata.schemas[0]).toMatchObject({
      type: 'struct',
      'schema-id': 0,
      'identifier-field-ids': [1],
    });
    expect(metadata.schemas[0]?.fields[2]).toEqual({
      id: 3,
      name: 'amount',
      required: false,
      type: 'decimal(12, 2)',
    });
    expect(JSON.parse(await readFile(fromUri(state.metadataLocation), 'utf8'))).toEqual(metadata);
    // An empty table still plans and reads, as a typed empty relation.
    expect(await ours()).toEqual([]);
    await expect(warehouse.createTable(id, COLUMNS)).rejects.toBeInstanceOf(TableExistsError);
    await expect(warehouse.load({ namespace: 'sales', name: 'nope' })).rejects.toBeInstanceOf(
      NoSuchTableError,
    );
  });

  it('appends, overwrites and evolves a table that icebird reads identically', async () => {
    await warehouse.createTable(id, COLUMNS, { identifierFields: ['id'] });
    const first = await warehouse.appendRows(id, FIRST_ROWS);
    expect(first).toMatchObject({ sequenceNumber: 1, operation: 'append', schemaId: 0 });
    expect(first.parentSnapshotId).toBeUndefined();
    expect(await expectIcebirdAgrees()).toHaveLength(3);

    // A query with a subset of the columns, differently cased: the rest are NULL.
    const second = await warehouse.appendQuery(
      id,
      `SELECT 100 + range AS ID, 'bulk ' || range AS Name, (range * 1.25)::DECIMAL(12,2) AS amount FROM range(50)`,
    );
    expect(second).toMatchObject({ sequenceNumber: 2, parentSnapshotId: first.snapshotId });
    expect(second.summary).toMatchObject({
      'added-records': '50',
      'total-records': '53',
      'total-data-files': '2',
    });
    await expectIcebirdAgrees();

    // Compaction-style overwrite: drop the bulk rows with odd ids from both files.
    const before = await warehouse.load(id);
    const { files, schema } = await warehouse.planFiles(before);
    const kept = await warehouse.overwrite(
      id,
      files,
      `SELECT * FROM (${readParquetSql(files, schema)}) WHERE id < 100 OR id % 2 = 0`,
      second,
    );
    expect(kept.operation).toBe('overwrite');
    expect(kept.summary).toMatchObject({
      'deleted-data-files': '2',
      'deleted-records': '53',
      'added-data-files': '1',
      'added-records': '28',
      'total-records': '28',
      'total-data-files': '1',
    });
    // The new file is ADDED; the replaced ones are DELETED by this snapshot, keeping their sequence numbers.
    const list = await readManifestList(kept.manifestList);
    const entries = (await Promise.all(list.map((m) => readManifestEntries(m)))).flat();
    expect(
      entries.map((e) => [e.status, e.snapshotId, e.sequenceNumber, e.fileSequenceNumber]).sort(),
    ).toEqual(
      [
        [1, kept.snapshotId, 3, 3],
        [2, kept.snapshotId, 1, 1],
        [2, kept.snapshotId, 2, 2],
      ].sort(),
    );
    expect(
      list.map((m) => [m.added_files_count, m.existing_files_count, m.deleted_files_count]).sort(),
    ).toEqual([
      [0, 0, 1],
      [0, 0, 1],
      [1, 0, 0],
    ]);
    expect(list.every((m) => m.sequence_number === 3)).toBe(true);
    const afterOverwrite = await expectIcebirdAgrees();
    expect(afterOverwrite.map((r) => r.id).filter((v) => Number(v) >= 100 && Number(v) % 2 === 1)).toEqual(
      [],
    );

    // Schema evolution: the new column reads as NULL in files written before it existed.
    const evolved = await warehouse.addColumn(id, { name: 'region', type: 'string' });
    expect(evolved.schema.schemaId).toBe(1);
    expect(evolved.schema.fields.at(-1)).toEqual({ id: 11, name: 'region', type: 'string', required: false });
    expect(evolved.metadata['last-column-id']).toBe(11);
    await warehouse.appendRows(id, [{ id: 500, region: 'emea', name: 'new' }]);
    const rows = await expectIcebirdAgrees();
    expect(rows.filter((r) => r.region !== null)).toEqual([
      expect.objectContaining({ id: '500', region: 'emea' }),
    ]);
    expect(rows.filter((r) => r.region === null)).toHaveLength(28);

    // The first snapshot still reads as it was, with the schema it was written with.
    const state = await warehouse.load(id);
    const past = await readWithDuckDb(warehouse, duckdb, state, first.snapshotId);
    expect(past.map((r) => r.id)).toEqual(['1', '2', '3']);
    expect(Object.keys(past[0] ?? {})).not.toContain('region');
    expect(state.metadata.snapshots.map((s) => s['sequence-number'])).toEqual([1, 2, 3, 4]);
    expect(state.metadata['snapshot-log']).toHaveLength(4);
    expect(state.metadata['metadata-log']).toHaveLength(5);
    expect(state.metadata.refs).toEqual({
      main: { 'snapshot-id': state.snapshot?.snapshotId, type: 'branch' },
    });
  });

  it('keeps the values exactly (decimals, dates, timestamps, NULLs, unicode)', async () => {
    await warehouse.createTable(id, COLUMNS);
    await warehouse.appendRows(id, FIRST_ROWS);
    const { files, schema } = await warehouse.planFiles(await warehouse.load(id));
    const reader = await duckdb.runAndReadAll(
      `SELECT id, name, amount::VARCHAR AS amount, day::VARCHAR AS day, "at"::VARCHAR AS "at",
              epoch_us(at_tz) AS at_tz, qty, active FROM (${readParquetSql(files, schema)}) ORDER BY id`,
    );
    expect(reader.getRowObjectsJson()).toEqual([
      {
        id: '1',
        name: FIRST_ROWS[0]?.name,
        amount: '1234567.89',
        day: '2024-02-29',
        at: '2024-02-29 23:59:59.123',
        at_tz: String(Date.UTC(2024, 1, 29, 21, 59, 59, 500) * 1000),
        qty: 3,
        active: true,
      },
      { id: '2', name: null, amount: null, day: null, at: null, at_tz: null, qty: null, active: null },
      {
        id: '3',
        name: '',
        amount: '-0.01',
        day: '1970-01-01',
        at: '1970-01-01 00:00:00',
        at_tz: String(Date.UTC(1999, 11, 31, 23) * 1000),
        qty: -2147483648,
        active: false,
      },
    ]);
  });

  it('writes Avro manifests with the spec field ids and Parquet files with field ids', async () => {
    await warehouse.createTable(id, COLUMNS);
    const snapshot = await warehouse.appendRows(id, FIRST_ROWS);
    const list = await readFile(fromUri(snapshot.manifestList));
    const listSchema = JSON.parse(avroHeaderValue(list, 'avro.schema')) as AvroRecord;
    expect(listSchema.name).toBe('manifest_file');
    expect(fieldIds(listSchema)).toEqual({
      manifest_path: 500,
      manifest_length: 501,
      partition_spec_id: 502,
      content: 517,
      sequence_number: 515,
      min_sequence_number: 516,
      added_snapshot_id: 503,
      added_files_count: 504,
      existing_files_count: 505,
      deleted_files_count: 506,
      added_rows_count: 512,
      existing_rows_count: 513,
      deleted_rows_count: 514,
      partitions: 507,
      key_metadata: 519,
    });
    expect(JSON.stringify(listSchema)).toContain('"element-id":508');

    const [manifest] = await readManifestList(snapshot.manifestList);
    expect(manifest).toMatchObject({
      content: 0,
      sequence_number: 1,
      min_sequence_number: 1,
      added_snapshot_id: snapshot.snapshotId,
      added_files_count: 1,
      existing_files_count: 0,
      deleted_files_count: 0,
      added_rows_count: 3,
    });
    const manifestBytes = await readFile(fromUri(manifest?.manifest_path ?? ''));
    expect(avroHeaderValue(manifestBytes, 'format-version')).toBe('2');
    expect(avroHeaderValue(manifestBytes, 'content')).toBe('data');
    expect(avroHeaderValue(manifestBytes, 'partition-spec')).toBe('[]');
    expect(avroHeaderValue(manifestBytes, 'partition-spec-id')).toBe('0');
    expect(avroHeaderValue(manifestBytes, 'schema-id')).toBe('0');
    expect(JSON.parse(avroHeaderValue(manifestBytes, 'schema'))).toMatchObject({
      type: 'struct',
      'schema-id': 0,
    });
    const entrySchema = JSON.parse(avroHeaderValue(manifestBytes, 'avro.schema')) as AvroRecord;
    expect(fieldIds(entrySchema)).toEqual({
      status: 0,
      snapshot_id: 1,
      sequence_number: 3,
      file_sequence_number: 4,
      data_file: 2,
    });
    const text = JSON.stringify(entrySchema);
    for (const name of ['k117_v118', 'k119_v120', 'k121_v122', 'k138_v139', 'k126_v127', 'k129_v130']) {
      expect(text).toContain(`"name":"${name}"`);
    }
    expect(text).toContain('"logicalType":"map"');
    expect(text).toContain('"element-id":133');

    const [entry] = await readManifestEntries(manifest!);
    expect(entry).toMatchObject({
      status: 1,
      snapshotId: snapshot.snapshotId,
      sequenceNumber: 1,
      fileSequenceNumber: 1,
    });
    expect(entry?.file).toMatchObject({
      recordCount: 3,
      valueCounts: { 1: 3, 2: 3 },
      nullValueCounts: { 1: 0, 2: 1 },
    });
    // DuckDB only tells whether NaNs exist: `ratio` has one, so its NaN count is left out.
    expect(entry?.file.nanValueCounts).toEqual({ 5: 0 });
    const bounds = (fieldId: number): unknown[] => {
      const type = COLUMNS[fieldId - 1]?.type ?? 'string';
      const { lowerBounds, upperBounds } = entry!.file;
      return [lowerBounds[fieldId], upperBounds[fieldId]].map((b) => (b ? decodeBound(type, b) : undefined));
    };
    expect(bounds(1)).toEqual([1n, 3n]);
    // Strings are truncated to 16 code points; the upper bound's last one incremented ('"' -> '#').
    expect(bounds(2)).toEqual(['', `O'Brien "quoted#`]);
    expect(bounds(3)).toEqual(['-0.01', '1234567.89']);
    expect(bounds(4)).toEqual([0.1, 0.1]);
    expect(bounds(5)).toEqual([-2.25, 1.5]);
    expect(bounds(6)).toEqual([-2147483648, 3]);
    expect(bounds(7)).toEqual([0, 19782]);
    expect(bounds(8)).toEqual([0n, BigInt(Date.UTC(2024, 1, 29, 23, 59, 59, 123)) * 1000n]);
    expect(bounds(9)).toEqual([
      BigInt(Date.UTC(1999, 11, 31, 23)) * 1000n,
      BigInt(Date.UTC(2024, 1, 29, 21, 59, 59, 500)) * 1000n,
    ]);
    expect(bounds(10)).toEqual([false, true]);

    const parquet = await duckdb.runAndReadAll(
      `SELECT name, field_id FROM parquet_schema('${entry?.file.path}') WHERE field_id IS NOT NULL ORDER BY field_id`,
    );
    expect(parquet.getRowObjectsJson()).toEqual(
      COLUMNS.map((c, i) => ({ name: c.name, field_id: String(i + 1) })),
    );
  });

  it('rejects rows that do not fit the table', async () => {
    await warehouse.createTable(id, COLUMNS);
    await expect(warehouse.appendQuery(id, `SELECT 1 AS id, 2 AS bogus`)).rejects.toThrow(
      /bogus.*not a column/,
    );
    await expect(warehouse.appendQuery(id, `SELECT 'x' AS name`)).rejects.toThrow(/required column "id"/);
    await expect(warehouse.appendQuery(id, `SELECT NULL::BIGINT AS id`)).rejects.toThrow(
      /NULL values in required column/,
    );
    await expect(warehouse.addColumn(id, { name: 'NAME', type: 'string' })).rejects.toThrow(/already exists/);
    expect((await warehouse.load(id)).snapshot).toBeUndefined();
  });

  it('expires old snapshots and keeps the current one readable', async () => {
    let now = 1_000_000;
    warehouse = new Warehouse({ root: env.root, catalog: warehouse.catalog, duckdb, clock: () => now });
    await warehouse.createTable(id, COLUMNS);
    for (let i = 0; i < 4; i++) {
      now += 1000;
      await warehouse.appendRows(id, [{ id: i, name: `row ${i}` }]);
    }
    const state = await warehouse.load(id);
    const { files, schema } = await warehouse.planFiles(state);
    now += 1000;
    await warehouse.overwrite(
      id,
      files,
      `SELECT * FROM (${readParquetSql(files, schema)}) WHERE id <> 0`,
      state.snapshot!,
    );
    const before = await warehouse.load(id);
    const rows = await expectIcebirdAgrees();
    expect(rows.map((r) => r.id)).toEqual(['1', '2', '3']);
    const oldLists = before.metadata.snapshots.slice(0, -2).map((s) => fromUri(s['manifest-list']));

    const result = await warehouse.expireSnapshots(id, { olderThanMs: now, retainLast: 2 });
    expect(result.expired).toBe(3);
    const after = await warehouse.load(id);
    expect(after.metadata.snapshots.map((s) => s['snapshot-id'])).toEqual(
      before.metadata.snapshots.slice(-2).map((s) => s['snapshot-id']),
    );
    expect(after.metadata['snapshot-log'].map((e) => e['snapshot-id'])).toEqual(
      before.metadata['snapshot-log'].slice(-2).map((e) => e['snapshot-id']),
    );
    expect(after.snapshot?.snapshotId).toEqual(before.snapshot?.snapshotId);
    expect(await expectIcebirdAgrees()).toEqual(rows);
    for (const path of oldLists) expect(existsSync(path)).toBe(false);
    // The replaced files are still read by the retained parent snapshot...
    for (const file of files) expect(existsSync(file.path)).toBe(true);

    // ...until it expires too; then nothing but the current snapshot's files is left.
    expect((await warehouse.expireSnapshots(id, { olderThanMs: now + 1 })).expired).toBe(1);
    for (const file of files) expect(existsSync(file.path)).toBe(false);
    expect(await expectIcebirdAgrees()).toEqual(rows);
    expect((await warehouse.expireSnapshots(id, { olderThanMs: now + 1 })).expired).toBe(0);
    expect((await warehouse.removeOrphanFiles(id, { olderThanMs: Date.now() + 60_000 })).removed).toEqual([]);
  });

  it('merges manifests once a snapshot would list many', async () => {
    await warehouse.createTable(id, COLUMNS, { properties: { 'commit.manifest.min-count-to-merge': '3' } });
    const snapshots = [];
    for (let i = 0; i < 6; i++) snapshots.push(await warehouse.appendRows(id, [{ id: i, name: `r${i}` }]));
    const state = await warehouse.load(id);
    const manifests = await readManifestList(state.snapshot!.manifestList);
    expect(manifests.length).toBeLessThanOrEqual(3);
    expect(manifests.reduce((n, m) => n + m.added_files_count + m.existing_files_count, 0)).toBe(6);
    // Merged entries keep the sequence numbers and snapshot ids of the commits that added them.
    const { files } = await warehouse.planFiles(state);
    const added = files
      .map((f) => [f.sequenceNumber, f.snapshotId])
      .sort((a, b) => Number(a[0]) - Number(b[0]));
    expect(added).toEqual(snapshots.map((s) => [s.sequenceNumber, s.snapshotId]));
    expect((await expectIcebirdAgrees()).map((r) => r.id)).toEqual(['0', '1', '2', '3', '4', '5']);
  });

  it('refuses an overwrite of files that are no longer live', async () => {
    await warehouse.createTable(id, COLUMNS);
    await warehouse.appendRows(id, [{ id: 1 }, { id: 2 }]);
    const state = await warehouse.load(id);
    const { files, schema } = await warehouse.planFiles(state);
    await warehouse.overwrite(
      id,
      files,
      `SELECT * FROM (${readParquetSql(files, schema)}) WHERE id = 1`,
      state.snapshot!,
    );
    const stale = warehouse.overwrite(
      id,
      files,
      `SELECT * FROM (${readParquetSql(files, schema)})`,
      state.snapshot!,
    );
    await expect(stale).rejects.toBeInstanceOf(CommitConflictError);
    expect((await ours()).map((r) => r.id)).toEqual(['1']);
    // The refused commit's data file was cleaned up.
    expect((await warehouse.removeOrphanFiles(id, { olderThanMs: Date.now() + 60_000 })).removed).toEqual([]);
  });

  it('drops tables, optionally with their files', async () => {
    const state = await warehouse.createTable(id, COLUMNS);
    await warehouse.appendRows(id, [{ id: 1 }]);
    await warehouse.dropTable(id, { purge: true });
    expect(await warehouse.exists(id)).toBe(false);
    expect(existsSync(fromUri(state.metadata.location))).toBe(false);
    expect(await warehouse.catalog.listTables()).toEqual([]);
  });
});

interface AvroRecord {
  name: string;
  fields: { name: string; 'field-id'?: number }[];
}

function fieldIds(record: AvroRecord): Record<string, number | undefined> {
  return Object.fromEntries(record.fields.map((f) => [f.name, f['field-id']]));
}

/** A key of an Avro container's header metadata, found by scanning (the header is plain). */
function avroHeaderValue(file: Buffer, key: string): string {
  let pos = 4;
  const readLong = (): number => {
    let n = 0;
    let shift = 0;
    for (;;) {
      const byte = file[pos++] ?? 0;
      n += (byte & 0x7f) * 2 ** shift;
      if ((byte & 0x80) === 0) break;
      shift += 7;
    }
    return n % 2 === 0 ? n / 2 : -(n + 1) / 2;
  };
  const readBytes = (): Buffer => {
    const length = readLong();
    const bytes = file.subarray(pos, pos + length);
    pos += length;
    return bytes;
  };
  for (let count = readLong(); count !== 0; count = readLong()) {
    if (count < 0) readLong();
    for (let i = 0; i < Math.abs(count); i++) {
      const name = readBytes().toString('utf8');
      const value = readBytes().toString('utf8');
      if (name === key) return value;
    }
  }
  throw new Error(`no ${key} in Avro header`);
}
