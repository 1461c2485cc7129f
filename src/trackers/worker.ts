/**
 * The tracker worker (`strata worker`, and `strata serve --with-worker`): takes `sync` jobs
 * from the shared BullMQ queue and runs them with `syncTracker`. Several workers on one Redis
 * share the jobs, the API rate limits (RedisRateLimiter) and the run ledger (RedisRunLedger).
 * Each job reloads the project, so a worker follows definition changes without a restart.
 * A job's run id is derived from the
 * job, so a retried or recovered job (a worker that died mid-run) keeps it and destinations
 * stay idempotent; a `failed` or `partial` run throws, and BullMQ retries it with backoff.
 */
import { createHash } from 'node:crypto';
import { hostname } from 'node:os';
import { UnrecoverableError, Worker, type Job } from 'bullmq';
import { Redis } from 'ioredis';
import { pino, type DestinationStream, type Logger as PinoLogger } from 'pino';
import { Compiler } from '../core/compile.js';
import { formatDiagnostic } from '../core/diagnostics.js';
import { checkTracker } from '../core/trackers.js';
import type { Logger } from '../destinations/destination.js';
import { RedisRunLedger } from '../destinations/redis-ledger.js';
import { RedisRateLimiter } from '../destinations/redis-limiter.js';
import { openEngine, type EngineChoice } from '../engines/open-engine.js';
import { registerConfiguredSecrets, registerSecrets, secrets } from '../engines/secrets.js';
import { loadProject } from '../project/load-project.js';
import { RunHistory, type HistoryLocation, type RunStatus, type TrackerRun } from './history.js';
import { historyLocation } from './locations.js';
import { bullConnection, DEFAULT_QUEUE_PREFIX, SYNC_JOB, SYNC_QUEUE, type SyncJobData } from './scheduler.js';
import { syncTracker } from './sync.js';

export interface WorkerOptions {
  projectDir: string;
  /** Redis URL. */
  redis: string;
  /** Jobs run at once by this process (default 2). */
  concurrency?: number;
  /** Queue key prefix (default `strata`); the rate limits live under `<prefix>:limit:`. */
  prefix?: string;
  /** `--engine` / `--database`, as for `strata sync`. */
  engine?: EngineChoice;
  /**
   * How long a job stays claimed by a worker that stopped renewing its lock (it crashed)
   * before another worker takes it over (default 30 s).
   */
  lockDuration?: number;
  /** How often this worker looks for such stalled jobs (default: lockDuration). */
  stalledInterval?: number;
  /** Shown on jobs as `processedBy` (default `<host>:<pid>`). */
  name?: string;
  env?: NodeJS.ProcessEnv;
  logger?: PinoLogger;
  /** Close gracefully on the first SIGINT/SIGTERM (let running jobs finish), at once on the second. */
  handleSignals?: boolean;
}

/** What a finished job returns (stored by BullMQ as the job's return value). */
export interface SyncJobSummary {
  runId: string;
  tracker: string;
  status: RunStatus;
  rows: number;
  apiCalls: number;
  destinations: { destination: string; status: string; error?: string }[];
  error?: string;
}

export interface StrataWorker {
  readonly worker: Worker<SyncJobData, SyncJobSummary>;
  /** Resolves once the worker has closed (after `close()` or a signal). */
  readonly closed: Promise<void>;
  close(force?: boolean): Promise<void>;
}

/**
 * The run id of a job: the same for every attempt of it (retries, and a recovery after a
 * worker died mid-run), different for every job (ids restart when a queue is emptied, so the
 * queue's key and the job's creation time are part of it). UUID-shaped, like other run ids.
 */
export function runIdForJob(job: Pick<Job, 'queueQualifiedName' | 'id' | 'timestamp'>): string {
  const hex = createHash('sha256')
    .update(`${job.queueQualifiedName}\n${job.id}\n${job.timestamp}`)
    .digest('hex');
  const variant = ((parseInt(hex[16]!, 16) & 0x3) | 0x8).toString(16);
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-5${hex.slice(13, 16)}-${variant}${hex.slice(17, 20)}-${hex.slice(20, 32)}`;
}

/** `redis://user:secret@host:6379/0` -> `redis://host:6379/0`, for logs. */
export function redactRedisUrl(url: string): string {
  try {
    const parsed = new URL(url);
    parsed.username = '';
    parsed.password = '';
    return parsed.toString();
  } catch {
    return '(invalid Redis URL)';
  }
}

/**
 * JSON lines on stderr (or `destination`). Every argument of every log call (messages, fields,
 * errors) is redacted first: a message may quote a server that echoed a credential.
 */
export function defaultLogger(destination: DestinationStream = pino.destination(2)): PinoLogger {
  return pino(
    {
      base: undefined,
      level: process.env.STRATA_LOG_LEVEL ?? 'info',
      hooks: {
        logMethod(args, method) {
          method.apply(this, secrets.redactDeep(args));
        },
      },
    },
    destination,
  );
}

/** pino as the destinations' logger. */
export function destinationLogger(log: PinoLogger): Logger {
  return {
    info: (message, fields) => log.info(fields ?? {}, message),
    warn: (message, fields) => log.warn(fields ?? {}, message),
  };
}

/** One RunHistory per location (strata.yaml `runs:` may change while the worker runs). */
class Histories {
  private readonly open = new Map<string, Promise<RunHistory>>();

  get(location: HistoryLocation): Promise<RunHistory> {
    const key = JSON.stringify(location);
    let history = this.open.get(key);
    if (!history) {
      history = RunHistory.open(location);
      history.catch(() => this.open.delete(key));
      this.open.set(key, history);
    }
    return history;
  }

  async close(): Promise<void> {
    const all = [...this.open.values()];
    this.open.clear();
    await Promise.all(all.map(async (h) => (await h.catch(() => undefined))?.close()));
  }
}

export async function startWorker(options: WorkerOptions): Promise<StrataWorker> {
  const log = (options.logger ?? defaultLogger()).child({ component: 'worker' });
  const prefix = options.prefix ?? DEFAULT_QUEUE_PREFIX;
  const env = options.env ?? process.env;
  registerSecrets([options.redis]);
  const limiterRedis = new Redis(options.redis, { maxRetriesPerRequest: 3, lazyConnect: false });
  limiterRedis.on('error', (e: Error) =>
    log.warn({ error: e.message }, 'rate-limiter Redis connection error'),
  );
  const limiter = new RedisRateLimiter(limiterRedis, { prefix: `${prefix}:limit:` });
  const ledger = new RedisRunLedger(limiterRedis, { prefix: `${prefix}:ledger:` });
  const histories = new Histories();
  const lockDuration = options.lockDuration ?? 30_000;

  const process_ = async (
    job: Job<SyncJobData, SyncJobSummary>,
    _token?: string,
    signal?: AbortSignal,
  ): Promise<SyncJobSummary> => {
    if (job.name !== SYNC_JOB) throw new UnrecoverableError(`unknown job '${job.name}'`);
    const name = job.data.tracker;
    const trigger = job.data.trigger ?? 'schedule';
    const runId = runIdForJob(job);
    const jobLog = log.child({ job: job.id, tracker: name, runId, attempt: job.attemptsMade + 1 });
    // Definitions may have changed since the job was queued: always run the current ones.
    const project = loadProject(options.projectDir);
    registerConfiguredSecrets({ config: project.config, trackers: project.model.trackers.values() }, env);
    const tracker = project.model.trackers.get(name);
    const errors = project.diagnostics.filter((d) => d.severity === 'error');
    if (!tracker && errors.length === 0) throw new UnrecoverableError(`tracker '${name}' no longer exists`);
    const compiler = new Compiler(project.model);
    const problems = tracker
      ? [...errors, ...checkTracker(tracker, compiler).filter((d) => d.severity === 'error')]
      : errors;
    const history = await histories.get(historyLocation(options.projectDir, project.config, env));
    if (problems.length > 0) {
      const message = `invalid definitions: ${problems.map(formatDiagnostic).join('; ')}`;
      if (tracker) await history.record(failedRun(runId, name, trigger, message));
      jobLog.error({ problems: problems.map(formatDiagnostic) }, 'cannot run: invalid definitions');
      throw new Error(message);
    }
    jobLog.info('sync started');
    const run = await syncTracker(
      tracker!,
      {
        compiler,
        projectDir: options.projectDir,
        openEngine: () => openEngine(options.projectDir, options.engine ?? {}, project.config),
        history,
        limiter,
        ledger,
        env,
        log: destinationLogger(jobLog),
      },
      { trigger, runId, ...(signal ? { signal } : {}) },
    );
    const summary = summarize(run);
    jobLog.info({ status: run.status, rows: run.rows, apiCalls: run.apiCalls }, 'sync finished');
    if (run.status === 'failed' || run.status === 'partial') {
      throw new Error(`${name}: run ${run.status}${run.error ? `: ${run.error}` : ''}`);
    }
    return summary;
  };

  const worker = new Worker<SyncJobData, SyncJobSummary>(SYNC_QUEUE, process_, {
    connection: bullConnection(options.redis),
    prefix,
    concurrency: options.concurrency ?? 2,
    name: options.name ?? `${hostname()}:${process.pid}`,
    lockDuration,
    stalledInterval: options.stalledInterval ?? lockDuration,
    maxStalledCount: 2,
  });
  worker.on('error', (e) => log.warn({ error: e.message }, 'worker error'));
  worker.on('failed', (job, e) => {
    if (!job) return;
    const willRetry = job.attemptsMade < (job.opts.attempts ?? 1) && !(e instanceof UnrecoverableError);
    log.warn(
      { job: job.id, tracker: job.data.tracker, attempt: job.attemptsMade, willRetry, error: e.message },
      'sync job failed',
    );
  });
  worker.on('stalled', (jobId) =>
    log.warn({ job: jobId }, 'sync job stalled (its worker stopped); it runs again'),
  );

  let closing: Promise<void> | undefined;
  let resolveClosed!: () => void;
  const closed = new Promise<void>((r) => (resolveClosed = r));
  const onSignal = (signal: NodeJS.Signals) => {
    log.info(
      { signal },
      closing ? 'stopping running jobs' : 'closing: running jobs finish first (signal again to stop them)',
    );
    void close(closing !== undefined);
  };
  /** Graceful: running jobs finish. Forced: running jobs are aborted (their signal fires) and retried later. */
  const close = (force = false): Promise<void> => {
    if (force) worker.cancelAllJobs('the worker is shutting down');
    closing ??= (async () => {
      try {
        await worker.close(force);
      } finally {
        await histories.close();
        limiterRedis.disconnect();
        if (options.handleSignals) {
          process.off('SIGINT', onSignal);
          process.off('SIGTERM', onSignal);
        }
        log.info('worker closed');
        resolveClosed();
      }
    })();
    return closing;
  };
  if (options.handleSignals) {
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
  }

  // A signal while Redis is still unreachable closes the worker instead of waiting on.
  await Promise.race([worker.waitUntilReady(), closed]);
  log.info(
    { redis: redactRedisUrl(options.redis), prefix, concurrency: options.concurrency ?? 2 },
    'worker ready',
  );
  return { worker, closed, close };
}

function summarize(run: TrackerRun): SyncJobSummary {
  return {
    runId: run.id,
    tracker: run.tracker,
    status: run.status,
    rows: run.rows,
    apiCalls: run.apiCalls,
    destinations: run.destinations.map((d) => ({
      destination: d.destination,
      status: d.status,
      ...(d.error ? { error: d.error } : {}),
    })),
    ...(run.error ? { error: run.error } : {}),
  };
}

function failedRun(id: string, tracker: string, trigger: TrackerRun['trigger'], error: string): TrackerRun {
  const now = new Date().toISOString();
  return {
    id,
    tracker,
    trigger,
    status: 'failed',
    startedAt: now,
    endedAt: now,
    rows: 0,
    destinations: [],
    apiCalls: 0,
    bytes: 0,
    error,
  };
}
