/** Snapshot summaries, with the fields Java writers put there for data changes. */
import type { DataFile, ManifestFileRecord } from './manifest.js';
import type { Operation, SnapshotJson } from './metadata.js';

/** Summary properties under this prefix are Strata's, carried from snapshot to snapshot. */
export const STRATA_PROPERTY = 'strata.';

/**
 * The summary property naming the file the last compaction wrote. Strata's `strata.`
 * properties are carried into every later snapshot (a manifest rewrite, an append), so it
 * survives the expiry of the compaction's own snapshot; a snapshot that sets a new value is a
 * compaction.
 */
export const COMPACTED_FILE_PROPERTY = 'strata.compaction.file';
/** The pipeline whose committed position a snapshot records (pipelines/sink.ts writes it). */
export const PIPELINE_PROPERTY = 'strata.pipeline';

function sum(values: number[]): number {
  return values.reduce((a, b) => a + b, 0);
}

/**
 * The summary Java writers produce for data changes of an unpartitioned table. Totals come
 * from the base manifest list's live counts (exact even when the base summary lacks them);
 * the total size only when the base summary has it.
 */
export function snapshotSummary(
  operation: Operation,
  baseSummary: Record<string, string> | undefined,
  baseManifests: ManifestFileRecord[],
  added: DataFile[],
  removed: DataFile[],
): SnapshotJson['summary'] {
  const dataManifests = baseManifests.filter((m) => m.content === 0);
  const baseRecords = sum(
    dataManifests.map((m) => Number(m.added_rows_count) + Number(m.existing_rows_count)),
  );
  const baseFiles = sum(dataManifests.map((m) => m.added_files_count + m.existing_files_count));
  const addedRecords = sum(added.map((f) => f.recordCount));
  const removedRecords = sum(removed.map((f) => f.recordCount));
  const addedSize = sum(added.map((f) => f.fileSizeInBytes));
  const removedSize = sum(removed.map((f) => f.fileSizeInBytes));
  const summary: SnapshotJson['summary'] = { operation };
  if (added.length > 0) {
    summary['added-data-files'] = String(added.length);
    summary['added-records'] = String(addedRecords);
    summary['added-files-size'] = String(addedSize);
  }
  if (removed.length > 0) {
    summary['deleted-data-files'] = String(removed.length);
    summary['deleted-records'] = String(removedRecords);
    summary['removed-files-size'] = String(removedSize);
  }
  summary['changed-partition-count'] = added.length + removed.length > 0 ? '1' : '0';
  summary['total-records'] = String(baseRecords + addedRecords - removedRecords);
  const baseSize = baseSummary ? Number(baseSummary['total-files-size']) : 0;
  if (Number.isFinite(baseSize)) summary['total-files-size'] = String(baseSize + addedSize - removedSize);
  summary['total-data-files'] = String(baseFiles + added.length - removed.length);
  summary['total-delete-files'] = '0';
  summary['total-position-deletes'] = '0';
  summary['total-equality-deletes'] = '0';
  // Strata's own properties (a CDC pipeline's committed position) live on in every snapshot
  // after the one that set them, compactions included, so the current snapshot always has them.
  for (const [key, value] of Object.entries(baseSummary ?? {}))
    if (key.startsWith(STRATA_PROPERTY)) summary[key] = value;
  return summary;
}
