/**
 * The warehouse: Iceberg v2 tables on local disk, registered in an Iceberg SQL catalog.
 *
 * Every change follows Iceberg's optimistic concurrency: write the new files (data, manifests,
 * manifest list, metadata JSON), then compare-and-swap the metadata location in the catalog.
 * Until the swap nothing written is referenced, so a crash leaves orphans, never a broken
 * table; a lost swap reloads the table and re-applies the change to the new current version.
 */
import { randomUUID } from 'node:crypto';
import { readFile, rm } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import type { DuckDBConnection } from '@duckdb/node-api';
import { FileCache } from './cache.js';
import { formatIdentifier, type IcebergCatalog, type TableIdentifier } from './catalog.js';
import { fromUri, listFiles, removeQuietly, toUri, writeNewFile } from './files.js';
import {
  EntryStatus,
  listRow,
  readManifestEntries,
  readManifestList,
  writeManifest,
  writeManifestList,
  type DataFile,
  type EntryToWrite,
  type ManifestEntry,
  type ManifestFileRecord,
  type WrittenManifest,
} from './manifest.js';
import {
  currentSchema,
  expiredSnapshots,
  currentSnapshotJson,
  findSnapshot,
  metadataFileName,
  metadataVersion,
  newSnapshotId,
  newTableMetadata,
  nextVersion,
  parseMetadataJson,
  sameId,
  schemaById,
  stringifyMetadata,
  withSchema,
  withSnapshot,
  withoutOldMetadataLog,
  withoutSnapshots,
  positionSnapshots,
  type Operation,
  type SnapshotId,
  type SnapshotJson,
  type TableMetadataV2,
} from './metadata.js';
import { writeDataFile } from './parquet.js';
import { stageRows } from './rows.js';
import {
  findField,
  normalizeType,
  schemaForColumns,
  type ColumnDefinition,
  type IcebergField,
  type IcebergSchema,
  type IcebergType,
} from './schema.js';
import { activePins, type PinnedSnapshot } from './pins.js';
import { PIPELINE_PROPERTY, snapshotSummary } from './summary.js';

export type { DataFile } from './manifest.js';
export type { SnapshotId, TableMetadataV2 } from './metadata.js';
export type { ColumnDefinition } from './schema.js';
export { readParquetSql } from './sql.js';

export interface Snapshot {
  snapshotId: SnapshotId;
  parentSnapshotId?: SnapshotId;
  sequenceNumber: number;
  timestampMs: number;
  operation: Operation;
  summary: Record<string, string>;
  /** Location (URI) of the snapshot's manifest list. */
  manifestList: string;
  schemaId: number;
}

export interface TableState {
  id: TableIdentifier;
  /** Location (URI) of the metadata JSON this state was read from. */
  metadataLocation: string;
  metadata: TableMetadataV2;
  /** The current schema. */
  schema: IcebergSchema;
  /** The current snapshot; absent for a table nothing was committed to. */
  snapshot?: Snapshot;
}

/** Called after a commit's files are written and before the catalog swap (tests simulate crashes here). */
export type BeforeSwapHook = (info: {
  id: TableIdentifier;
  metadataLocation: string;
  attempt: number;
}) => void | Promise<void>;

export interface WarehouseOptions {
  /** Local directory holding `<namespace>/<table>/{data,metadata}`. */
  root: string;
  catalog: IcebergCatalog;
  /** Writes the Parquet data files. */
  duckdb: DuckDBConnection;
  clock?: () => number;
  /** Swaps lost to concurrent commits that are retried (default 10). */
  commitRetries?: number;
  beforeSwap?: BeforeSwapHook;
}

/**
 * A commit that cannot be applied: a file it replaces is no longer live (`conflict`), or it
 * lost the catalog swap more than `commitRetries` times (`retries-exhausted`). Nothing was committed.
 */
export class CommitConflictError extends Error {
  constructor(
    message: string,
    readonly reason: 'conflict' | 'retries-exhausted' = 'conflict',
  ) {
    super(message);
    this.name = 'CommitConflictError';
  }
}

export class NoSuchTableError extends Error {
  constructor(id: TableIdentifier, catalog: string) {
    super(`table ${formatIdentifier(id)} does not exist in catalog ${catalog}`);
    this.name = 'NoSuchTableError';
  }
}

/** What one commit attempt produces from the table's current version. */
interface Attempt<T> {
  metadata: TableMetadataV2;
  result: T;
  /** Files written for this attempt only, removed when its swap is lost. */
  files: string[];
}

/** A change re-derived from each fresh base version; undefined means nothing to commit. */
type BuildAttempt<T> = (base: TableState, attempt: number) => Promise<Attempt<T> | undefined>;

interface Committed<T> {
  result: T;
  /** The version the commit created. */
  state: TableState;
}

/** For changes that always commit something. */
function committed<T>(outcome: Committed<T> | undefined): Committed<T> {
  if (!outcome) throw new Error('internal error: commit produced no change');
  return outcome;
}

interface FileChange {
  operation: Operation;
  added: DataFile[];
  /** Paths of data files to remove; each must be live in the version the commit lands on. */
  removed: string[];
  /** Extra snapshot summary properties (a CDC pipeline's committed position). */
  properties?: Record<string, string>;
}

/** Rows to append to one table, with the summary properties its snapshot records. */
export interface TableAppend {
  id: TableIdentifier;
  rows: readonly Record<string, unknown>[];
  properties?: Record<string, string>;
}

/** Decides, from the current versions of the tables, whether a multi-table append still applies. */
export type AppendGuard = (current: ReadonlyMap<string, TableState>) => boolean;

const DEFAULT_COMMIT_RETRIES = 10;

function sleep(ms: number): Promise<void> {
  return new Promise((done) => setTimeout(done, ms));
}

/** Exponential backoff with full jitter, so racing writers spread out instead of colliding again. */
function backoffMs(attempt: number): number {
  const ceiling = Math.min(1000, 5 * 2 ** attempt);
  return ceiling / 2 + Math.random() * ceiling;
}

export function snapshotFromJson(json: SnapshotJson, fallbackSchemaId: number): Snapshot {
  const snapshot: Snapshot = {
    snapshotId: json['snapshot-id'],
    sequenceNumber: json['sequence-number'],
    timestampMs: json['timestamp-ms'],
    operation: json.summary.operation,
    summary: { ...json.summary },
    manifestList: json['manifest-list'],
    schemaId: json['schema-id'] ?? fallbackSchemaId,
  };
  if (json['parent-snapshot-id'] !== undefined) snapshot.parentSnapshotId = json['parent-snapshot-id'];
  return snapshot;
}

function stateOf(id: TableIdentifier, metadataLocation: string, metadata: TableMetadataV2): TableState {
  const state: TableState = { id, metadataLocation, metadata, schema: currentSchema(metadata) };
  const snapshot = currentSnapshotJson(metadata);
  if (snapshot) state.snapshot = snapshotFromJson(snapshot, metadata['current-schema-id']);
  return state;
}

function isLive(entry: ManifestEntry): boolean {
  return entry.status !== EntryStatus.Deleted;
}

function liveFileCount(manifest: ManifestFileRecord): number {
  return manifest.added_files_count + manifest.existing_files_count;
}

/** Groups manifests, in order, into runs whose total length stays within `target` (each run at least one). */
function binPack(manifests: ManifestFileRecord[], target: number): ManifestFileRecord[][] {
  const groups: ManifestFileRecord[][] = [];
  let current: ManifestFileRecord[] = [];
  let size = 0;
  for (const manifest of manifests) {
    const length = Number(manifest.manifest_length);
    if (current.length > 0 && size + length > target) {
      groups.push(current);
      current = [];
      size = 0;
    }
    current.push(manifest);
    size += length;
  }
  if (current.length > 0) groups.push(current);
  return groups;
}

/** What `expireSnapshots` did. */
export interface ExpireResult {
  expired: number;
  /** Ids of the expired snapshots, as decimal strings. */
  expiredSnapshotIds: string[];
  /** Files deleted: manifest lists, manifests and data files only expired snapshots reached, old metadata files. */
  removedFiles: string[];
}

/** What `rewriteManifests` did: manifests replaced and written, and the `replace` snapshot when one was committed. */
export interface RewriteManifestsResult {
  replaced: number;
  created: number;
  snapshot?: Snapshot;
}

export class Warehouse {
  readonly root: string;
  readonly catalog: IcebergCatalog;
  private readonly duckdb: DuckDBConnection;
  private readonly clock: () => number;
  private readonly commitRetries: number;
  private readonly beforeSwap: BeforeSwapHook | undefined;
  private readonly metadataCache = new FileCache<TableMetadataV2>();
  private readonly manifestListCache = new FileCache<ManifestFileRecord[]>();
  private readonly manifestCache = new FileCache<ManifestEntry[]>();
  /** Commits of this instance to one table queue up rather than race each other in the catalog. */
  private readonly commitQueues = new Map<string, Promise<unknown>>();

  constructor(options: WarehouseOptions) {
    this.root = resolve(options.root);
    this.catalog = options.catalog;
    this.duckdb = options.duckdb;
    this.clock = options.clock ?? Date.now;
    this.commitRetries = options.commitRetries ?? DEFAULT_COMMIT_RETRIES;
    this.beforeSwap = options.beforeSwap;
  }

  // ---------------------------------------------------------------- tables

  async createTable(
    id: TableIdentifier,
    columns: ColumnDefinition[],
    options: { identifierFields?: string[]; properties?: Record<string, string> } = {},
  ): Promise<TableState> {
    const schema = schemaForColumns(columns, options.identifierFields);
    const tableDir = join(this.root, id.namespace, id.name);
    const metadata = newTableMetadata({
      location: toUri(tableDir),
      schema,
      properties: options.properties ?? {},
      nowMs: this.clock(),
    });
    const path = join(tableDir, 'metadata', metadataFileName(0));
    await writeNewFile(path, stringifyMetadata(metadata));
    try {
      await this.catalog.createNamespace(id.namespace);
      await this.catalog.registerTable(id, toUri(path));
    } catch (error) {
      await removeQuietly([path]);
      throw error;
    }
    this.metadataCache.set(toUri(path), metadata);
    return stateOf(id, toUri(path), metadata);
  }

  async exists(id: TableIdentifier): Promise<boolean> {
    return (await this.catalog.currentMetadataLocation(id)) !== undefined;
  }

  async load(id: TableIdentifier): Promise<TableState> {
    const location = await this.catalog.currentMetadataLocation(id);
    if (location === undefined) throw new NoSuchTableError(id, this.catalog.name);
    return stateOf(id, location, await this.readMetadata(location));
  }

  /** Unregisters the table; `purge` also deletes its directory. */
  async dropTable(id: TableIdentifier, options: { purge?: boolean } = {}): Promise<void> {
    const location = await this.catalog.currentMetadataLocation(id);
    const metadata = location === undefined ? undefined : await this.readMetadata(location);
    await this.catalog.dropTable(id);
    if (options.purge && metadata) await rm(fromUri(metadata.location), { recursive: true, force: true });
  }

  // ---------------------------------------------------------------- reading

  /** Live data files of a snapshot (default: current), with the schema to read them with. */
  async planFiles(
    state: TableState,
    snapshotId?: SnapshotId,
  ): Promise<{ files: DataFile[]; schema: IcebergSchema }> {
    const timeTravel = snapshotId !== undefined && !sameId(snapshotId, state.snapshot?.snapshotId);
    const snapshot =
      snapshotId === undefined
        ? currentSnapshotJson(state.metadata)
        : findSnapshot(state.metadata, snapshotId);
    if (!snapshot) {
      if (snapshotId !== undefined)
        throw new Error(`snapshot ${snapshotId} of ${formatIdentifier(state.id)} does not exist`);
      return { files: [], schema: state.schema };
    }
    // The current table reads with the current schema; an older snapshot with the schema it was written with.
    const schemaId = timeTravel ? snapshot['schema-id'] : undefined;
    const schema = schemaId === undefined ? state.schema : schemaById(state.metadata, schemaId);
    const entries = await this.liveEntries(snapshot['manifest-list']);
    return { files: entries.map((e) => ({ ...e.file })), schema };
  }

  private async readMetadata(location: string): Promise<TableMetadataV2> {
    return this.metadataCache.get(location, async () =>
      parseMetadataJson(await readFile(fromUri(location), 'utf8')),
    );
  }

  private async manifestList(location: string): Promise<ManifestFileRecord[]> {
    return this.manifestListCache.get(location, () => readManifestList(location));
  }

  private async manifestEntries(manifest: ManifestFileRecord): Promise<ManifestEntry[]> {
    return this.manifestCache.get(manifest.manifest_path, () => readManifestEntries(manifest));
  }

  private async liveEntries(manifestListLocation: string): Promise<ManifestEntry[]> {
    const manifests = await this.manifestList(manifestListLocation);
    if (manifests.some((m) => m.content !== 0)) {
      throw new Error('tables with delete files (row-level deletes) are not supported');
    }
    const perManifest = await Promise.all(manifests.map((m) => this.manifestEntries(m)));
    return perManifest.flat().filter(isLive);
  }

  // ---------------------------------------------------------------- writing

  /**
   * Writes the rows of a DuckDB query (columns named like the table's; missing optional
   * columns NULL) as one Parquet file and commits an `append` snapshot.
   */
  async appendQuery(id: TableIdentifier, sql: string): Promise<Snapshot> {
    const state = await this.load(id);
    const added = await this.writeData(state, sql);
    return this.commitFiles(id, { operation: 'append', added, removed: [] });
  }

  /** Appends literal rows (dates 'YYYY-MM-DD', timestamps ISO strings, numbers, bigints, booleans, null). */
  async appendRows(id: TableIdentifier, rows: Record<string, unknown>[]): Promise<Snapshot> {
    const state = await this.load(id);
    const staged = await stageRows(this.duckdb, rows, state.schema);
    try {
      return await this.appendQuery(id, staged.sql);
    } finally {
      await staged.drop();
    }
  }

  /**
   * Atomically replaces `replaces` (data files live at `basedOn`) with the rows of `sql`, as
   * one `overwrite` snapshot. Files appended concurrently are kept; if a replaced file is no
   * longer live (someone else rewrote it), throws CommitConflictError and commits nothing.
   * `properties` (from the files written) go into the snapshot's summary.
   */
  async overwrite(
    id: TableIdentifier,
    replaces: DataFile[],
    sql: string,
    basedOn: Snapshot,
    options: { properties?: (added: readonly DataFile[]) => Record<string, string> } = {},
  ): Promise<Snapshot> {
    const state = await this.load(id);
    const added = await this.writeData(state, sql);
    const removed = [...new Set(replaces.map((f) => f.path))];
    const properties = options.properties?.(added);
    try {
      return await this.commitFiles(id, {
        operation: 'overwrite',
        added,
        removed,
        ...(properties ? { properties } : {}),
      });
    } catch (error) {
      if (error instanceof CommitConflictError && error.reason === 'conflict') {
        error.message = `${error.message} (overwrite based on snapshot ${basedOn.snapshotId})`;
      }
      throw error;
    }
  }

  /**
   * Appends rows to several tables as ONE atomic change: every table gets its snapshot (with
   * `properties` in its summary), and all metadata pointers swap in one catalog transaction,
   * or none does. `guard` sees the current versions before each attempt; false abandons the
   * append (the rows were committed already, say by a run that crashed before it could
   * acknowledge them): 'skipped'. A lost swap retries on the new versions.
   */
  async appendAtomically(
    appends: readonly TableAppend[],
    guard?: AppendGuard,
  ): Promise<'committed' | 'skipped'> {
    const prepared = [];
    for (const append of appends) {
      const state = await this.load(append.id);
      const staged = await stageRows(this.duckdb, append.rows, state.schema);
      try {
        const added = await this.writeData(state, staged.sql);
        prepared.push({ append, added, ...(await this.prepareAdded(state, added)) });
      } finally {
        await staged.drop();
      }
    }
    const dataFiles = prepared.flatMap((p) => [...p.added.map((f) => f.path), ...p.written]);
    for (let attempt = 0; attempt <= this.commitRetries; attempt++) {
      const bases = new Map<string, TableState>();
      for (const { append } of prepared) bases.set(formatIdentifier(append.id), await this.load(append.id));
      if (guard && !guard(bases)) {
        await removeQuietly(dataFiles);
        return 'skipped';
      }
      const attemptFiles: string[] = [];
      const swaps = [];
      const next = new Map<string, TableMetadataV2>();
      for (const { append, added, snapshotId, commitId, metadataDir, addedManifest } of prepared) {
        const base = bases.get(formatIdentifier(append.id))!;
        const change: FileChange = {
          operation: 'append',
          added,
          removed: [],
          ...(append.properties ? { properties: append.properties } : {}),
        };
        const built = await this.buildSnapshot(base, attempt, {
          change,
          snapshotId,
          commitId,
          metadataDir,
          addedManifest,
        });
        const path = join(metadataDir, metadataFileName(metadataVersion(base.metadataLocation) + 1));
        await writeNewFile(path, stringifyMetadata(built.metadata));
        attemptFiles.push(path, ...built.files);
        swaps.push({ id: append.id, expected: base.metadataLocation, next: toUri(path) });
        next.set(toUri(path), built.metadata);
      }
      await this.beforeSwap?.({ id: swaps[0]!.id, metadataLocation: swaps[0]!.next, attempt });
      if (await this.catalog.swapMetadataLocations(swaps)) {
        for (const [location, metadata] of next) this.metadataCache.set(location, metadata);
        return 'committed';
      }
      await removeQuietly(attemptFiles);
      await sleep(backoffMs(attempt));
    }
    await removeQuietly(dataFiles);
    throw new CommitConflictError(
      `an atomic append to ${appends.map((a) => formatIdentifier(a.id)).join(', ')} lost the catalog swap ${this.commitRetries + 1} times`,
      'retries-exhausted',
    );
  }

  /** The manifest of newly added files, written once for every attempt of a commit. */
  private async prepareAdded(state: TableState, added: DataFile[]) {
    const snapshotId = newSnapshotId();
    const commitId = randomUUID();
    const metadataDir = join(fromUri(state.metadata.location), 'metadata');
    const written: string[] = [];
    let addedManifest: WrittenManifest | undefined;
    if (added.length > 0) {
      const path = join(metadataDir, `${commitId}-m0.avro`);
      written.push(path);
      addedManifest = await writeManifest(path, {
        schema: state.schema,
        addedSnapshotId: snapshotId,
        entries: added.map((file) => ({
          status: EntryStatus.Added,
          snapshotId,
          sequenceNumber: null,
          fileSequenceNumber: null,
          file,
        })),
      });
    }
    return { snapshotId, commitId, metadataDir, addedManifest, written };
  }

  /** Schema evolution: a new optional column with the next field id, in a new schema version. */
  async addColumn(id: TableIdentifier, column: { name: string; type: IcebergType }): Promise<TableState> {
    const type = normalizeType(column.type);
    const outcome = await this.commit(id, async (base) => {
      if (findField(base.schema, column.name)) {
        throw new Error(`column ${JSON.stringify(column.name)} already exists in ${formatIdentifier(id)}`);
      }
      const field: IcebergField = {
        id: base.metadata['last-column-id'] + 1,
        name: column.name,
        type,
        required: false,
      };
      const schema: IcebergSchema = {
        ...base.schema,
        schemaId: Math.max(...base.metadata.schemas.map((s) => s['schema-id'])) + 1,
        fields: [...base.schema.fields, field],
      };
      const metadata = withSchema(nextVersion(base.metadata, base.metadataLocation, this.clock()), schema);
      return { metadata, result: undefined, files: [] };
    });
    return committed(outcome).state;
  }

  private async writeData(state: TableState, sql: string): Promise<DataFile[]> {
    const path = join(fromUri(state.metadata.location), 'data', `${randomUUID()}.parquet`);
    const file = await writeDataFile(this.duckdb, { sql, schema: state.schema, path });
    if (file.recordCount > 0) return [file];
    await removeQuietly([path]);
    return [];
  }

  /**
   * Commits added / removed data files as one snapshot. The manifest of added files is written
   * once (its entries inherit the sequence number, so it fits any retry); each attempt writes
   * the manifest list, rewrites manifests losing files, and the metadata JSON.
   */
  private async commitFiles(id: TableIdentifier, change: FileChange): Promise<Snapshot> {
    const state = await this.load(id);
    const spec = state.metadata['partition-specs'].find(
      (p) => p['spec-id'] === state.metadata['default-spec-id'],
    );
    if (spec && spec.fields.length > 0) {
      // Manifests written here carry an empty partition tuple, which only fits unpartitioned tables.
      throw new Error(`${formatIdentifier(id)} is partitioned; Strata writes unpartitioned tables only`);
    }
    const {
      snapshotId,
      commitId,
      metadataDir,
      addedManifest,
      written: manifests,
    } = await this.prepareAdded(state, change.added);
    const written: string[] = [...change.added.map((f) => f.path), ...manifests];
    try {
      const outcome = await this.commit(id, (base, attempt) =>
        this.buildSnapshot(base, attempt, { change, snapshotId, commitId, metadataDir, addedManifest }),
      );
      return committed(outcome).result;
    } catch (error) {
      // Nothing references these files unless the swap happened; a catalog error leaves its outcome unknown.
      if (error instanceof CommitConflictError) await removeQuietly(written);
      throw error;
    }
  }

  private async buildSnapshot(
    base: TableState,
    attempt: number,
    context: {
      change: FileChange;
      snapshotId: number;
      commitId: string;
      metadataDir: string;
      addedManifest: WrittenManifest | undefined;
    },
  ): Promise<Attempt<Snapshot>> {
    const { change, snapshotId, commitId, metadataDir, addedManifest } = context;
    const sequenceNumber = base.metadata['last-sequence-number'] + 1;
    const baseManifests = base.snapshot ? await this.manifestList(base.snapshot.manifestList) : [];
    const files: string[] = [];
    const newManifestPath = (): string => {
      const path = join(metadataDir, `${commitId}-m${attempt + 1}-${files.length}.avro`);
      files.push(path);
      return path;
    };
    const removal = await this.removeFiles(base, baseManifests, change.removed, {
      snapshotId,
      newManifestPath,
    });
    const merge = await this.mergeManifests(base, removal.kept, { snapshotId, newManifestPath });
    const newManifests = [addedManifest, ...removal.rewritten, ...merge.merged].filter(
      (m) => m !== undefined,
    );
    const manifests = [...newManifests.map((m) => listRow(m, sequenceNumber)), ...merge.kept];
    const listPath = join(metadataDir, `snap-${snapshotId}-${attempt + 1}-${commitId}.avro`);
    files.push(listPath);
    const parentSnapshotId = base.snapshot?.snapshotId;
    await writeManifestList(listPath, { snapshotId, parentSnapshotId, sequenceNumber, manifests });
    const metadata = nextVersion(base.metadata, base.metadataLocation, this.clock());
    const json: SnapshotJson = {
      'sequence-number': sequenceNumber,
      'snapshot-id': snapshotId,
      'timestamp-ms': metadata['last-updated-ms'],
      summary: {
        ...snapshotSummary(
          change.operation,
          base.snapshot?.summary,
          baseManifests,
          change.added,
          removal.removed,
        ),
        ...change.properties,
      },
      'manifest-list': toUri(listPath),
      'schema-id': base.schema.schemaId,
    };
    if (parentSnapshotId !== undefined) json['parent-snapshot-id'] = parentSnapshotId;
    return {
      metadata: withSnapshot(metadata, json),
      result: snapshotFromJson(json, base.schema.schemaId),
      files,
    };
  }

  /**
   * Drops `paths` from the base version: manifests holding them are rewritten with the other
   * live files as EXISTING and these as DELETED (sequence numbers kept explicit, as the spec
   * requires); the others are carried over, except ones with no live file left.
   */
  private async removeFiles(
    base: TableState,
    baseManifests: ManifestFileRecord[],
    paths: string[],
    options: { snapshotId: number; newManifestPath: () => string },
  ): Promise<{ kept: ManifestFileRecord[]; rewritten: WrittenManifest[]; removed: DataFile[] }> {
    const wanted = new Set(paths);
    const kept: ManifestFileRecord[] = [];
    const affected: ManifestEntry[][] = [];
    for (const manifest of baseManifests) {
      if (manifest.content === 0 && liveFileCount(manifest) === 0) continue;
      const live =
        wanted.size > 0 && manifest.content === 0
          ? (await this.manifestEntries(manifest)).filter(isLive)
          : [];
      if (live.some((e) => wanted.has(e.file.path))) affected.push(live);
      else kept.push(manifest);
    }
    // Validate before writing anything: a conflict leaves no files behind.
    const removed = affected
      .flat()
      .filter((e) => wanted.has(e.file.path))
      .map((e) => e.file);
    const missing = paths.filter((p) => !removed.some((f) => f.path === p));
    if (missing.length > 0) {
      throw new CommitConflictError(
        `cannot replace ${missing.length} data file(s) of ${formatIdentifier(base.id)} that are no longer live ` +
          `(rewritten or removed by a concurrent commit): ${missing.slice(0, 3).join(', ')}`,
      );
    }
    const rewritten = await Promise.all(
      affected.map((live) =>
        writeManifest(options.newManifestPath(), {
          schema: base.schema,
          addedSnapshotId: options.snapshotId,
          entries: live.map((e) => {
            const gone = wanted.has(e.file.path);
            return {
              status: gone ? EntryStatus.Deleted : EntryStatus.Existing,
              snapshotId: gone ? options.snapshotId : e.snapshotId,
              sequenceNumber: e.sequenceNumber,
              fileSequenceNumber: e.fileSequenceNumber,
              file: e.file,
            };
          }),
        }),
      ),
    );
    return { kept, rewritten, removed };
  }

  /**
   * Like Java's merge-append: once a snapshot would list `commit.manifest.min-count-to-merge`
   * (default 100) data manifests, the carried-over ones are merged into one manifest of
   * EXISTING entries, so that planning a table with many small appends stays cheap.
   */
  private async mergeManifests(
    base: TableState,
    kept: ManifestFileRecord[],
    options: { snapshotId: number; newManifestPath: () => string },
  ): Promise<{ kept: ManifestFileRecord[]; merged: WrittenManifest[] }> {
    const { properties } = base.metadata;
    const minCount = Number(properties['commit.manifest.min-count-to-merge'] ?? 100);
    const data = kept.filter((m) => m.content === 0);
    if (properties['commit.manifest-merge.enabled'] === 'false' || data.length < Math.max(2, minCount)) {
      return { kept, merged: [] };
    }
    const live = (await Promise.all(data.map((m) => this.manifestEntries(m)))).flat().filter(isLive);
    const entries: EntryToWrite[] = live.map((e) => ({
      status: EntryStatus.Existing,
      snapshotId: e.snapshotId,
      sequenceNumber: e.sequenceNumber,
      fileSequenceNumber: e.fileSequenceNumber,
      file: e.file,
    }));
    const merged = await writeManifest(options.newManifestPath(), {
      schema: base.schema,
      addedSnapshotId: options.snapshotId,
      entries,
    });
    return { kept: kept.filter((m) => m.content !== 0), merged: [merged] };
  }

  // ---------------------------------------------------------------- maintenance

  /**
   * Removes snapshots older than `olderThanMs` from metadata, keeping the current one, the last
   * `retainLast` (default 1) of its history, snapshots pinned by running queries (pins.ts) and
   * the newest snapshot recording each pipeline's committed position; trims the metadata log
   * to the same cutoff; then deletes the files only the expired snapshots (and the dropped
   * metadata files) reached, sparing whatever a pin taken meanwhile reads.
   */
  async expireSnapshots(
    id: TableIdentifier,
    options: { olderThanMs: number; retainLast?: number },
  ): Promise<ExpireResult> {
    const retainLast = Math.max(1, options.retainLast ?? 1);
    const table = formatIdentifier(id);
    const pinnedBefore = await this.pinnedIn(table);
    const outcome = await this.commit(id, async (base) => {
      const protect = new Set([
        ...pinnedBefore.map((p) => p.snapshotId),
        ...positionSnapshots(base.metadata, PIPELINE_PROPERTY),
      ]);
      const expired = expiredSnapshots(base.metadata, options.olderThanMs, retainLast, protect);
      const trimmed = withoutOldMetadataLog(
        nextVersion(base.metadata, base.metadataLocation, this.clock()),
        options.olderThanMs,
      );
      // Trimming the log rides along with an expiry: alone it would commit a version per run.
      if (expired.length === 0) return undefined;
      const ids = new Set(expired.map((s) => String(s['snapshot-id'])));
      const metadata = withoutSnapshots(trimmed.metadata, ids);
      return { metadata, result: { expired, droppedMetadata: trimmed.dropped }, files: [] };
    });
    if (!outcome) return { expired: 0, expiredSnapshotIds: [], removedFiles: [] };
    const { expired, droppedMetadata } = outcome.result;
    // Read again after the commit: a query may have pinned an expired snapshot just before it.
    const pinnedAfter = await this.pinnedIn(table);
    const removedFiles = await this.deleteUnreachable(
      expired,
      outcome.state.metadata,
      pinnedAfter.map((p) => p.manifestList),
    );
    const metadataFiles = droppedMetadata
      .map(fromUri)
      .filter((p) => p !== fromUri(outcome.state.metadataLocation));
    await removeQuietly(metadataFiles);
    return {
      expired: expired.length,
      expiredSnapshotIds: expired.map((s) => String(s['snapshot-id'])),
      removedFiles: [...removedFiles, ...metadataFiles].sort(),
    };
  }

  private async pinnedIn(table: string): Promise<PinnedSnapshot[]> {
    return (await activePins(this.root, this.clock())).get(table) ?? [];
  }

  /** Manifest lists, manifests and live data files reachable from these manifest lists. */
  private async reachable(
    manifestLists: Iterable<string>,
  ): Promise<{ manifests: Set<string>; files: Set<string> }> {
    const manifests = new Set<string>();
    const files = new Set<string>();
    for (const list of manifestLists) {
      for (const manifest of await this.manifestList(list).catch(() => [])) {
        manifests.add(manifest.manifest_path);
        for (const entry of await this.manifestEntries(manifest).catch(() => []))
          if (isLive(entry)) files.add(entry.file.path);
      }
    }
    return { manifests, files };
  }

  /**
   * Deletes manifest lists, manifests and data files reachable from expired snapshots only:
   * not from a retained snapshot, nor from a pinned manifest list. Returns the deleted paths.
   */
  private async deleteUnreachable(
    expired: SnapshotJson[],
    retained: TableMetadataV2,
    pinnedLists: readonly string[],
  ): Promise<string[]> {
    const keptLists = new Set([...retained.snapshots.map((s) => s['manifest-list']), ...pinnedLists]);
    const kept = await this.reachable(keptLists);
    const doomed = new Set<string>();
    for (const snapshot of expired) {
      if (keptLists.has(snapshot['manifest-list'])) continue;
      const manifests = await this.manifestList(snapshot['manifest-list']).catch(() => []);
      doomed.add(fromUri(snapshot['manifest-list']));
      for (const manifest of manifests) {
        if (kept.manifests.has(manifest.manifest_path)) continue;
        doomed.add(fromUri(manifest.manifest_path));
        const entries = await this.manifestEntries(manifest).catch(() => []);
        for (const entry of entries) if (!kept.files.has(entry.file.path)) doomed.add(entry.file.path);
      }
    }
    await removeQuietly(doomed);
    return [...doomed].sort();
  }

  /**
   * Deletes files under the table location older than `olderThanMs` that nothing references:
   * not the current metadata, its metadata log, any of its snapshots (manifest lists,
   * manifests, data files), nor a snapshot a running query pinned. These are leftovers of
   * crashed or failed commits. Files younger than the cutoff are spared, since a commit in
   * progress may be about to reference them.
   */
  async removeOrphanFiles(
    id: TableIdentifier,
    options: { olderThanMs: number },
  ): Promise<{ removed: string[] }> {
    const state = await this.load(id);
    const pinned = await this.pinnedIn(formatIdentifier(id));
    const referenced = await this.referencedFiles(state, pinned);
    const candidates = await listFiles(fromUri(state.metadata.location));
    const removed = candidates
      .filter((f) => f.mtimeMs < options.olderThanMs && !referenced.has(f.path))
      .map((f) => f.path)
      .sort();
    await removeQuietly(removed);
    return { removed };
  }

  private async referencedFiles(state: TableState, pinned: readonly PinnedSnapshot[]): Promise<Set<string>> {
    const { metadata } = state;
    const referenced = new Set<string>([fromUri(state.metadataLocation)]);
    for (const entry of metadata['metadata-log']) referenced.add(fromUri(entry['metadata-file']));
    const lists = [
      ...metadata.snapshots.map((s) => s['manifest-list']),
      ...pinned.map((p) => p.manifestList),
    ];
    for (const list of lists) referenced.add(fromUri(list));
    const { manifests, files } = await this.reachableWithDeleted(lists);
    for (const manifest of manifests) referenced.add(fromUri(manifest));
    for (const file of files) referenced.add(file);
    return referenced;
  }

  /** Like `reachable`, but with the files of DELETED entries too: an orphan check must not touch them. */
  private async reachableWithDeleted(
    manifestLists: Iterable<string>,
  ): Promise<{ manifests: Set<string>; files: Set<string> }> {
    const manifests = new Set<string>();
    const files = new Set<string>();
    for (const list of manifestLists) {
      for (const manifest of await this.manifestList(list)) {
        manifests.add(manifest.manifest_path);
        for (const entry of await this.manifestEntries(manifest)) files.add(entry.file.path);
      }
    }
    return { manifests, files };
  }

  /**
   * Rewrites the small data manifests of the current snapshot (each under
   * `commit.manifest.target-size-bytes`, default 8 MiB, as in Java) into as few manifests as
   * fit that size, as one `replace` snapshot with the same live data files (entries EXISTING,
   * their sequence numbers and snapshot ids kept). Nothing is committed when fewer than two
   * manifests are small. Planning a table appended to every second reads one manifest instead
   * of thousands.
   */
  async rewriteManifests(id: TableIdentifier): Promise<RewriteManifestsResult> {
    const outcome = await this.commit(id, (base, attempt) => this.buildManifestRewrite(base, attempt));
    if (!outcome) return { replaced: 0, created: 0 };
    return { ...outcome.result, snapshot: outcome.state.snapshot! };
  }

  private async buildManifestRewrite(
    base: TableState,
    attempt: number,
  ): Promise<Attempt<{ replaced: number; created: number }> | undefined> {
    if (!base.snapshot) return undefined;
    const target = Number(base.metadata.properties['commit.manifest.target-size-bytes'] ?? 8 * 1024 * 1024);
    const manifests = await this.manifestList(base.snapshot.manifestList);
    const small = manifests.filter((m) => m.content === 0 && Number(m.manifest_length) < target);
    const groups = binPack(small, target);
    // Fewer manifests or nothing: rewriting into as many as before would only churn.
    if (groups.length >= small.length) return undefined;
    const keptAsIs = manifests.filter((m) => !small.includes(m));
    const snapshotId = newSnapshotId();
    const commitId = randomUUID();
    const metadataDir = join(fromUri(base.metadata.location), 'metadata');
    const sequenceNumber = base.metadata['last-sequence-number'] + 1;
    const files: string[] = [];
    const written: WrittenManifest[] = [];
    for (const group of groups) {
      const live = (await Promise.all(group.map((m) => this.manifestEntries(m)))).flat().filter(isLive);
      if (live.length === 0) continue;
      const path = join(metadataDir, `${commitId}-m${attempt + 1}-${written.length}.avro`);
      files.push(path);
      written.push(
        await writeManifest(path, {
          schema: base.schema,
          addedSnapshotId: snapshotId,
          entries: live.map((e) => ({
            status: EntryStatus.Existing,
            snapshotId: e.snapshotId,
            sequenceNumber: e.sequenceNumber,
            fileSequenceNumber: e.fileSequenceNumber,
            file: e.file,
          })),
        }),
      );
    }
    const listPath = join(metadataDir, `snap-${snapshotId}-${attempt + 1}-${commitId}.avro`);
    files.push(listPath);
    const list = [...written.map((m) => listRow(m, sequenceNumber)), ...keptAsIs];
    await writeManifestList(listPath, {
      snapshotId,
      parentSnapshotId: base.snapshot.snapshotId,
      sequenceNumber,
      manifests: list,
    });
    const metadata = nextVersion(base.metadata, base.metadataLocation, this.clock());
    const json: SnapshotJson = {
      'sequence-number': sequenceNumber,
      'snapshot-id': snapshotId,
      'parent-snapshot-id': base.snapshot.snapshotId,
      'timestamp-ms': metadata['last-updated-ms'],
      summary: {
        // Same files: the totals (and Strata's carried properties) stay those of the base.
        ...snapshotSummary('replace', base.snapshot.summary, manifests, [], []),
        'manifests-created': String(written.length),
        'manifests-kept': String(keptAsIs.length),
        'manifests-replaced': String(small.length),
        'entries-processed': String(small.reduce((n, m) => n + liveFileCount(m) + m.deleted_files_count, 0)),
      },
      'manifest-list': toUri(listPath),
      'schema-id': base.schema.schemaId,
    };
    return {
      metadata: withSnapshot(metadata, json),
      result: { replaced: small.length, created: written.length },
      files,
    };
  }

  // ---------------------------------------------------------------- the commit protocol

  /**
   * Optimistic commit: derive the new version from the current one, write its metadata file,
   * swap it in. A lost swap removes this attempt's files, backs off and starts over from the
   * new current version. Returns undefined when `build` finds nothing to commit.
   */
  private commit<T>(id: TableIdentifier, build: BuildAttempt<T>): Promise<Committed<T> | undefined> {
    return this.queued(`${id.namespace}\u0000${id.name}`, async () => {
      for (let attempt = 0; attempt <= this.commitRetries; attempt++) {
        const base = await this.load(id);
        const next = await build(base, attempt);
        if (!next) return undefined;
        const metadataDir = join(fromUri(base.metadata.location), 'metadata');
        const path = join(metadataDir, metadataFileName(metadataVersion(base.metadataLocation) + 1));
        await writeNewFile(path, stringifyMetadata(next.metadata));
        const location = toUri(path);
        await this.beforeSwap?.({ id, metadataLocation: location, attempt });
        if (await this.catalog.swapMetadataLocation(id, base.metadataLocation, location)) {
          this.metadataCache.set(location, next.metadata);
          return { result: next.result, state: stateOf(id, location, next.metadata) };
        }
        await removeQuietly([path, ...next.files]);
        await sleep(backoffMs(attempt));
      }
      throw new CommitConflictError(
        `commit to ${formatIdentifier(id)} lost the catalog swap ${this.commitRetries + 1} times to concurrent commits`,
        'retries-exhausted',
      );
    });
  }

  private async queued<T>(key: string, task: () => Promise<T>): Promise<T> {
    const previous = this.commitQueues.get(key) ?? Promise.resolve();
    const run = previous.then(task, task);
    const settled = run.catch(() => undefined);
    this.commitQueues.set(key, settled);
    try {
      return await run;
    } finally {
      if (this.commitQueues.get(key) === settled) this.commitQueues.delete(key);
    }
  }
}
