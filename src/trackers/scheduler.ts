/**
 * Tracker scheduling on BullMQ (spec §7 `schedule`, §10 `strata serve`): one Job Scheduler
 * per scheduled tracker, keyed by the tracker's name, making `sync` jobs on the tracker's cron
 * in its time zone. `syncSchedules` makes the schedulers in Redis match the definitions;
 * `enqueueSync` queues a run now. Workers (worker.ts) take the jobs.
 */
import { Queue, type ConnectionOptions, type JobsOptions, type JobSchedulerJson } from 'bullmq';
import type { ProjectConfig, TrackerDefinition } from '../core/definitions/schema.js';
import { resolveSecret } from '../engines/secrets.js';
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

/** The Redis strata.yaml (`redis.url`) or the environment (`REDIS_URL`) names, if any. */
export function configuredRedisUrl(
  config: Pick<ProjectConfig, 'redis'>,
  env: NodeJS.ProcessEnv = process.env,
): string | undefined {
  return config.redis?.url ? resolveSecret(config.redis.url, env) : env.REDIS_URL;
}

/** Connection options BullMQ accepts for a URL (it creates and closes its own clients). */
export function bullConnection(redisUrl: string): ConnectionOptions {
  return { url: redisUrl, maxRetriesPerRequest: null };
}

/** A queue of this Redis and prefix; connection errors surface as rejected calls, never as a crash. */
export function openQueue<T>(name: string, connection: QueueConnection): Queue<T> {
  const queue = new Queue<T>(name, {
    connection: bullConnection(connection.redis),
    prefix: connection.prefix ?? DEFAULT_QUEUE_PREFIX,
  });
  // Without a listener, an 'error' event would crash the process.
  (queue as unknown as Queue).on('error', () => undefined);
  return queue;
}

export function openSyncQueue(connection: QueueConnection): Queue<SyncJobData> {
  return openQueue<SyncJobData>(SYNC_QUEUE, connection);
}

export function schedulerId(tracker: string): string {
  return `${SCHEDULER_PREFIX}${tracker}`;
}

/** A Job Scheduler as it should be: its cron, time zone and the job it makes. */
export interface WantedScheduler<T> {
  pattern: string;
  tz: string;
  job: { name: string; data: T; opts: JobsOptions };
}

/**
 * Makes the Job Schedulers whose ids start with `prefix` match `wanted` (keyed by id): added,
 * updated when their cron, time zone or job data changed, removed when no longer wanted.
 * Changes are reported by the ids without the prefix. Other schedulers are left alone.
 */
export async function syncJobSchedulers<T>(
  typedQueue: Queue<T>,
  prefix: string,
  wanted: ReadonlyMap<string, WantedScheduler<T>>,
): Promise<ScheduleChanges> {
  // BullMQ's name/data type extraction does not survive a generic T; schedulers are plain JSON.
  const queue = typedQueue as unknown as Queue;
  const existing = new Map<string, JobSchedulerJson>();
  for (const scheduler of await allSchedulers(queue)) {
    const id = scheduler.key ?? scheduler.id;
    if (id?.startsWith(prefix)) existing.set(id, scheduler);
  }
  const changes: ScheduleChanges = { added: [], changed: [], removed: [], unchanged: [] };
  for (const [id, want] of wanted) {
    const have = existing.get(id);
    const name = id.slice(prefix.length);
    if (
      have &&
      have.pattern === want.pattern &&
      (have.tz ?? 'UTC') === want.tz &&
      JSON.stringify(have.template?.data) === JSON.stringify(want.job.data)
    ) {
      changes.unchanged.push(name);
      continue;
    }
    await queue.upsertJobScheduler(id, { pattern: want.pattern, tz: want.tz }, want.job);
    (have ? changes.changed : changes.added).push(name);
  }
  for (const id of existing.keys()) {
    if (wanted.has(id)) continue;
    await queue.removeJobScheduler(id);
    changes.removed.push(id.slice(prefix.length));
  }
  for (const list of Object.values(changes)) list.sort();
  return changes;
}

/**
 * Makes the Job Schedulers match the trackers: one per tracker with a `schedule`, updated when
 * its cron or time zone changed, removed when the tracker was deleted or lost its schedule.
 */
export async function syncSchedules(
  queue: Queue<SyncJobData>,
  trackers: Iterable<SchedulableTracker>,
): Promise<ScheduleChanges> {
  const wanted = new Map<string, WantedScheduler<SyncJobData>>();
  for (const tracker of trackers) {
    const { schedule, timezone } = tracker.definition;
    if (!schedule) continue;
    wanted.set(schedulerId(tracker.name), {
      pattern: schedule,
      tz: timezone ?? 'UTC',
      job: { name: SYNC_JOB, data: { tracker: tracker.name }, opts: SYNC_JOB_OPTIONS },
    });
  }
  return syncJobSchedulers(queue, SCHEDULER_PREFIX, wanted);
}

async function allSchedulers(queue: Queue): Promise<JobSchedulerJson[]> {
  const page = 500;
  const all: JobSchedulerJson[] = [];
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
