/**
 * The tracker worker (`strata worker`, and `strata serve --with-worker`): takes `sync` jobs
 * from the shared BullMQ queue and runs them with `syncTracker`. Several workers on one Redis
 * share the jobs, the API rate limits (RedisRateLimiter) and the run ledger (RedisRunLedger).
 * Each job reloads the project, so a worker follows definition changes without a restart.
 * A job's run id is derived from the
 * job, so a retried or recovered job (a worker that died mid-run) keeps it and destinations
 * stay idempotent; a `failed` or `partial` run throws, and BullMQ retries it with backoff.
 * Unless told not to, a worker also runs its share of the project's CDC pipelines (a
 * PipelineSupervisor), stopped within the same grace period on close, and takes warehouse
 * maintenance jobs from their own queue (cdc/maintenance-queue.ts).
 */
import { createHash } from 'node:crypto';
import { hostname } from 'node:os';
import { DelayedError, UnrecoverableError, WaitingError, Worker, type Job } from 'bullmq';
import { Redis } from 'ioredis';
import { pino, type DestinationStream, type Logger as PinoLogger } from 'pino';
import { RunAlerts } from '../alerts/run-alerts.js';
import { Compiler } from '../core/compile.js';
import { formatDiagnostic } from '../core/diagnostics.js';
import { checkTracker } from '../core/trackers.js';
import type { Logger } from '../destinations/destination.js';
import { RedisRunLedger } from '../destinations/redis-ledger.js';
import { RedisRateLimiter } from '../destinations/redis-limiter.js';
import { openEngine, type EngineChoice } from '../engines/open-engine.js';
import { registerConfiguredSecrets, registerSecrets, secrets } from '../engines/secrets.js';
import { MaintenanceWorker, type MaintenanceWorkerOptions } from '../cdc/maintenance-queue.js';
import { PipelineLeases } from '../pipelines/lease.js';
import { PipelineSupervisor, type SupervisorOptions } from '../pipelines/supervisor.js';
import { StrataMetrics } from '../metrics/metrics.js';
import { scheduleLagSeconds } from '../metrics/schedule-lag.js';
import type { MetricsServer } from '../metrics/server.js';
import { startWorkerMetrics } from '../metrics/worker-metrics.js';
import { loadProject } from '../project/load-project.js';
import { RunHistory, type HistoryLocation, type RunStatus, type TrackerRun } from './history.js';
import { historyLocation } from './locations.js';
import { ChangeTrigger, currentChangeProject } from './change-trigger.js';
import {
  bullConnection,
  DEFAULT_QUEUE_PREFIX,
  openSyncQueue,
  SYNC_JOB,
  SYNC_QUEUE,
  type SyncJobData,
} from './scheduler.js';
import { settlesWithin } from './settles.js';
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
  /**
   * On close, how long running jobs may take to finish before they are handed back to the
   * queue (aborted and moved back to waiting, for any worker to run again with the same run id).
   * Default DEFAULT_SHUTDOWN_GRACE_MS.
   */
  shutdownGraceMs?: number;
  /**
   * Also run the project's CDC pipelines (spec §9), each in exactly one worker: default true;
   * `strata worker --no-pipelines` turns it off.
   */
  pipelines?: boolean;
  /** Also run scheduled warehouse maintenance jobs (default true; `strata worker --no-maintenance` turns it off). */
  maintenance?: boolean;
  /** Runs one maintenance job (default: the real one; tests make it fail). */
  maintenanceRun?: MaintenanceWorkerOptions['run'];
  /** Tuning of the pipeline supervisor (scan interval, lease TTL, source factory: tests). */
  pipelineOptions?: Partial<Omit<SupervisorOptions, 'projectDir' | 'redis' | 'prefix' | 'logger'>>;
  /** Where this worker counts (`serve --with-worker` shares the service's); its own by default. */
  metrics?: StrataMetrics;
  /** Serve GET /metrics on this port (0: any free one); no metrics server when undefined. */
  metricsPort?: number;
  /** Where that server listens (default 127.0.0.1). */
  metricsHost?: string;
  /** Scrapers must send `Authorization: Bearer <token>` when set (strata.yaml `metrics.token`). */
  metricsToken?: string;
}

/** How long running jobs may finish when a worker closes, by default. */
export const DEFAULT_SHUTDOWN_GRACE_MS = 20_000;
/**
 * After the grace period: how long aborted jobs get to hand themselves back, and then how long
 * the connections get to close (an unreachable Redis never answers), before the worker lets go.
 * A closing worker is gone within grace + HAND_BACK_MS + DISCONNECT_MS.
 */
const HAND_BACK_MS = 5_000;
const DISCONNECT_MS = 3_000;

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
  /** The pipeline supervisor (undefined with `pipelines: false`). */
  readonly pipelines: PipelineSupervisor | undefined;
  /** Where this process reports changed tables: the on_change trackers reading them are queued. */
  readonly changes: ChangeTrigger;
  /** The maintenance job worker (undefined with `maintenance: false`). */
  readonly maintenance: MaintenanceWorker | undefined;
  /** Resolves once the worker takes jobs (not while Redis is unreachable). */
  readonly ready: Promise<void>;
  /** Resolves once the worker has closed (after `close()` or a signal). */
  readonly closed: Promise<void>;
  readonly metrics: StrataMetrics;
  /** The /metrics server (undefined without `metricsPort`); rejects when its port cannot be had. */
  readonly metricsServer: Promise<MetricsServer | undefined>;
  /**
   * Stops taking jobs, lets running ones finish within the grace period, then hands them back;
   * `force` hands them back at once. Resolves within the grace period and HAND_BACK_MS +
   * DISCONNECT_MS more, whether Redis answers or not.
   */
  close(force?: boolean): Promise<void>;
}

export { settlesWithin } from './settles.js';

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

/** Starts a worker and resolves once it takes jobs (or was closed first: a signal while Redis is unreachable). */
export async function startWorker(options: WorkerOptions): Promise<StrataWorker> {
  const worker = createWorker(options);
  await Promise.race([worker.ready, worker.closed]);
  return worker;
}

/** A worker, connecting: `ready` tells when it takes jobs; it can be closed before that. */
export function createWorker(options: WorkerOptions): StrataWorker {
  const rootLog = options.logger ?? defaultLogger();
  const log = rootLog.child({ component: 'worker' });
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
  const alerts = new RunAlerts({ env, log: log.child({ component: 'alerts' }) });
  const lockDuration = options.lockDuration ?? 30_000;
  const metrics = options.metrics ?? new StrataMetrics({ role: 'worker' });
  // One run of a tracker at a time across all workers: a scheduled run and a change-triggered
  // one (or two manual ones) would otherwise read and write the same tab side by side.
  const trackerRuns = new PipelineLeases(limiterRedis, {
    prefix,
    scope: 'tracker',
    ttlMs: lockDuration,
    owner: options.name ?? `${hostname()}:${process.pid}`,
  });

  /** Set when closing aborts the running jobs: they move back to waiting instead of failing. */
  let handingBack = false;
  const process_ = async (
    job: Job<SyncJobData, SyncJobSummary>,
    token?: string,
    signal?: AbortSignal,
  ): Promise<SyncJobSummary> => {
    if (job.name !== SYNC_JOB) throw new UnrecoverableError(`unknown job '${job.name}'`);
    // Fetched just as the worker began closing: not started, so handed back as it is.
    if (handingBack) await handBackJob(job, token);
    const name = job.data.tracker;
    const trigger = job.data.trigger ?? 'schedule';
    const runId = runIdForJob(job);
    const lag = scheduleLagSeconds(job);
    if (lag !== undefined) metrics.observeScheduleLag(SYNC_QUEUE, lag);
    const jobLog = log.child({ job: job.id, tracker: name, runId, attempt: job.attemptsMade + 1 });
    // Definitions may have changed since the job was queued: always run the current ones.
    const project = loadProject(options.projectDir);
    registerConfiguredSecrets(
      {
        config: project.config,
        trackers: project.model.trackers.values(),
        pipelines: project.model.pipelines.values(),
      },
      env,
    );
    const tracker = project.model.trackers.get(name);
    const errors = project.diagnostics.filter((d) => d.severity === 'error');
    if (!tracker && errors.length === 0) throw new UnrecoverableError(`tracker '${name}' no longer exists`);
    const compiler = new Compiler(project.model);
    const problems = tracker
      ? [...errors, ...checkTracker(tracker, compiler).filter((d) => d.severity === 'error')]
      : errors;
    const location = historyLocation(options.projectDir, project.config, env);
    const history = await histories.get(location);
    if (problems.length > 0) {
      const message = `invalid definitions: ${problems.map(formatDiagnostic).join('; ')}`;
      if (tracker) await history.record(failedRun(runId, name, trigger, message));
      if (tracker) metrics.recordRun(failedRun(runId, name, trigger, message));
      jobLog.error({ problems: problems.map(formatDiagnostic) }, 'cannot run: invalid definitions');
      throw new Error(message);
    }
    const lease = await trackerRuns.tryAcquire(name);
    if (!lease) await waitForTurn(job, token, jobLog);
    let run: TrackerRun;
    try {
      jobLog.info('sync started');
      run = await syncTracker(
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
          observer: metrics.syncObserver(),
        },
        { trigger, runId, ...(signal ? { signal } : {}) },
      );
    } finally {
      await lease!.release();
    }
    metrics.recordRun(
      run,
      tracker!.definition.destinations.map((d) => d.type),
    );
    if (handingBack && signal?.aborted) {
      jobLog.info('sync job handed back to the queue: the worker is shutting down');
      await handBackJob(job, token);
    }
    // Not awaited: the run is done whether or not its alerts get through (retried in the background).
    void alerts.afterRun({ config: project.config, tracker: tracker!, history, location });
    const summary = summarize(run);
    jobLog.info({ status: run.status, rows: run.rows, apiCalls: run.apiCalls }, 'sync finished');
    if (run.status === 'failed' || run.status === 'partial') {
      throw new Error(`${name}: run ${run.status}${run.error ? `: ${run.error}` : ''}`);
    }
    return summary;
  };

  const running = new Set<Promise<unknown>>();
  const track = (
    job: Job<SyncJobData, SyncJobSummary>,
    token?: string,
    signal?: AbortSignal,
  ): Promise<SyncJobSummary> => {
    const task = process_(job, token, signal);
    running.add(task);
    const done = () => running.delete(task);
    task.then(done, done);
    return task;
  };
  const worker = new Worker<SyncJobData, SyncJobSummary>(SYNC_QUEUE, track, {
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

  const graceMs = options.shutdownGraceMs ?? DEFAULT_SHUTDOWN_GRACE_MS;
  const changeQueue = openSyncQueue({ redis: options.redis, prefix });
  const changes = new ChangeTrigger({
    queue: changeQueue,
    project: () => currentChangeProject(options.projectDir),
    log: rootLog.child({ component: 'change-trigger' }),
  });
  const pipelines = startPipelines(options, prefix, env, graceMs, rootLog, changes);
  const metricsServer = serveMetrics(options, metrics, prefix, log);
  const maintenance =
    options.maintenance === false
      ? undefined
      : new MaintenanceWorker({
          projectDir: options.projectDir,
          redis: options.redis,
          prefix,
          logger: rootLog,
          name: options.name ?? `${hostname()}:${process.pid}`,
          ...(options.maintenanceRun ? { run: options.maintenanceRun } : {}),
          onTablesChanged: (tables) => changes.notify(tables),
        });

  let closing: Promise<void> | undefined;
  let resolveClosed!: () => void;
  const closed = new Promise<void>((r) => (resolveClosed = r));
  const onSignal = (signal: NodeJS.Signals) => {
    log.info(
      { signal, graceMs },
      closing
        ? 'handing the running jobs back to the queue'
        : 'closing: running jobs may finish within the grace period (signal again to hand them back now)',
    );
    void close(closing !== undefined);
  };
  const handBack = (): void => {
    if (handingBack) return;
    handingBack = true;
    worker.cancelAllJobs('the worker is shutting down');
  };
  const jobsFinished = () => Promise.allSettled([...running]);
  /** The pipelines' last commits' notices are queued first, then the queue lets go. */
  const closeChangeQueue = async (redisAnswers: boolean): Promise<void> => {
    if (redisAnswers) {
      await settlesWithin(changes.close(), DISCONNECT_MS);
      if (await settlesWithin(changeQueue.close(), DISCONNECT_MS)) return;
    }
    // Redis is gone: nothing can be queued, and waiting on its sockets would only delay the exit.
    void changeQueue.disconnect().catch(() => undefined);
  };
  const shutDown = async (): Promise<void> => {
    // Pipelines stop beside the jobs, within the same grace (runners commit what they read).
    const pipelinesStopped = pipelines?.stop() ?? Promise.resolve();
    const maintenanceStopped = maintenance?.close(graceMs) ?? Promise.resolve();
    const startedAt = Date.now();
    let redisAnswers = true;
    try {
      // Takes no more jobs from here on; BullMQ's close also waits for the running ones.
      const bullClosed = worker.close();
      if (!(await settlesWithin(jobsFinished(), graceMs)))
        log.warn(
          { jobs: running.size, graceMs },
          'jobs still running after the grace period: handing them back',
        );
      // Also hands back a job BullMQ fetched but had not started when the close began.
      handBack();
      if (!(await settlesWithin(jobsFinished(), HAND_BACK_MS)))
        log.warn({ jobs: running.size }, 'jobs not handed back: they run again once their lock expires');
      if (!(await settlesWithin(bullClosed, DISCONNECT_MS))) {
        redisAnswers = false;
        log.warn('Redis does not answer: disconnecting');
        await settlesWithin(worker.disconnect(), DISCONNECT_MS);
      }
    } finally {
      const [pipelinesDone, maintenanceDone] = await Promise.all([
        settlesWithin(pipelinesStopped, HAND_BACK_MS + DISCONNECT_MS),
        // A maintenance job keeps the rest of its grace period, unless Redis is gone (it cannot finish then).
        settlesWithin(
          maintenanceStopped,
          redisAnswers ? Math.max(DISCONNECT_MS, startedAt + graceMs + HAND_BACK_MS - Date.now()) : 0,
        ),
      ]);
      if (!pipelinesDone)
        log.warn('pipelines did not stop in time: their leases expire and other workers take them over');
      if (!maintenanceDone)
        log.warn('a maintenance job did not finish in time: it runs again once its lock expires');
      // Side by side, each bounded: a closing worker must not add up the waits of an unreachable Redis.
      await Promise.all([
        closeChangeQueue(redisAnswers),
        alerts.close(DISCONNECT_MS),
        settlesWithin(histories.close(), DISCONNECT_MS),
        settlesWithin(
          metricsServer.then((server) => server?.close()),
          DISCONNECT_MS,
        ),
      ]);
      limiterRedis.disconnect();
      if (options.handleSignals) {
        process.off('SIGINT', onSignal);
        process.off('SIGTERM', onSignal);
      }
      log.info('worker closed');
      resolveClosed();
    }
  };
  const close = (force = false): Promise<void> => {
    if (force) handBack();
    closing ??= shutDown();
    return closing;
  };
  if (options.handleSignals) {
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
  }

  log.info({ redis: redactRedisUrl(options.redis), prefix }, 'worker connecting to Redis');
  const ready = worker.waitUntilReady().then(() => {
    log.info(
      { redis: redactRedisUrl(options.redis), prefix, concurrency: options.concurrency ?? 2 },
      'worker ready',
    );
  });
  // Closing before Redis answered rejects it: that is no failure of its own.
  ready.catch(() => undefined);
  return { worker, pipelines, changes, maintenance, ready, closed, close, metrics, metricsServer };
}

/** The worker's /metrics server, when a port is given; failing to listen is logged, not fatal to the jobs. */
function serveMetrics(
  options: WorkerOptions,
  metrics: StrataMetrics,
  prefix: string,
  log: PinoLogger,
): Promise<MetricsServer | undefined> {
  if (options.metricsPort === undefined) return Promise.resolve(undefined);
  const server = startWorkerMetrics(metrics, {
    port: options.metricsPort,
    ...(options.metricsHost ? { host: options.metricsHost } : {}),
    ...(options.metricsToken ? { token: options.metricsToken } : {}),
    redis: options.redis,
    prefix,
  });
  server.then(
    (s) => log.info({ url: s.url }, 'metrics served'),
    (e: Error) => log.error({ error: e.message }, 'cannot serve metrics'),
  );
  return server;
}

/** The pipeline supervisor of this worker, started (unless `pipelines: false`). */
function startPipelines(
  options: WorkerOptions,
  prefix: string,
  env: NodeJS.ProcessEnv,
  graceMs: number,
  log: PinoLogger,
  changes: ChangeTrigger,
): PipelineSupervisor | undefined {
  if (options.pipelines === false) return undefined;
  const supervisor = new PipelineSupervisor({
    ...(options.name ? { owner: options.name } : {}),
    stopGraceMs: graceMs,
    env,
    onTablesChanged: (tables) => changes.notify(tables),
    ...options.pipelineOptions,
    projectDir: options.projectDir,
    redis: options.redis,
    prefix,
    logger: log,
  });
  supervisor.start();
  return supervisor;
}

/** How long a job whose tracker is running elsewhere waits before it tries again. */
const BUSY_TRACKER_RETRY_MS = 1_000;

/**
 * Another run of the job's tracker holds its lease: the job is delayed (its attempt not
 * counted) and tries again shortly, so it runs after that one, on the data that one left.
 */
async function waitForTurn(
  job: Job<SyncJobData, SyncJobSummary>,
  token: string | undefined,
  log: { info(message: string): void },
): Promise<never> {
  log.info('another run of this tracker is in progress: this job waits for it');
  await job.moveToDelayed(Date.now() + BUSY_TRACKER_RETRY_MS, token);
  throw new DelayedError();
}

/**
 * Moves a job back to waiting, its attempt not counted: another worker runs it again, with the
 * same run id. The WaitingError tells BullMQ the job has moved (it is not a failure).
 */
async function handBackJob(job: Job<SyncJobData, SyncJobSummary>, token: string | undefined): Promise<never> {
  await job.moveToWait(token);
  throw new WaitingError();
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
