/**
 * The acceptance path of near-real-time trackers: a row changed in PostgreSQL reaches an
 * on_change tracker's Sheets tab through the CDC pipeline, with no schedule at all.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RunHistory } from '../../src/trackers/history.js';
import { historyLocation } from '../../src/trackers/locations.js';
import { startRealtimeTracker, type RealtimeTracker } from '../support/realtime-tracker.js';
import { until } from './project-support.js';

let live: RealtimeTracker;

beforeAll(async () => {
  live = await startRealtimeTracker({ debounce: '500ms' });
});

afterAll(async () => {
  await live?.close();
});

describe('a PostgreSQL change reaches an on_change tracker', () => {
  it('without waiting for a schedule: the snapshot first, then each committed change', async () => {
    await until('the snapshot in the tab', () => live.rows().length === 20, 40_000);
    await live.upstream.query(`UPDATE $schema.item SET qty = 500, name = 'renamed' WHERE item_id = 5`);
    await live.upstream.query(`INSERT INTO $schema.item VALUES (21, 'new', 21)`);
    await live.upstream.query(`DELETE FROM $schema.item WHERE item_id = 1`);
    await until(
      'the changes in the tab',
      () => {
        const rows = live.rows();
        return (
          rows.length === 20 &&
          rows.some((r) => r[0] === 5 && r[1] === 'renamed' && r[2] === 500) &&
          rows.some((r) => r[0] === 21) &&
          !rows.some((r) => r[0] === 1)
        );
      },
      40_000,
    );
    const history = await RunHistory.open(historyLocation(live.dir, {}));
    try {
      // A run records itself after its destinations are written: the tab can show the changes
      // a moment before the run that wrote them is in the history (seen on a busy machine).
      const runs = await until(
        'the change run in the history',
        async () => {
          const listed = await history.list({ tracker: 'items' });
          return listed.length >= 2 && listed;
        },
        10_000,
      ).catch(async () => history.list({ tracker: 'items' }));
      expect(runs.length).toBeGreaterThanOrEqual(2);
      expect(runs.every((r) => r.trigger === 'change')).toBe(true);
      expect(runs[0]).toMatchObject({ status: 'succeeded' });
      expect(runs[0]!.dataChangedAt).toBeDefined();
    } finally {
      await history.close();
    }
  });
});
