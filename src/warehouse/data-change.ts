/**
 * When a table last received data: the newest snapshot, walking back past the ones that only
 * reorganised it (`replace`: manifest rewrites; a CDC compaction, which keeps every key's
 * latest row). A tracker's data age is measured from it.
 */
import type { TableState } from './table.js';
import type { SnapshotJson } from './metadata.js';
import { COMPACTED_FILE_PROPERTY } from './summary.js';

function reorganises(snapshot: SnapshotJson, parent: SnapshotJson | undefined): boolean {
  if (snapshot.summary.operation === 'replace') return true;
  const compacted = snapshot.summary[COMPACTED_FILE_PROPERTY];
  return compacted !== undefined && compacted !== parent?.summary[COMPACTED_FILE_PROPERTY];
}

export function lastDataChangeMs(state: TableState): number | undefined {
  const byId = new Map<string, SnapshotJson>(
    state.metadata.snapshots.map((s) => [String(s['snapshot-id']), s]),
  );
  let snapshot = state.snapshot ? byId.get(String(state.snapshot.snapshotId)) : undefined;
  const newest = snapshot?.['timestamp-ms'];
  while (snapshot) {
    const parentId = snapshot['parent-snapshot-id'];
    const parent = parentId === undefined ? undefined : byId.get(String(parentId));
    if (!reorganises(snapshot, parent)) return snapshot['timestamp-ms'];
    snapshot = parent;
  }
  // Only reorganisations are left (older snapshots expired): the newest one bounds the change.
  return newest;
}
