/**
 * Schedule lag: how late a scheduled job started. A BullMQ Job Scheduler makes each job ahead
 * of its time as a delayed job whose `opts.prevMillis` is the firing time the cron (or
 * interval) planned, and whose id is `repeat:<scheduler id>:<that time>`; `processedOn` is when
 * a worker moved it to active. Their difference is queueing delay plus worker shortage, which
 * is what an operator needs to see (a tracker due at 9:00 that started at 9:04).
 */
import type { Job } from 'bullmq';

type ScheduledJob = Pick<Job, 'id' | 'opts' | 'repeatJobKey' | 'processedOn' | 'attemptsMade'>;

/** The time (ms) a Job Scheduler planned `job` for; undefined for a job no scheduler made. */
export function plannedStart(job: ScheduledJob): number | undefined {
  if (!job.repeatJobKey) return undefined;
  const planned = job.opts.prevMillis;
  if (typeof planned === 'number' && Number.isFinite(planned)) return planned;
  // Older jobs may lack prevMillis; the id ends with the same time.
  const fromId = Number(job.id?.split(':').at(-1));
  return Number.isFinite(fromId) && fromId > 0 ? fromId : undefined;
}

/**
 * Seconds from the planned start to the start of the job's first attempt; undefined for jobs
 * no scheduler made, and for retries (their delay is the backoff, not the schedule's).
 */
export function scheduleLagSeconds(job: ScheduledJob, now: number = Date.now()): number | undefined {
  if (job.attemptsMade > 0) return undefined;
  const planned = plannedStart(job);
  if (planned === undefined) return undefined;
  return Math.max(0, ((job.processedOn ?? now) - planned) / 1000);
}
