/** Tracker freshness: stale after `staleAfter` schedule intervals without a success, data age, first-seen clock. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { assessFreshness, describeMs, intervalsAfter } from '../../src/trackers/freshness.js';
import { RunHistory, type TrackerRun } from '../../src/trackers/history.js';

const run = (
  startedAt: string,
  status: TrackerRun['status'],
  extra: Partial<TrackerRun> = {},
): TrackerRun => ({
  id: `run-${startedAt}-${status}`,
  tracker: 't',
  trigger: 'schedule',
  status,
  startedAt,
  endedAt: new Date(Date.parse(startedAt) + 30_000).toISOString(),
  rows: 1,
  destinations: [],
  apiCalls: 0,
  bytes: 0,
  ...extra,
});

const at = (iso: string) => new Date(iso);
const HALF_HOURLY = '*/30 * * * *';

describe('assessFreshness', () => {
  it('a tracker without a schedule is never stale', () => {
    const f = assessFreshness({ tracker: 't', staleAfter: 2, now: at('2026-03-01T12:00:00Z') });
    expect(f).toMatchObject({ state: 'unscheduled', reason: 'no schedule: runs on demand only' });
  });

  it('fresh within staleAfter intervals of the last success (plus its duration and a minute), stale after', () => {
    const success = run('2026-03-01T10:00:00.000Z', 'succeeded', {
      dataChangedAt: '2026-03-01T09:58:00.000Z',
    });
    const facts = {
      tracker: 't',
      schedule: HALF_HOURLY,
      staleAfter: 2,
      lastRun: success,
      lastSuccess: success,
    };
    // 10:00 + 2 x 30 min + 30 s (its duration) + 60 s = 11:01:30
    const fresh = assessFreshness({ ...facts, now: at('2026-03-01T11:01:29Z') });
    expect(fresh).toMatchObject({
      state: 'fresh',
      staleAt: '2026-03-01T11:01:30.000Z',
      lastSuccessAt: success.startedAt,
      successAgeSeconds: 3689,
      dataChangedAt: '2026-03-01T09:58:00.000Z',
      dataAgeSeconds: 3809,
    });
    const failed = run('2026-03-01T11:00:00.000Z', 'failed', { error: 'google_sheets: 403 forbidden' });
    const stale = assessFreshness({ ...facts, lastRun: failed, now: at('2026-03-01T11:01:31Z') });
    expect(stale.state).toBe('stale');
    expect(stale.reason).toBe(
      'no successful run within 2 schedule intervals (1h): last success 1h 1m ago; last run failed: google_sheets: 403 forbidden',
    );
    // A larger multiple tolerates more missed runs.
    expect(assessFreshness({ ...facts, staleAfter: 3, now: at('2026-03-01T11:01:31Z') }).state).toBe('fresh');
  });

  it('counts the firings of the schedule: a weekday tracker is not stale over the weekend', () => {
    const weekdays = '0 9 * * 1-5';
    // Friday 2026-03-06 09:00 UTC; the next runs are Monday 09:00 and Tuesday 09:00.
    const friday = run('2026-03-06T09:00:00.000Z', 'succeeded');
    expect(new Date(intervalsAfter(weekdays, 'UTC', at(friday.startedAt), 1))).toEqual(
      at('2026-03-09T09:00:00Z'),
    );
    expect(new Date(intervalsAfter(weekdays, 'UTC', at(friday.startedAt), 1.5))).toEqual(
      at('2026-03-09T21:00:00Z'),
    );
    const facts = { tracker: 't', schedule: weekdays, staleAfter: 1, lastRun: friday, lastSuccess: friday };
    expect(assessFreshness({ ...facts, now: at('2026-03-08T23:00:00Z') }).state).toBe('fresh');
    // Monday's run had its allowance (its last duration and a minute) to succeed.
    expect(assessFreshness({ ...facts, now: at('2026-03-09T09:01:29Z') }).state).toBe('fresh');
    expect(assessFreshness({ ...facts, now: at('2026-03-09T09:01:31Z') }).state).toBe('stale');
    // In the tracker's own time zone: 09:00 in Los Angeles is 17:00 UTC on Friday (PST), and
    // 16:00 UTC on Monday (PDT from Sunday 2026-03-08).
    expect(new Date(intervalsAfter(weekdays, 'America/Los_Angeles', at(friday.startedAt), 1))).toEqual(
      at('2026-03-06T17:00:00Z'),
    );
    expect(new Date(intervalsAfter(weekdays, 'America/Los_Angeles', at(friday.startedAt), 2))).toEqual(
      at('2026-03-09T16:00:00Z'),
    );
  });

  it('a tracker that never succeeded is pending, then stale counted from when it was first seen', () => {
    const facts = {
      tracker: 't',
      schedule: HALF_HOURLY,
      staleAfter: 2,
      firstSeen: at('2026-03-01T10:00:00Z'),
    };
    expect(assessFreshness({ ...facts, now: at('2026-03-01T10:30:00Z') }).state).toBe('pending');
    const stale = assessFreshness({ ...facts, now: at('2026-03-01T11:02:00Z') });
    expect(stale).toMatchObject({ state: 'stale' });
    expect(stale.reason).toContain(
      'no successful run within 2 schedule intervals (1h) of it being scheduled',
    );
    expect(
      assessFreshness({ tracker: 't', schedule: HALF_HOURLY, staleAfter: 2, now: at('2026-03-01T10:00:00Z') })
        .state,
    ).toBe('pending');
  });

  it('describes durations in two units at most', () => {
    expect(describeMs(0)).toBe('0s');
    expect(describeMs(90_000)).toBe('1m 30s');
    expect(describeMs(93_600_000)).toBe('1d 2h');
    expect(describeMs(3_600_000)).toBe('1h');
  });
});

describe('RunHistory.firstSeen', () => {
  let dir: string;
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('is the first time asked, or the oldest recorded run, and then stays', async () => {
    dir = mkdtempSync(join(tmpdir(), 'strata-fresh-'));
    const history = await RunHistory.open({ client: 'sqlite', filename: join(dir, 'runs.db') });
    try {
      expect(await history.firstSeen('new', at('2026-03-01T10:00:00Z'))).toEqual(at('2026-03-01T10:00:00Z'));
      expect(await history.firstSeen('new', at('2026-03-02T10:00:00Z'))).toEqual(at('2026-03-01T10:00:00Z'));
      await history.record(run(new Date(Date.now() - 86_400_000).toISOString(), 'failed'));
      const oldest = (await history.list({ tracker: 't' }))[0]!.startedAt;
      expect(await history.firstSeen('t', new Date())).toEqual(new Date(oldest));
    } finally {
      await history.close();
    }
  });
});
