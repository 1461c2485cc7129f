/**
 * Tracker scheduling on BullMQ (spec §7 `schedule`, §10 `strata serve`): one Job Scheduler
 * per scheduled tracker, keyed by the tracker's name, making `sync` jobs on the tracker's cron
 * in its time zone. `syncSchedules` makes the schedulers in Redis match the definitions;
 * `enqueueSync` queues a run now. Workers (worker.ts) take the jobs.
 */
import { Queue, type ConnectionOptions, type JobsOptions, type JobSchedulerJson } from 'bullmq';
import type { TrackerDefinition } from '../core/definitions/schema.js';
import type { RunTrigger } from './history.js';

/** The queue every `strata serve` and `strata worker` of one Redis (and prefix) shares. */
export const SYNC_QUEUE = 'strata-sync';
export const SYNC_JOB = 'sync';
export const DEFAULT_QUEUE_PREFIX = 'strata';
/** Scheduler ids are `tracker:<name>`; other schedulers on the queue are left alone. */
const SCHEDULER_PREFIX = 'tracker:';

export interface SyncJobData {
  tracker: string;
  /** Absent on scheduled jobs: they run as `schedule`. */
  trigger?: RunTrigger;
}

/** Retries with backoff (a failed or partial run throws); finished jobs are kept for a while. */
export const SYNC_JOB_OPTIONS = {
  attempts: 3,
  backoff: { type: 'exponential', delay: 5000 },
  removeOnComplete: { age: 7 * 24 * 3600, count: 1000 },
  removeOnFail: { age: 30 * 24 * 3600, count: 5000 },
} satisfies JobsOptions;

/** What scheduling needs of a tracker (a `TrackerModel` fits). */
export interface SchedulableTracker {
  name: string;
  definition: Pick<TrackerDefinition, 'schedule' | 'timezone'>;
}

export interface ScheduleChanges {
  added: string[];
  changed: string[];
  removed: string[];
  unchanged: string[];
}

export interface QueueConnection {
  /** A Redis URL (`redis://host:port/db`). */
  redis: string;
  /** Key prefix of the queue (default `strata`): several projects can share one Redis. */
  prefix?: string;
}

/** Connection options BullMQ accepts for a URL (it creates and closes its own clients). */
export function bullConnection(redisUrl: string): ConnectionOptions {
  return { url: redisUrl, maxRetriesPerRequest: null };
}

export function openSyncQueue(connection: QueueConnection): Queue<SyncJobData> {
  const queue = new Queue<SyncJobData>(SYNC_QUEUE, {
    connection: bullConnection(connection.redis),
    prefix: connection.prefix ?? DEFAULT_QUEUE_PREFIX,
  });
  // Connection errors surface as rejected calls; without a listener they would crash the process.
  queue.on('error', () => undefined);
  return queue;
}

export function schedulerId(tracker: string): string {
  return `${SCHEDULER_PREFIX}${tracker}`;
}

function desired(tracker: SchedulableTracker) {
  return { pattern: tracker.definition.schedule!, tz: tracker.definition.timezone ?? 'UTC' };
}

/**
 * Makes the Job Schedulers match the trackers: one per tracker with a `schedule`, updated when
 * its cron or time zone changed, removed when the tracker was deleted or lost its schedule.
 */
export async function syncSchedules(
  queue: Queue<SyncJobData>,
  trackers: Iterable<SchedulableTracker>,
): Promise<ScheduleChanges> {
  const wanted = new Map<string, SchedulableTracker>();
  for (const tracker of trackers)
    if (tracker.definition.schedule) wanted.set(schedulerId(tracker.name), tracker);
  const existing = new Map<string, JobSchedulerJson<SyncJobData>>();
  for (const scheduler of await allSchedulers(queue)) {
    const id = scheduler.key ?? scheduler.id;
    if (id?.startsWith(SCHEDULER_PREFIX)) existing.set(id, scheduler);
  }
  const changes: ScheduleChanges = { added: [], changed: [], removed: [], unchanged: [] };
  for (const [id, tracker] of wanted) {
    const want = desired(tracker);
    const have = existing.get(id);
    if (
      have &&
      have.pattern === want.pattern &&
      (have.tz ?? 'UTC') === want.tz &&
      have.template?.data?.tracker === tracker.name
    ) {
      changes.unchanged.push(tracker.name);
      continue;
    }
    await queue.upsertJobScheduler(id, want, {
      name: SYNC_JOB,
      data: { tracker: tracker.name },
      opts: SYNC_JOB_OPTIONS,
    });
    (have ? changes.changed : changes.added).push(tracker.name);
  }
  for (const id of existing.keys()) {
    if (wanted.has(id)) continue;
    await queue.removeJobScheduler(id);
    changes.removed.push(id.slice(SCHEDULER_PREFIX.length));
  }
  for (const list of Object.values(changes)) list.sort();
  return changes;
}

async function allSchedulers(queue: Queue<SyncJobData>): Promise<JobSchedulerJson<SyncJobData>[]> {
  const page = 500;
  const all: JobSchedulerJson<SyncJobData>[] = [];
  for (let start = 0; ; start += page) {
    const batch = await queue.getJobSchedulers(start, start + page - 1, true);
    all.push(...batch);
    if (batch.length < page) return all;
  }
}

/** Queues a run of `tracker` now (e.g. `manual`); returns the job id. */
export async function enqueueSync(
  queue: Queue<SyncJobData>,
  tracker: string,
  trigger: RunTrigger = 'manual',
  opts: JobsOptions = {},
): Promise<string> {
  const job = await queue.add(SYNC_JOB, { tracker, trigger }, { ...SYNC_JOB_OPTIONS, ...opts });
  return job.id!;
}
