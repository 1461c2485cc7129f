/**
 * A tracker's freshness (spec §7): how old its data is, how long ago it last succeeded, and
 * whether it is stale: no successful run within `staleAfter` intervals of its schedule. The
 * assessment is pure (`assessFreshness`); `trackerFreshness` reads what it needs from the run
 * history. Trackers without a schedule run on demand only and are never stale.
 */
import { CronExpressionParser } from 'cron-parser';
import type { TrackerModel } from '../core/model/types.js';
import type { RunHistory, TrackerRun } from './history.js';

/** Schedule intervals without a successful run after which a tracker is stale, by default. */
export const DEFAULT_STALE_AFTER = 2;
/** Allowance past the deadline for the run that is due to finish (beside its last duration). */
const RUN_ALLOWANCE_MS = 60_000;

export type FreshnessState =
  /** Succeeded within its deadline. */
  | 'fresh'
  /** No successful run within `staleAfter` schedule intervals. */
  | 'stale'
  /** Scheduled, never succeeded, and not yet past its first deadline. */
  | 'pending'
  /** No schedule: runs on demand only, so never stale. */
  | 'unscheduled';

export interface TrackerFreshness {
  tracker: string;
  state: FreshnessState;
  schedule?: string;
  staleAfter: number;
  /** The newest run of any outcome. */
  lastRun?: Pick<TrackerRun, 'id' | 'status' | 'trigger' | 'startedAt'>;
  lastSuccessAt?: string;
  /** Seconds since the last successful run started. */
  successAgeSeconds?: number;
  /** When the newest data the last successful run read arrived (unknown on some engines). */
  dataChangedAt?: string;
  /** Seconds since then: the age of what the destinations show. */
  dataAgeSeconds?: number;
  /** When the tracker is (or became) stale without another successful run. */
  staleAt?: string;
  /** One sentence a person can act on. */
  reason: string;
}

export interface FreshnessFacts {
  tracker: string;
  schedule?: string;
  timezone?: string;
  staleAfter: number;
  lastRun?: TrackerRun;
  lastSuccess?: TrackerRun;
  /** When Strata first saw the tracker: the clock of one that never succeeded starts there. */
  firstSeen?: Date;
  now: Date;
}

const seconds = (from: string | Date, to: Date) =>
  Math.max(0, Math.round((to.getTime() - new Date(from).getTime()) / 1000));

export function assessFreshness(facts: FreshnessFacts): TrackerFreshness {
  const { tracker, schedule, staleAfter, lastRun, lastSuccess, now } = facts;
  const base: TrackerFreshness = {
    tracker,
    state: 'unscheduled',
    staleAfter,
    reason: '',
    ...(schedule ? { schedule } : {}),
    ...(lastRun
      ? {
          lastRun: {
            id: lastRun.id,
            status: lastRun.status,
            trigger: lastRun.trigger,
            startedAt: lastRun.startedAt,
          },
        }
      : {}),
    ...(lastSuccess
      ? { lastSuccessAt: lastSuccess.startedAt, successAgeSeconds: seconds(lastSuccess.startedAt, now) }
      : {}),
    ...(lastSuccess?.dataChangedAt
      ? { dataChangedAt: lastSuccess.dataChangedAt, dataAgeSeconds: seconds(lastSuccess.dataChangedAt, now) }
      : {}),
  };
  if (!schedule) return { ...base, state: 'unscheduled', reason: 'no schedule: runs on demand only' };
  const since = lastSuccess ? new Date(lastSuccess.startedAt) : earliest(facts.firstSeen, lastRun);
  if (!since) return { ...base, state: 'pending', reason: 'scheduled, and has not run yet' };
  const lastDuration = lastSuccess
    ? Math.max(0, Date.parse(lastSuccess.endedAt) - Date.parse(lastSuccess.startedAt))
    : 0;
  const due = intervalsAfter(schedule, facts.timezone, since, staleAfter);
  const staleAt = new Date(due + lastDuration + RUN_ALLOWANCE_MS);
  const withDeadline = { ...base, staleAt: staleAt.toISOString() };
  const window = `${staleAfter} schedule interval${staleAfter === 1 ? '' : 's'} (${describeMs(due - since.getTime())})`;
  if (now < staleAt)
    return lastSuccess
      ? {
          ...withDeadline,
          state: 'fresh',
          reason: `last succeeded ${describeMs(now.getTime() - since.getTime())} ago`,
        }
      : {
          ...withDeadline,
          state: 'pending',
          reason: `scheduled, no successful run yet; stale after ${window}`,
        };
  const last =
    lastRun && lastRun.status !== 'succeeded'
      ? `; last run ${lastRun.status}${lastRun.error ? `: ${lastRun.error}` : ''}`
      : '';
  return {
    ...withDeadline,
    state: 'stale',
    reason: lastSuccess
      ? `no successful run within ${window}: last success ${describeMs(now.getTime() - since.getTime())} ago${last}`
      : `no successful run within ${window} of it being scheduled${last}`,
  };
}

function earliest(firstSeen: Date | undefined, lastRun: TrackerRun | undefined): Date | undefined {
  const times = [firstSeen?.getTime(), lastRun ? Date.parse(lastRun.startedAt) : undefined].filter(
    (t): t is number => t !== undefined && Number.isFinite(t),
  );
  return times.length > 0 ? new Date(Math.min(...times)) : undefined;
}

/**
 * When `intervals` of the schedule have passed after `from`: its n-th firing after `from` (a
 * fraction goes part of the way to the next). Firings, not a fixed length, so a weekday
 * schedule's interval over a weekend is the weekend.
 */
export function intervalsAfter(
  schedule: string,
  timezone: string | undefined,
  from: Date,
  intervals: number,
): number {
  const cron = CronExpressionParser.parse(schedule, {
    currentDate: from,
    ...(timezone ? { tz: timezone } : {}),
  });
  let at = from.getTime();
  for (let i = 0; i < Math.floor(intervals); i++) at = cron.next().getTime();
  const fraction = intervals - Math.floor(intervals);
  if (fraction > 0) at += fraction * (cron.next().getTime() - at);
  return at;
}

const UNITS: [string, number][] = [
  ['d', 86_400_000],
  ['h', 3_600_000],
  ['m', 60_000],
  ['s', 1000],
];

/** 90000 -> `1m 30s`; 93600000 -> `1d 2h`: the largest unit and the next one, when not zero. */
export function describeMs(ms: number): string {
  const total = Math.max(0, Math.round(ms / 1000) * 1000);
  const first = UNITS.findIndex(([, size]) => total >= size);
  if (first < 0) return '0s';
  const [unit, size] = UNITS[first]!;
  const text = `${Math.floor(total / size)}${unit}`;
  const next = UNITS[first + 1];
  const remainder = next ? Math.floor((total % size) / next[1]) : 0;
  return remainder > 0 ? `${text} ${remainder}${next![0]}` : text;
}

/** The freshness of a tracker now, from its run history. */
export async function trackerFreshness(
  tracker: TrackerModel,
  history: RunHistory,
  options: { now?: Date; staleAfter?: number } = {},
): Promise<TrackerFreshness> {
  const now = options.now ?? new Date();
  const { schedule, timezone } = tracker.definition;
  const [lastRun] = await history.list({ tracker: tracker.name, limit: 1 });
  const lastSuccess = await history.lastSuccess(tracker.name);
  const firstSeen = schedule ? await history.firstSeen(tracker.name, now) : undefined;
  return assessFreshness({
    tracker: tracker.name,
    ...(schedule ? { schedule } : {}),
    ...(timezone ? { timezone } : {}),
    staleAfter: tracker.definition.freshness?.staleAfter ?? options.staleAfter ?? DEFAULT_STALE_AFTER,
    ...(lastRun ? { lastRun } : {}),
    ...(lastSuccess ? { lastSuccess } : {}),
    ...(firstSeen ? { firstSeen } : {}),
    now,
  });
}
