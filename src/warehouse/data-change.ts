/**
 * When a table last received data: the newest snapshot, walking back past the ones that only
 * reorganised files (`replace`: manifest rewrites, file compaction that keeps every row).
 * A tracker's data age is measured from it.
 */
import type { TableState } from './table.js';
import type { SnapshotJson } from './metadata.js';

export function lastDataChangeMs(state: TableState): number | undefined {
  const byId = new Map<string, SnapshotJson>(
    state.metadata.snapshots.map((s) => [String(s['snapshot-id']), s]),
  );
  let snapshot = state.snapshot ? byId.get(String(state.snapshot.snapshotId)) : undefined;
  const newest = snapshot?.['timestamp-ms'];
  while (snapshot) {
    if (snapshot.summary.operation !== 'replace') return snapshot['timestamp-ms'];
    const parent = snapshot['parent-snapshot-id'];
    snapshot = parent === undefined ? undefined : byId.get(String(parent));
  }
  // Only reorganisations are left (older snapshots expired): the newest one bounds the change.
  return newest;
}
