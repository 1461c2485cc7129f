/** When a table last received data: reorganisations (manifest rewrites, compactions) are not data. */
import { describe, expect, it } from 'vitest';
import { lastDataChangeMs } from '../../src/warehouse/data-change.js';
import type { SnapshotJson } from '../../src/warehouse/metadata.js';
import { COMPACTED_FILE_PROPERTY } from '../../src/warehouse/summary.js';
import type { TableState } from '../../src/warehouse/table.js';

function snapshot(
  id: number,
  at: number,
  operation: string,
  extra: Record<string, string> = {},
  parent?: number,
) {
  return {
    'snapshot-id': id,
    'timestamp-ms': at,
    'sequence-number': id,
    'manifest-list': `s${id}.avro`,
    summary: { operation, ...extra },
    ...(parent !== undefined ? { 'parent-snapshot-id': parent } : {}),
  } as unknown as SnapshotJson;
}

function state(snapshots: SnapshotJson[]): TableState {
  const current = snapshots.at(-1)!;
  return {
    metadata: { snapshots },
    snapshot: { snapshotId: current['snapshot-id'] },
  } as unknown as TableState;
}

describe('lastDataChangeMs', () => {
  it('is the newest snapshot that brought data, past compactions and manifest rewrites', () => {
    const history = [
      snapshot(1, 1000, 'append'),
      snapshot(2, 2000, 'append', {}, 1),
      snapshot(3, 3000, 'overwrite', { [COMPACTED_FILE_PROPERTY]: 'c1.parquet' }, 2),
      snapshot(4, 4000, 'replace', { [COMPACTED_FILE_PROPERTY]: 'c1.parquet' }, 3),
    ];
    expect(lastDataChangeMs(state(history))).toBe(2000);
    // An append after the compaction carries its property on, unchanged: it is data.
    const appended = [
      ...history,
      snapshot(5, 5000, 'append', { [COMPACTED_FILE_PROPERTY]: 'c1.parquet' }, 4),
    ];
    expect(lastDataChangeMs(state(appended))).toBe(5000);
    // A second compaction writes a new file: not data.
    const again = [
      ...appended,
      snapshot(6, 6000, 'overwrite', { [COMPACTED_FILE_PROPERTY]: 'c2.parquet' }, 5),
    ];
    expect(lastDataChangeMs(state(again))).toBe(5000);
  });

  it('falls back to the newest snapshot when only reorganisations are left, and is undefined for an empty table', () => {
    expect(lastDataChangeMs(state([snapshot(9, 9000, 'replace', {}, 8)]))).toBe(9000);
    expect(lastDataChangeMs({ metadata: { snapshots: [] } } as unknown as TableState)).toBeUndefined();
  });
});
