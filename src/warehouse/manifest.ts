/**
 * Manifests and manifest lists (Iceberg v2): the Avro schemas with the spec's field ids, the
 * file-level key-value metadata, and reading entries back with sequence-number and
 * snapshot-id inheritance applied.
 */
import { readFile } from 'node:fs/promises';
import { decodeAvroContainer, encodeAvroContainer, type AvroSchemaJson, type Long } from './avro.js';
import { fromUri, toUri, writeNewFile } from './files.js';
import type { SnapshotId } from './metadata.js';
import { schemaToJson, type IcebergSchema } from './schema.js';

/** A data file of a table, as tracked by a manifest entry. */
export interface DataFile {
  /** Absolute local path. */
  path: string;
  recordCount: number;
  fileSizeInBytes: number;
  /** Per field id: bytes on disk, values (nulls included), nulls, NaNs; bounds in Iceberg's binary form. */
  columnSizes: Record<number, number>;
  valueCounts: Record<number, number>;
  nullValueCounts: Record<number, number>;
  nanValueCounts: Record<number, number>;
  lowerBounds: Record<number, Uint8Array>;
  upperBounds: Record<number, Uint8Array>;
  splitOffsets?: number[];
  sortOrderId?: number;
  /** Data sequence number, once committed. */
  sequenceNumber?: number;
  /** Sequence number of the snapshot that added the file, once committed. */
  fileSequenceNumber?: number;
  /** The snapshot that added the file, once committed. */
  snapshotId?: SnapshotId;
}

/** Manifest entry status: EXISTING 0, ADDED 1, DELETED 2 (DELETED entries are not part of the snapshot). */
export const EntryStatus = { Existing: 0, Added: 1, Deleted: 2 } as const;
export type EntryStatus = (typeof EntryStatus)[keyof typeof EntryStatus];

/** A manifest entry with inherited values resolved. */
export interface ManifestEntry {
  status: EntryStatus;
  snapshotId: SnapshotId;
  sequenceNumber: number;
  fileSequenceNumber: number;
  file: DataFile;
}

/** One row of a manifest list (`manifest_file`), in the spec's field names. */
export interface ManifestFileRecord {
  manifest_path: string;
  manifest_length: Long;
  partition_spec_id: number;
  content: number;
  sequence_number: Long;
  min_sequence_number: Long;
  added_snapshot_id: Long;
  added_files_count: number;
  existing_files_count: number;
  deleted_files_count: number;
  added_rows_count: Long;
  existing_rows_count: Long;
  deleted_rows_count: Long;
  partitions:
    | {
        contains_null: boolean;
        contains_nan: boolean | null;
        lower_bound: Buffer | null;
        upper_bound: Buffer | null;
      }[]
    | null;
  key_metadata: Buffer | null;
}

interface KeyValue<V> {
  key: number;
  value: V;
}

interface DataFileRecord {
  content: number;
  file_path: string;
  file_format: string;
  partition: Record<string, never>;
  record_count: Long;
  file_size_in_bytes: Long;
  column_sizes: KeyValue<Long>[] | null;
  value_counts: KeyValue<Long>[] | null;
  null_value_counts: KeyValue<Long>[] | null;
  nan_value_counts: KeyValue<Long>[] | null;
  lower_bounds: KeyValue<Uint8Array>[] | null;
  upper_bounds: KeyValue<Uint8Array>[] | null;
  key_metadata: Buffer | null;
  split_offsets: Long[] | null;
  equality_ids: number[] | null;
  sort_order_id: number | null;
  referenced_data_file: string | null;
}

interface ManifestEntryRecord {
  status: number;
  snapshot_id: Long | null;
  sequence_number: Long | null;
  file_sequence_number: Long | null;
  data_file: DataFileRecord;
}

// ---------------------------------------------------------------- Avro schemas

function optional(name: string, type: AvroSchemaJson, fieldId: number): AvroSchemaJson {
  return { name, type: ['null', type], default: null, 'field-id': fieldId };
}

function required(name: string, type: AvroSchemaJson, fieldId: number): AvroSchemaJson {
  return { name, type, 'field-id': fieldId };
}

/** An int-keyed map, stored (as the spec requires for non-string keys) as an array of key/value records. */
function intMap(
  name: string,
  fieldId: number,
  keyId: number,
  valueId: number,
  valueType: string,
): AvroSchemaJson {
  const entry = {
    type: 'record',
    name: `k${keyId}_v${valueId}`,
    fields: [required('key', 'int', keyId), required('value', valueType, valueId)],
  };
  return optional(name, { type: 'array', logicalType: 'map', items: entry }, fieldId);
}

function list(name: string, fieldId: number, elementId: number, elementType: string): AvroSchemaJson {
  return optional(name, { type: 'array', items: elementType, 'element-id': elementId }, fieldId);
}

/** `manifest_entry` for v2 of an unpartitioned table (the partition tuple is an empty struct). */
export const MANIFEST_ENTRY_SCHEMA: AvroSchemaJson = {
  type: 'record',
  name: 'manifest_entry',
  fields: [
    required('status', 'int', 0),
    optional('snapshot_id', 'long', 1),
    optional('sequence_number', 'long', 3),
    optional('file_sequence_number', 'long', 4),
    required(
      'data_file',
      {
        type: 'record',
        name: 'r2',
        fields: [
          required('content', 'int', 134),
          required('file_path', 'string', 100),
          required('file_format', 'string', 101),
          required('partition', { type: 'record', name: 'r102', fields: [] }, 102),
          required('record_count', 'long', 103),
          required('file_size_in_bytes', 'long', 104),
          intMap('column_sizes', 108, 117, 118, 'long'),
          intMap('value_counts', 109, 119, 120, 'long'),
          intMap('null_value_counts', 110, 121, 122, 'long'),
          intMap('nan_value_counts', 137, 138, 139, 'long'),
          intMap('lower_bounds', 125, 126, 127, 'bytes'),
          intMap('upper_bounds', 128, 129, 130, 'bytes'),
          optional('key_metadata', 'bytes', 131),
          list('split_offsets', 132, 133, 'long'),
          list('equality_ids', 135, 136, 'int'),
          optional('sort_order_id', 'int', 140),
          optional('referenced_data_file', 'string', 143),
        ],
      },
      2,
    ),
  ],
};

/** `manifest_file`, the row of a v2 manifest list. */
export const MANIFEST_FILE_SCHEMA: AvroSchemaJson = {
  type: 'record',
  name: 'manifest_file',
  fields: [
    required('manifest_path', 'string', 500),
    required('manifest_length', 'long', 501),
    required('partition_spec_id', 'int', 502),
    required('content', 'int', 517),
    required('sequence_number', 'long', 515),
    required('min_sequence_number', 'long', 516),
    required('added_snapshot_id', 'long', 503),
    required('added_files_count', 'int', 504),
    required('existing_files_count', 'int', 505),
    required('deleted_files_count', 'int', 506),
    required('added_rows_count', 'long', 512),
    required('existing_rows_count', 'long', 513),
    required('deleted_rows_count', 'long', 514),
    optional(
      'partitions',
      {
        type: 'array',
        items: {
          type: 'record',
          name: 'r508',
          fields: [
            required('contains_null', 'boolean', 509),
            optional('contains_nan', 'boolean', 518),
            optional('lower_bound', 'bytes', 510),
            optional('upper_bound', 'bytes', 511),
          ],
        },
        'element-id': 508,
      },
      507,
    ),
    optional('key_metadata', 'bytes', 519),
  ],
};

// ---------------------------------------------------------------- conversions

function toPairs<V, W>(map: Record<number, V>, convert: (v: V) => W): KeyValue<W>[] {
  return Object.entries(map)
    .map(([key, value]) => ({ key: Number(key), value: convert(value) }))
    .sort((a, b) => a.key - b.key);
}

function fromPairs<V, W>(pairs: KeyValue<V>[] | null | undefined, convert: (v: V) => W): Record<number, W> {
  const map: Record<number, W> = {};
  for (const { key, value } of pairs ?? []) map[key] = convert(value);
  return map;
}

function dataFileToRecord(file: DataFile): DataFileRecord {
  return {
    content: 0,
    file_path: toUri(file.path),
    file_format: 'PARQUET',
    partition: {},
    record_count: file.recordCount,
    file_size_in_bytes: file.fileSizeInBytes,
    column_sizes: toPairs(file.columnSizes, Number),
    value_counts: toPairs(file.valueCounts, Number),
    null_value_counts: toPairs(file.nullValueCounts, Number),
    nan_value_counts: toPairs(file.nanValueCounts, Number),
    lower_bounds: toPairs(file.lowerBounds, Buffer.from),
    upper_bounds: toPairs(file.upperBounds, Buffer.from),
    key_metadata: null,
    split_offsets: file.splitOffsets ?? null,
    equality_ids: null,
    sort_order_id: file.sortOrderId ?? null,
    referenced_data_file: null,
  };
}

function bytesOf(value: Uint8Array): Uint8Array {
  return new Uint8Array(value);
}

function dataFileFromRecord(record: DataFileRecord): DataFile {
  const file: DataFile = {
    path: fromUri(record.file_path),
    recordCount: Number(record.record_count),
    fileSizeInBytes: Number(record.file_size_in_bytes),
    columnSizes: fromPairs(record.column_sizes, Number),
    valueCounts: fromPairs(record.value_counts, Number),
    nullValueCounts: fromPairs(record.null_value_counts, Number),
    nanValueCounts: fromPairs(record.nan_value_counts, Number),
    lowerBounds: fromPairs(record.lower_bounds, bytesOf),
    upperBounds: fromPairs(record.upper_bounds, bytesOf),
  };
  if (record.split_offsets) file.splitOffsets = record.split_offsets.map(Number);
  if (record.sort_order_id !== null && record.sort_order_id !== undefined)
    file.sortOrderId = record.sort_order_id;
  return file;
}

// ---------------------------------------------------------------- writing

export interface EntryToWrite {
  status: EntryStatus;
  snapshotId: SnapshotId;
  /** null for ADDED entries: inherited from the manifest list at read time (so the file survives commit retries). */
  sequenceNumber: number | null;
  fileSequenceNumber: number | null;
  file: DataFile;
}

/** A written manifest, described as its manifest-list row minus the sequence numbers the commit assigns. */
export type WrittenManifest = Omit<ManifestFileRecord, 'sequence_number' | 'min_sequence_number'> & {
  /** Lowest explicit data sequence number among live entries; ADDED entries inherit the commit's. */
  minExplicitSequenceNumber: number | undefined;
};

export async function writeManifest(
  path: string,
  options: { schema: IcebergSchema; addedSnapshotId: SnapshotId; entries: EntryToWrite[] },
): Promise<WrittenManifest> {
  const records: ManifestEntryRecord[] = options.entries.map((e) => ({
    status: e.status,
    snapshot_id: e.snapshotId,
    sequence_number: e.sequenceNumber,
    file_sequence_number: e.fileSequenceNumber,
    data_file: dataFileToRecord(e.file),
  }));
  const buffer = encodeAvroContainer(MANIFEST_ENTRY_SCHEMA, records, {
    schema: JSON.stringify(schemaToJson(options.schema)),
    'schema-id': String(options.schema.schemaId),
    'partition-spec': '[]',
    'partition-spec-id': '0',
    'format-version': '2',
    content: 'data',
  });
  await writeNewFile(path, buffer);
  return describeManifest(toUri(path), buffer.length, options.addedSnapshotId, options.entries);
}

function describeManifest(
  uri: string,
  length: number,
  addedSnapshotId: SnapshotId,
  entries: EntryToWrite[],
): WrittenManifest {
  const count = (status: EntryStatus): number => entries.filter((e) => e.status === status).length;
  const rows = (status: EntryStatus): number =>
    entries.filter((e) => e.status === status).reduce((sum, e) => sum + e.file.recordCount, 0);
  const explicit = entries
    .filter((e) => e.status !== EntryStatus.Deleted && e.sequenceNumber !== null)
    .map((e) => e.sequenceNumber as number);
  return {
    manifest_path: uri,
    manifest_length: length,
    partition_spec_id: 0,
    content: 0,
    added_snapshot_id: addedSnapshotId,
    added_files_count: count(EntryStatus.Added),
    existing_files_count: count(EntryStatus.Existing),
    deleted_files_count: count(EntryStatus.Deleted),
    added_rows_count: rows(EntryStatus.Added),
    existing_rows_count: rows(EntryStatus.Existing),
    deleted_rows_count: rows(EntryStatus.Deleted),
    partitions: [],
    key_metadata: null,
    minExplicitSequenceNumber: explicit.length > 0 ? Math.min(...explicit) : undefined,
  };
}

/** The manifest-list row of a manifest first listed by the snapshot with `sequenceNumber`. */
export function listRow(manifest: WrittenManifest, sequenceNumber: number): ManifestFileRecord {
  const { minExplicitSequenceNumber, ...row } = manifest;
  const hasAdded = manifest.added_files_count > 0;
  const min = Math.min(minExplicitSequenceNumber ?? sequenceNumber, hasAdded ? sequenceNumber : Infinity);
  return { ...row, sequence_number: sequenceNumber, min_sequence_number: min };
}

export async function writeManifestList(
  path: string,
  options: {
    snapshotId: SnapshotId;
    parentSnapshotId?: SnapshotId;
    sequenceNumber: number;
    manifests: ManifestFileRecord[];
  },
): Promise<void> {
  const metadata: Record<string, string> = {
    'snapshot-id': String(options.snapshotId),
    'sequence-number': String(options.sequenceNumber),
    'format-version': '2',
  };
  if (options.parentSnapshotId !== undefined)
    metadata['parent-snapshot-id'] = String(options.parentSnapshotId);
  await writeNewFile(path, encodeAvroContainer(MANIFEST_FILE_SCHEMA, options.manifests, metadata));
}

// ---------------------------------------------------------------- reading

type LegacyManifestFileRecord = Partial<ManifestFileRecord> & {
  manifest_path: string;
  added_data_files_count?: number | null;
  existing_data_files_count?: number | null;
  deleted_data_files_count?: number | null;
};

/** Manifest-list rows; v1-style names and missing v2 fields are normalized (spec: read as 0). */
export async function readManifestList(location: string): Promise<ManifestFileRecord[]> {
  const { records } = decodeAvroContainer<LegacyManifestFileRecord>(
    await readFile(fromUri(location)),
    location,
  );
  return records.map((r) => ({
    manifest_path: r.manifest_path,
    manifest_length: r.manifest_length ?? 0,
    partition_spec_id: r.partition_spec_id ?? 0,
    content: r.content ?? 0,
    sequence_number: r.sequence_number ?? 0,
    min_sequence_number: r.min_sequence_number ?? 0,
    added_snapshot_id: r.added_snapshot_id ?? 0,
    added_files_count: r.added_files_count ?? r.added_data_files_count ?? 0,
    existing_files_count: r.existing_files_count ?? r.existing_data_files_count ?? 0,
    deleted_files_count: r.deleted_files_count ?? r.deleted_data_files_count ?? 0,
    added_rows_count: r.added_rows_count ?? 0,
    existing_rows_count: r.existing_rows_count ?? 0,
    deleted_rows_count: r.deleted_rows_count ?? 0,
    partitions: r.partitions ?? null,
    key_metadata: r.key_metadata ?? null,
  }));
}

/**
 * Entries of a manifest with inheritance applied: a null snapshot id comes from the manifest's
 * `added_snapshot_id`, null sequence numbers of ADDED entries from its `sequence_number`.
 */
export async function readManifestEntries(manifest: ManifestFileRecord): Promise<ManifestEntry[]> {
  const location = manifest.manifest_path;
  const { records } = decodeAvroContainer<ManifestEntryRecord>(await readFile(fromUri(location)), location);
  return records.map((r) => {
    const inherits = r.status === EntryStatus.Added;
    const sequenceNumber = r.sequence_number ?? (inherits ? manifest.sequence_number : undefined);
    const fileSequenceNumber = r.file_sequence_number ?? (inherits ? manifest.sequence_number : undefined);
    if (sequenceNumber === undefined || fileSequenceNumber === undefined) {
      throw new Error(`${location}: ${r.data_file.file_path} has status ${r.status} but no sequence number`);
    }
    if ((r.data_file.content ?? 0) !== 0) {
      throw new Error(`${location}: delete files are not supported (table has row-level deletes)`);
    }
    const snapshotId = r.snapshot_id ?? manifest.added_snapshot_id;
    const file = dataFileFromRecord(r.data_file);
    file.sequenceNumber = Number(sequenceNumber);
    file.fileSequenceNumber = Number(fileSequenceNumber);
    file.snapshotId = snapshotId;
    return {
      status: r.status as EntryStatus,
      snapshotId,
      sequenceNumber: Number(sequenceNumber),
      fileSequenceNumber: Number(fileSequenceNumber),
      file,
    };
  });
}
