/**
 * Compaction of raw CDC tables (spec §8): the live data files of a snapshot are rewritten
 * into one file holding only the latest row per key, committed as one `overwrite` snapshot.
 * Rows appended meanwhile stay (the warehouse re-validates the commit); a compaction that
 * loses a race to another compaction starts over.
 *
 * Deletes younger than the tombstone retention (by `_op_ts`, default 30 days) stay as their
 * key's latest row: latest views drop the key all the same, and a change older than the
 * delete that arrives after the compaction (a late event) stays superseded instead of
 * bringing the key back. Older deletes are dropped, so late events are assumed to arrive
 * within that window.
 */
import { CHANGE_TIME_COLUMN, compactedRowsSelect, type TombstonePolicy } from '../core/cdc.js';
import type { SourceModel } from '../core/model/types.js';
import { dialectFor } from '../core/sql/dialects/index.js';
import type { TableIdentifier } from '../warehouse/catalog.js';
import type { IcebergSchema } from '../warehouse/schema.js';
import {
  CommitConflictError,
  readParquetSql,
  type DataFile,
  type TableState,
  type Warehouse,
} from '../warehouse/table.js';
import { COMPACTED_FILE_PROPERTY } from '../warehouse/summary.js';

export interface CompactionResult {
  table: string;
  filesBefore: number;
  filesAfter: number;
  rowsBefore: number;
  rowsAfter: number;
  /** False when there was nothing to do (no data, or already one file per key set). */
  committed: boolean;
}

const ATTEMPTS = 3;
/** How long a compaction keeps a delete as a tombstone, by default (docs/warehouse.md). */
export const DEFAULT_TOMBSTONE_RETENTION_MS = 30 * 24 * 3600_000;

export interface CompactionOptions {
  /** Deletes with `_op_ts` within this long before now stay as tombstones (default 30 days). */
  tombstoneRetentionMs?: number;
  /** The clock the tombstone cutoff is taken from (default Date.now). */
  now?: () => number;
}

export function tableOf(source: SourceModel): TableIdentifier {
  if (source.relation.kind !== 'table' || source.relation.path.length < 2) {
    throw new Error(
      `source ${source.name} does not read a namespace.table, so it has no Iceberg table to compact`,
    );
  }
  const path = source.relation.path;
  return { namespace: path[path.length - 2]!, name: path[path.length - 1]! };
}

export async function compactSource(
  warehouse: Warehouse,
  source: SourceModel,
  options: CompactionOptions = {},
): Promise<CompactionResult> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await compactOnce(warehouse, source, options);
    } catch (e) {
      if (!(e instanceof CommitConflictError) || attempt >= ATTEMPTS) throw e;
    }
  }
}

/**
 * Which deletes to keep: those at or after now minus the retention, by `_op_ts`; every delete
 * when `_op_ts` is not a timestamp (its age cannot be told).
 */
export function tombstonePolicy(schema: IcebergSchema, options: CompactionOptions): TombstonePolicy {
  const changeTime = schema.fields.find((f) => f.name === CHANGE_TIME_COLUMN);
  if (!changeTime || (changeTime.type !== 'timestamp' && changeTime.type !== 'timestamptz')) return {};
  const retention = options.tombstoneRetentionMs ?? DEFAULT_TOMBSTONE_RETENTION_MS;
  const cutoff = new Date((options.now ?? Date.now)() - retention);
  return { since: cutoff.toISOString().replace('T', ' ').replace('Z', '') };
}

export { COMPACTED_FILE_PROPERTY };

/** Whether a data file is the one the last compaction wrote (then there is nothing to compact). */
function writtenByCompaction(state: TableState, file: DataFile): boolean {
  return state.snapshot?.summary[COMPACTED_FILE_PROPERTY] === file.path;
}

async function compactOnce(
  warehouse: Warehouse,
  source: SourceModel,
  options: CompactionOptions,
): Promise<CompactionResult> {
  const id = tableOf(source);
  const state = await warehouse.load(id);
  const { files, schema } = await warehouse.planFiles(state);
  const rowsBefore = files.reduce((n, f) => n + f.recordCount, 0);
  const name = `${id.namespace}.${id.name}`;
  const alreadyCompact = files.length === 1 && writtenByCompaction(state, files[0]!);
  if (!state.snapshot || files.length === 0 || alreadyCompact) {
    return {
      table: name,
      filesBefore: files.length,
      filesAfter: files.length,
      rowsBefore,
      rowsAfter: rowsBefore,
      committed: false,
    };
  }
  const pinned = { kind: 'rawQuery' as const, sql: readParquetSql(files, schema), alias: 'raw' };
  const keep = compactedRowsSelect(
    source,
    schema.fields.map((f) => f.name),
    pinned,
    tombstonePolicy(schema, options),
  );
  await warehouse.overwrite(id, files, dialectFor('duckdb').render(keep), state.snapshot, {
    properties: (added) => ({ [COMPACTED_FILE_PROPERTY]: added.length === 1 ? added[0]!.path : '' }),
  });
  const after = await warehouse.planFiles(await warehouse.load(id));
  return {
    table: name,
    filesBefore: files.length,
    filesAfter: after.files.length,
    rowsBefore,
    rowsAfter: after.files.reduce((n, f) => n + f.recordCount, 0),
    committed: true,
  };
}
