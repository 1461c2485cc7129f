/**
 * Table metadata JSON (format version 2): its shape, parsing and serialization with 64-bit
 * ids intact, and the pure transitions a commit applies to it.
 */
import { randomUUID } from 'node:crypto';
import { basename } from 'node:path';
import type { Long } from './avro.js';
import { schemaFromJson, schemaToJson, type IcebergSchema, type SchemaJson } from './schema.js';

export type SnapshotId = Long;
export type Operation = 'append' | 'overwrite' | 'replace' | 'delete';

export interface SnapshotJson {
  'snapshot-id': SnapshotId;
  'parent-snapshot-id'?: SnapshotId;
  'sequence-number': number;
  'timestamp-ms': number;
  'manifest-list': string;
  summary: { operation: Operation } & Record<string, string>;
  'schema-id'?: number;
}

export interface SnapshotRefJson {
  'snapshot-id': SnapshotId;
  type: 'branch' | 'tag';
  'min-snapshots-to-keep'?: number;
  'max-snapshot-age-ms'?: number;
  'max-ref-age-ms'?: number;
}

export interface PartitionSpecJson {
  'spec-id': number;
  fields: { 'source-id': number; 'field-id': number; name: string; transform: string }[];
}

export interface SortOrderJson {
  'order-id': number;
  fields: { transform: string; 'source-id': number; direction: 'asc' | 'desc'; 'null-order': string }[];
}

export interface TableMetadataV2 {
  'format-version': 2;
  'table-uuid': string;
  location: string;
  'last-sequence-number': number;
  'last-updated-ms': number;
  'last-column-id': number;
  schemas: SchemaJson[];
  'current-schema-id': number;
  'partition-specs': PartitionSpecJson[];
  'default-spec-id': number;
  'last-partition-id': number;
  properties: Record<string, string>;
  /** -1 when the table has no snapshot (as the Java implementation writes it). */
  'current-snapshot-id': SnapshotId;
  refs: Record<string, SnapshotRefJson>;
  snapshots: SnapshotJson[];
  'snapshot-log': { 'snapshot-id': SnapshotId; 'timestamp-ms': number }[];
  'metadata-log': { 'metadata-file': string; 'timestamp-ms': number }[];
  'sort-orders': SortOrderJson[];
  'default-sort-order-id': number;
  statistics?: unknown[];
  'partition-statistics'?: unknown[];
}

/** Table properties Strata writes by default (they describe what it writes). */
export const DEFAULT_PROPERTIES: Readonly<Record<string, string>> = {
  'write.format.default': 'parquet',
  'write.parquet.compression-codec': 'snappy',
  'write.metadata.previous-versions-max': '100',
};

/** Highest partition field id of an unpartitioned table (field ids of partitions start at 1000). */
const UNPARTITIONED_LAST_PARTITION_ID = 999;

// ---------------------------------------------------------------- ids

/** Same snapshot id, whichever of number / bigint it is held as. */
export function sameId(a: SnapshotId | undefined, b: SnapshotId | undefined): boolean {
  if (a === undefined || b === undefined) return a === b;
  return BigInt(a) === BigInt(b);
}

/**
 * A new positive snapshot id. Kept below 2^53 so that every JSON and Avro reader, including
 * JavaScript ones, reads it exactly; ids of other writers may be larger and are kept as bigints.
 */
export function newSnapshotId(): number {
  const high = Math.floor(Math.random() * 2 ** 21);
  const low = Math.floor(Math.random() * 2 ** 32);
  return high * 2 ** 32 + low || 1;
}

export function hasSnapshot(metadata: TableMetadataV2): boolean {
  return !sameId(metadata['current-snapshot-id'], -1);
}

// ---------------------------------------------------------------- JSON with 64-bit ids

/** Stands in for a 64-bit id while the text goes through JSON.parse / JSON.stringify. */
const BIG_MARK = '@@strata-bigint:';
const ID_KEYS = /("(?:snapshot-id|parent-snapshot-id|current-snapshot-id)"\s*:\s*)(-?\d{16,})/g;

/** JSON.parse, except that snapshot ids beyond 2^53 become bigints instead of rounding. */
export function parseMetadataJson(text: string): TableMetadataV2 {
  const marked = text.replace(ID_KEYS, (whole, prefix: string, digits: string) =>
    Number.isSafeInteger(Number(digits)) ? whole : `${prefix}"${BIG_MARK}${digits}"`,
  );
  const parsed = JSON.parse(marked, (_key, value: unknown) =>
    typeof value === 'string' && value.startsWith(BIG_MARK) ? BigInt(value.slice(BIG_MARK.length)) : value,
  ) as TableMetadataV2 & { 'current-snapshot-id'?: SnapshotId | null };
  return normalizeMetadata(parsed);
}

/** Fills fields other writers may omit, so the rest of the code sees one shape. */
function normalizeMetadata(
  raw: TableMetadataV2 & { 'current-snapshot-id'?: SnapshotId | null },
): TableMetadataV2 {
  if (raw['format-version'] !== 2) {
    throw new Error(
      `unsupported Iceberg format-version ${String(raw['format-version'])} (Strata reads and writes v2)`,
    );
  }
  return {
    ...raw,
    properties: raw.properties ?? {},
    'current-snapshot-id': raw['current-snapshot-id'] ?? -1,
    refs: raw.refs ?? {},
    snapshots: raw.snapshots ?? [],
    'snapshot-log': raw['snapshot-log'] ?? [],
    'metadata-log': raw['metadata-log'] ?? [],
  };
}

export function stringifyMetadata(metadata: TableMetadataV2): string {
  const text = JSON.stringify(
    metadata,
    (_key, value: unknown) => (typeof value === 'bigint' ? `${BIG_MARK}${value}` : value),
    2,
  );
  return text.replace(/"@@strata-bigint:(-?\d+)"/g, '$1');
}

// ---------------------------------------------------------------- file names

/** `<version>-<uuid>.metadata.json`, the version zero-padded to 5 digits as Java writes it. */
export function metadataFileName(version: number): string {
  return `${String(version).padStart(5, '0')}-${randomUUID()}.metadata.json`;
}

/** The version number of a metadata file name (`00003-…` or `v3.metadata.json`), or -1. */
export function metadataVersion(location: string): number {
  const name = basename(location);
  const match = /^v?(\d+)[-.]/.exec(name);
  return match ? Number(match[1]) : -1;
}

// ---------------------------------------------------------------- reading

export function currentSchema(metadata: TableMetadataV2): IcebergSchema {
  return schemaById(metadata, metadata['current-schema-id']);
}

export function schemaById(metadata: TableMetadataV2, schemaId: number): IcebergSchema {
  const json = metadata.schemas.find((s) => s['schema-id'] === schemaId);
  if (!json) throw new Error(`schema ${schemaId} is missing from table metadata`);
  return schemaFromJson(json);
}

export function findSnapshot(metadata: TableMetadataV2, id: SnapshotId): SnapshotJson | undefined {
  return metadata.snapshots.find((s) => sameId(s['snapshot-id'], id));
}

export function currentSnapshotJson(metadata: TableMetadataV2): SnapshotJson | undefined {
  return hasSnapshot(metadata) ? findSnapshot(metadata, metadata['current-snapshot-id']) : undefined;
}

// ---------------------------------------------------------------- transitions

export function newTableMetadata(options: {
  location: string;
  schema: IcebergSchema;
  properties: Record<string, string>;
  nowMs: number;
}): TableMetadataV2 {
  const { schema } = options;
  return {
    'format-version': 2,
    'table-uuid': randomUUID(),
    location: options.location,
    'last-sequence-number': 0,
    'last-updated-ms': options.nowMs,
    'last-column-id': Math.max(0, ...schema.fields.map((f) => f.id)),
    schemas: [schemaToJson(schema)],
    'current-schema-id': schema.schemaId,
    'partition-specs': [{ 'spec-id': 0, fields: [] }],
    'default-spec-id': 0,
    'last-partition-id': UNPARTITIONED_LAST_PARTITION_ID,
    properties: { ...DEFAULT_PROPERTIES, ...options.properties },
    'current-snapshot-id': -1,
    refs: {},
    snapshots: [],
    'snapshot-log': [],
    'metadata-log': [],
    'sort-orders': [{ 'order-id': 0, fields: [] }],
    'default-sort-order-id': 0,
  };
}

/**
 * The common part of every new metadata version: a later `last-updated-ms` (never going
 * backwards, which Iceberg validates) and the previous file appended to the metadata log,
 * pruned to `write.metadata.previous-versions-max` entries.
 */
export function nextVersion(base: TableMetadataV2, baseLocation: string, nowMs: number): TableMetadataV2 {
  const updatedMs = Math.max(nowMs, base['last-updated-ms']);
  const max = Number(base.properties['write.metadata.previous-versions-max'] ?? 100);
  const log = [
    ...base['metadata-log'],
    { 'metadata-file': baseLocation, 'timestamp-ms': base['last-updated-ms'] },
  ];
  return { ...base, 'last-updated-ms': updatedMs, 'metadata-log': log.slice(Math.max(0, log.length - max)) };
}

export function withSnapshot(metadata: TableMetadataV2, snapshot: SnapshotJson): TableMetadataV2 {
  return {
    ...metadata,
    'last-sequence-number': snapshot['sequence-number'],
    'current-snapshot-id': snapshot['snapshot-id'],
    refs: { ...metadata.refs, main: { 'snapshot-id': snapshot['snapshot-id'], type: 'branch' } },
    snapshots: [...metadata.snapshots, snapshot],
    'snapshot-log': [
      ...metadata['snapshot-log'],
      { 'snapshot-id': snapshot['snapshot-id'], 'timestamp-ms': snapshot['timestamp-ms'] },
    ],
  };
}

export function withSchema(metadata: TableMetadataV2, schema: IcebergSchema): TableMetadataV2 {
  return {
    ...metadata,
    schemas: [...metadata.schemas, schemaToJson(schema)],
    'current-schema-id': schema.schemaId,
    'last-column-id': Math.max(metadata['last-column-id'], ...schema.fields.map((f) => f.id)),
  };
}

/**
 * Removes snapshots; the snapshot log keeps only the entries after the last one that refers
 * to a removed snapshot, as Java's TableMetadata does, so the log stays a valid history.
 */
export function withoutSnapshots(metadata: TableMetadataV2, removed: ReadonlySet<string>): TableMetadataV2 {
  const isRemoved = (id: SnapshotId): boolean => removed.has(String(id));
  let log: TableMetadataV2['snapshot-log'] = [];
  for (const entry of metadata['snapshot-log']) {
    if (isRemoved(entry['snapshot-id'])) log = [];
    else log.push(entry);
  }
  const refs = Object.fromEntries(
    Object.entries(metadata.refs).filter(([, ref]) => !isRemoved(ref['snapshot-id'])),
  );
  return {
    ...metadata,
    snapshots: metadata.snapshots.filter((s) => !isRemoved(s['snapshot-id'])),
    'snapshot-log': log,
    refs,
  };
}

/**
 * Snapshots to expire: older than the cutoff and neither current, referenced by a branch or
 * tag, among the last `retainLast` of the current history, nor in `protect` (ids as strings:
 * pinned by a running query, or holding a pipeline's committed position).
 */
export function expiredSnapshots(
  metadata: TableMetadataV2,
  olderThanMs: number,
  retainLast: number,
  protect: ReadonlySet<string> = new Set(),
): SnapshotJson[] {
  const keep = new Set<string>(Object.values(metadata.refs).map((r) => String(r['snapshot-id'])));
  for (const id of protect) keep.add(id);
  let cursor = currentSnapshotJson(metadata);
  for (let n = 0; cursor && n < retainLast; n++) {
    keep.add(String(cursor['snapshot-id']));
    const parent = cursor['parent-snapshot-id'];
    cursor = parent === undefined ? undefined : findSnapshot(metadata, parent);
  }
  return metadata.snapshots.filter(
    (s) => !keep.has(String(s['snapshot-id'])) && s['timestamp-ms'] < olderThanMs,
  );
}

/**
 * Previous metadata files older than the cutoff leave the metadata log (Java's
 * `write.metadata.delete-after-commit` does the same by count): they describe versions whose
 * snapshots are being expired, and keeping them listed would keep them from being deleted.
 */
export function withoutOldMetadataLog(
  metadata: TableMetadataV2,
  olderThanMs: number,
): { metadata: TableMetadataV2; dropped: string[] } {
  const log = metadata['metadata-log'];
  const kept = log.filter((e) => e['timestamp-ms'] >= olderThanMs);
  const dropped = log.filter((e) => e['timestamp-ms'] < olderThanMs).map((e) => e['metadata-file']);
  return { metadata: { ...metadata, 'metadata-log': kept }, dropped };
}

/**
 * For each pipeline whose committed position some snapshot summary records
 * (`strata.pipeline`), the newest such snapshot: expiry keeps it, so the position stays
 * readable whatever else is expired. (Strata carries the position forward into every later
 * snapshot, so this is normally the current one; a snapshot written by another writer that
 * did not carry it is why this rule exists.)
 */
export function positionSnapshots(metadata: TableMetadataV2, pipelineKey: string): Set<string> {
  const newest = new Map<string, SnapshotJson>();
  for (const snapshot of metadata.snapshots) {
    const pipeline = snapshot.summary[pipelineKey];
    if (pipeline === undefined) continue;
    const seen = newest.get(pipeline);
    if (!seen || snapshot['sequence-number'] > seen['sequence-number']) newest.set(pipeline, snapshot);
  }
  return new Set([...newest.values()].map((s) => String(s['snapshot-id'])));
}
