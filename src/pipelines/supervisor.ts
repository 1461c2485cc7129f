/**
 * Runs the project's pipelines under `strata worker` (spec §9: each pipeline in exactly one
 * worker at a time). Every scan (5 s by default) a supervisor:
 *
 * - reloads the definitions (the last valid ones stay in force while they have errors);
 * - registers itself in `<prefix>:pipeline-workers` (a ZSET scored by Redis time; members
 *   silent for more than three scans are dropped) and computes its fair share,
 *   ceil(pipelines / live workers);
 * - releases gracefully what it holds beyond that share (a worker joined), and takes leases
 *   on free pipelines until it holds its share, in an order of its own (a hash of worker and
 *   pipeline), so that workers starting together spread the pipelines instead of racing for
 *   the same ones;
 * - follows each held pipeline's definition (a change restarts it with the new one, a removal
 *   stops it and releases it) and its state (an operator's pause stops it; a resume starts it).
 *
 * Each held pipeline runs `runPipeline` with its lease's fencing token, with its own
 * warehouse and source, under an AbortSignal aborted when the lease is lost, the definition
 * changes, the pipeline is paused or released, or the supervisor stops; an aborted runner
 * commits what it read before it returns. A failure is recorded (status `failed`) and retried
 * with exponential backoff; a runner that lost a race for its position starts again at once.
 * Nothing one pipeline does reaches another.
 */
import { createHash } from 'node:crypto';
import { hostname } from 'node:os';
import { Redis } from 'ioredis';
import { pino, type Logger as PinoLogger } from 'pino';
import type { ProjectConfig } from '../core/definitions/schema.js';
import type { PipelineModel } from '../core/model/types.js';
import { redact, registerSecrets } from '../engines/secrets.js';
import { historyLocation } from '../trackers/locations.js';
import { DEFAULT_QUEUE_PREFIX } from '../trackers/scheduler.js';
import { settlesWithin } from '../trackers/settles.js';
import { PipelineAudits, pinoAsLogger } from './audit-queue.js';
import { DefinitionsWatch, stableJson, type PipelineProject } from './definitions-watch.js';
import { PipelineLeases, type Lease } from './lease.js';
import type { EnrichOptions } from './processors/graphql-enrich.js';
import { withPipelineResources, type SourceFactory, type WarehouseOpener } from './resources.js';
import { PositionConflictError, runPipeline, type RunOutcome } from './runner.js';
import { PipelineStateStore, type PipelineState } from './state.js';

export const DEFAULT_SCAN_INTERVAL_MS = 5_000;
export const DEFAULT_LEASE_TTL_MS = 15_000;
/** A worker silent for more than this many scans no longer counts in the fair share. */
const SILENT_SCANS = 3;
/** Bounds on Redis and state-store calls while stopping: an unreachable server never answers. */
const STOP_CALL_MS = 3_000;

export interface BackoffPolicy {
  /** The first retry's delay (default 1 s); each failure in a row doubles it. */
  initialMs: number;
  /** The longest delay (default 5 min). */
  maxMs: number;
  /** A run that lasted this long (default 60 s) was healthy: its failure starts the backoff over. */
  healthyMs: number;
}

export const DEFAULT_BACKOFF: BackoffPolicy = { initialMs: 1_000, maxMs: 300_000, healthyMs: 60_000 };

/** The delay before the retry after `failures` failures in a row. */
export function retryDelay(failures: number, policy: BackoffPolicy): number {
  return Math.min(policy.maxMs, policy.initialMs * 2 ** Math.max(0, failures - 1));
}

/** ceil(pipelines / live workers): what each worker runs when the pipelines are spread evenly. */
export function fairShare(pipelines: number, liveWorkers: number): number {
  return Math.ceil(pipelines / Math.max(1, liveWorkers));
}

export interface SupervisorOptions {
  projectDir: string;
  /** Redis URL (leases, the worker registry, the audit queue). */
  redis: string;
  /** Redis key prefix (default `strata`), as for the sync queue. */
  prefix?: string;
  /** This worker, as leases and status show it (default `<host>:<pid>`). */
  owner?: string;
  env?: NodeJS.ProcessEnv;
  logger?: PinoLogger;
  /** Opens a pipeline's source (default: the real sources). */
  openSource?: SourceFactory;
  openWarehouse?: WarehouseOpener;
  scanIntervalMs?: number;
  leaseTtlMs?: number;
  backoff?: Partial<BackoffPolicy>;
  /** On stop, how long runners may take to commit what they read (default 20 s). */
  stopGraceMs?: number;
  /** Keep the audit schedulers and run audit jobs (default true). */
  audits?: boolean;
  /** An audit's wait for the pipeline to commit past the source's position (default 60 s). */
  auditCatchUpMs?: number;
  enrich?: EnrichOptions;
  /** After a commit that changed rows: the raw tables it changed (change-triggered tracker runs). */
  onTablesChanged?: (tables: string[]) => void;
}

/** What a held pipeline is doing. */
export type HeldPhase = 'running' | 'backoff' | 'paused' | 'ended';

interface ActiveRun {
  controller: AbortController;
  startedAt: number;
  done: Promise<void>;
}

interface HeldPipeline {
  name: string;
  lease: Lease;
  /** The stable JSON of the definition in force. */
  key: string;
  phase: HeldPhase;
  run?: ActiveRun;
  /** What the abort of the current run was for. */
  after?: 'restart' | 'pause';
  releasing?: Promise<void>;
  failures: number;
  retry?: NodeJS.Timeout;
}

/** The registry: ZADD at Redis time, drop the silent, count the live. KEYS: registry. ARGV: member, silent ms, key ttl ms. */
const REGISTER = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZADD', KEYS[1], now, ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', '(' .. (now - tonumber(ARGV[2])))
redis.call('PEXPIRE', KEYS[1], ARGV[3])
return redis.call('ZCARD', KEYS[1])`;

export class PipelineSupervisor {
  readonly owner: string;
  private readonly log: PinoLogger;
  private readonly env: NodeJS.ProcessEnv;
  private readonly redis: Redis;
  private readonly leases: PipelineLeases;
  private readonly registry: string;
  private readonly scanIntervalMs: number;
  private readonly backoff: BackoffPolicy;
  private readonly stopGraceMs: number;
  private readonly watch: DefinitionsWatch;
  private readonly audits: PipelineAudits | undefined;
  private readonly held = new Map<string, HeldPipeline>();
  private readonly stores = new Map<string, Promise<PipelineStateStore>>();
  private timer: NodeJS.Timeout | undefined;
  private scanning: Promise<void> | undefined;
  private stopping = false;
  private killed = false;
  private stopped: Promise<void> | undefined;
  private liveWorkers = 1;

  constructor(private readonly options: SupervisorOptions) {
    this.owner = options.owner ?? `${hostname()}:${process.pid}`;
    this.log = (options.logger ?? pino({ level: 'silent' })).child({ component: 'pipelines' });
    this.env = options.env ?? process.env;
    const prefix = options.prefix ?? DEFAULT_QUEUE_PREFIX;
    registerSecrets([options.redis]);
    // Bounded calls: a Redis that accepts connections and never answers must not hang a scan.
    this.redis = new Redis(options.redis, { maxRetriesPerRequest: 3, commandTimeout: 5_000 });
    this.redis.on('error', (e: Error) =>
      this.log.warn({ error: e.message }, 'pipelines: Redis connection error'),
    );
    this.leases = new PipelineLeases(this.redis, {
      prefix,
      owner: this.owner,
      ttlMs: options.leaseTtlMs ?? DEFAULT_LEASE_TTL_MS,
    });
    this.registry = `${prefix}:pipeline-workers`;
    this.scanIntervalMs = options.scanIntervalMs ?? DEFAULT_SCAN_INTERVAL_MS;
    this.backoff = { ...DEFAULT_BACKOFF, ...options.backoff };
    this.stopGraceMs = options.stopGraceMs ?? 20_000;
    this.watch = new DefinitionsWatch(options.projectDir, this.env, this.log);
    this.audits =
      options.audits === false
        ? undefined
        : new PipelineAudits({
            redis: options.redis,
            prefix,
            projectDir: options.projectDir,
            env: this.env,
            logger: this.log.child({ part: 'audits' }),
            name: this.owner,
            ...(options.openSource ? { openSource: options.openSource } : {}),
            ...(options.openWarehouse ? { openWarehouse: options.openWarehouse } : {}),
            ...(options.auditCatchUpMs !== undefined ? { catchUpMs: options.auditCatchUpMs } : {}),
            context: () => this.auditContext(),
          });
  }

  /** Scans now, then every scan interval, until stopped. */
  start(): void {
    if (this.timer || this.stopping) return;
    this.log.info({ owner: this.owner, scanIntervalMs: this.scanIntervalMs }, 'pipeline supervisor started');
    this.schedule(0);
  }

  /** The pipelines this worker holds a lease on, by name, with what each is doing. */
  holding(): Map<string, HeldPhase> {
    return new Map([...this.held.values()].filter((h) => !h.releasing).map((h) => [h.name, h.phase]));
  }

  private schedule(delayMs: number): void {
    this.timer = setTimeout(() => void this.tick(), delayMs);
    this.timer.unref();
  }

  private async tick(): Promise<void> {
    this.scanning = this.scan().catch((e: Error) =>
      this.log.warn({ error: redact(e.message) }, 'pipeline scan failed; trying again at the next one'),
    );
    await this.scanning;
    this.scanning = undefined;
    if (!this.stopping) this.schedule(this.scanIntervalMs);
  }

  /** One scan: definitions, registry, held pipelines, fair share, audit schedules. */
  async scan(): Promise<void> {
    const project = this.watch.reload();
    this.liveWorkers = await this.register();
    if (this.stopping || !project) return;
    const pipelines = [...project.model.pipelines.values()];
    const store = await this.store(project.config);
    await this.follow(project, store);
    const share = fairShare(pipelines.length, this.liveWorkers);
    this.shed(share);
    await this.acquire(pipelines, share);
    await this.audits?.sync(pipelines);
  }

  private async register(): Promise<number> {
    const silentMs = SILENT_SCANS * this.scanIntervalMs;
    const live = (await this.redis.eval(
      REGISTER,
      1,
      this.registry,
      this.owner,
      silentMs,
      Math.max(60_000, 10 * this.scanIntervalMs),
    )) as number;
    return Math.max(1, live);
  }

  // ------------------------------------------------------------ held pipelines

  /** Follows each held pipeline's definition and state. */
  private async follow(project: PipelineProject, store: PipelineStateStore): Promise<void> {
    for (const held of [...this.held.values()]) {
      if (held.releasing) continue;
      if (held.lease.lost.aborted && !held.run) {
        this.forget(held, 'its lease was lost');
        continue;
      }
      const pipeline = project.model.pipelines.get(held.name);
      if (!pipeline) {
        void this.release(held, 'it was removed from the definitions');
        continue;
      }
      const key = stableJson(pipeline.definition);
      if (key !== held.key) {
        held.key = key;
        this.log.info({ pipeline: held.name }, 'pipeline definition changed: restarting it');
        this.restart(held);
        continue;
      }
      await this.followPause(held, store);
    }
  }

  /** An operator's pause stops a running pipeline (the runner alone notices it only while idle); a resume starts it. */
  private async followPause(held: HeldPipeline, store: PipelineStateStore): Promise<void> {
    if (held.phase !== 'paused' && held.phase !== 'running') return;
    const paused = (await store.get(held.name))?.status === 'paused';
    if (held.phase === 'paused' && !paused) {
      this.log.info({ pipeline: held.name }, 'pipeline resumed');
      this.startRun(held);
    } else if (held.phase === 'running' && paused && held.run) {
      held.after = 'pause';
      held.run.controller.abort(new Error(`pipeline ${held.name} was paused`));
    }
  }

  /** A new definition: the running runner stops (committing what it read) and starts again; a waiting one starts now. */
  private restart(held: HeldPipeline): void {
    if (held.run) {
      held.after = 'restart';
      held.run.controller.abort(new Error(`the definition of pipeline ${held.name} changed`));
      return;
    }
    held.failures = 0;
    this.startRun(held);
  }

  /** Releases what this worker holds beyond its share, least preferred first. */
  private shed(share: number): void {
    const active = [...this.held.values()].filter((h) => !h.releasing);
    const extra = active.length - share;
    if (extra <= 0) return;
    const order = active.sort((a, b) => this.preference(b.name).localeCompare(this.preference(a.name)));
    for (const held of order.slice(0, extra))
      void this.release(held, `rebalancing: ${this.liveWorkers} workers share the pipelines`);
  }

  /** Takes free pipelines, most preferred first, until this worker holds its share. */
  private async acquire(pipelines: readonly PipelineModel[], share: number): Promise<void> {
    const free = pipelines
      .filter((p) => !this.held.has(p.name))
      .sort((a, b) => this.preference(a.name).localeCompare(this.preference(b.name)));
    for (const pipeline of free) {
      if (this.held.size >= share || this.stopping) return;
      const lease = await this.leases.tryAcquire(pipeline.name);
      if (!lease) continue;
      if (this.stopping) {
        await lease.release();
        return;
      }
      const held: HeldPipeline = {
        name: pipeline.name,
        lease,
        key: stableJson(pipeline.definition),
        phase: 'running',
        failures: 0,
      };
      this.held.set(pipeline.name, held);
      this.log.info({ pipeline: pipeline.name, fence: lease.token, share }, 'pipeline taken');
      this.startRun(held);
    }
  }

  /** This worker's rank for a pipeline: each worker ranks pipelines differently, so they spread. */
  private preference(pipeline: string): string {
    return createHash('sha1').update(`${this.owner}\n${pipeline}`).digest('hex');
  }

  // ---------------------------------------------------------------------- runs

  private startRun(held: HeldPipeline): void {
    clearTimeout(held.retry);
    held.retry = undefined;
    const project = this.watch.current;
    const pipeline = project?.model.pipelines.get(held.name);
    if (this.stopping || held.releasing || held.run || !project || !pipeline) return;
    const controller = new AbortController();
    const signal = AbortSignal.any([held.lease.lost, controller.signal]);
    held.phase = 'running';
    held.after = undefined;
    const run: ActiveRun = { controller, startedAt: Date.now(), done: Promise.resolve() };
    run.done = this.runOnce(held, pipeline, project, signal)
      .then(
        (outcome) => this.settle(held, run, outcome),
        (error: unknown) => this.settle(held, run, undefined, error),
      )
      .catch((e: Error) =>
        this.log.error({ pipeline: held.name, error: redact(e.message) }, 'pipeline supervision error'),
      );
    held.run = run;
  }

  private async runOnce(
    held: HeldPipeline,
    pipeline: PipelineModel,
    project: PipelineProject,
    signal: AbortSignal,
  ): Promise<RunOutcome> {
    const store = await this.store(project.config);
    // A paused pipeline is not started: opening its source could fail, and would change nothing.
    const state = await store.get(held.name);
    if (state?.status === 'paused') return { kind: 'paused', reason: state.pausedReason ?? 'paused' };
    const logger = pinoAsLogger(this.log.child({ pipeline: held.name }));
    return withPipelineResources(
      {
        projectDir: this.options.projectDir,
        config: project.config,
        pipeline: pipeline.definition,
        env: this.env,
        logger,
        ...(this.options.openSource ? { openSource: this.options.openSource } : {}),
        ...(this.options.openWarehouse ? { openWarehouse: this.options.openWarehouse } : {}),
      },
      ({ opened, source }) =>
        runPipeline({
          pipeline,
          compiler: project.compiler,
          warehouse: opened.warehouse,
          duckdb: opened.duckdb,
          source,
          store,
          fence: held.lease.token,
          signal,
          worker: this.owner,
          logger,
          enrich: { env: this.env, ...this.options.enrich },
          ...(this.options.onTablesChanged ? { onTablesChanged: this.options.onTablesChanged } : {}),
        }),
    );
  }

  /** What happens after a run returned or threw. */
  private async settle(
    held: HeldPipeline,
    run: ActiveRun,
    outcome?: RunOutcome,
    error?: unknown,
  ): Promise<void> {
    if (held.run === run) held.run = undefined;
    if (this.killed || held.releasing) return;
    if (held.lease.lost.aborted) return this.forget(held, 'its lease was lost');
    if (error !== undefined) return this.onFailure(held, error, run.startedAt);
    switch (outcome!.kind) {
      case 'stopped':
        if (held.after === 'pause') held.phase = 'paused';
        else this.startRun(held);
        return;
      case 'paused':
        held.phase = 'paused';
        this.log.info({ pipeline: held.name, reason: outcome!.reason }, 'pipeline paused');
        return;
      case 'ended':
        // A files-only source has nothing more: not run again until its definition changes.
        held.phase = 'ended';
        held.failures = 0;
        await this.recordUnlessPaused(held.name, { status: 'idle' });
        this.log.info({ pipeline: held.name }, 'pipeline source ended');
        return;
    }
  }

  private async onFailure(held: HeldPipeline, error: unknown, startedAt: number): Promise<void> {
    if (error instanceof PositionConflictError) {
      // A newer lease holder committed: this lease is stale, whatever Redis said last.
      if (error.fencedBy !== undefined) return this.forget(held, error.message);
      this.log.info(
        { pipeline: held.name },
        'another runner committed meanwhile: starting again from its position',
      );
      this.startRun(held);
      return;
    }
    if (Date.now() - startedAt >= this.backoff.healthyMs) held.failures = 0;
    held.failures++;
    const delay = retryDelay(held.failures, this.backoff);
    const message = redact(error instanceof Error ? error.message : String(error));
    held.phase = 'backoff';
    this.log.error(
      { pipeline: held.name, error: message, failures: held.failures, retryInMs: delay },
      'pipeline failed; retrying after a backoff',
    );
    try {
      await this.recordUnlessPaused(held.name, { status: 'failed', error: message, worker: this.owner });
    } catch (e) {
      this.log.warn(
        { pipeline: held.name, error: redact((e as Error).message) },
        'could not record the failure',
      );
    }
    if (this.stopping || held.releasing || held.run) return;
    held.retry = setTimeout(() => this.startRun(held), delay);
    held.retry.unref();
  }

  /** Drops a pipeline whose lease is gone (another worker may hold it now). */
  private forget(held: HeldPipeline, why: string): void {
    clearTimeout(held.retry);
    this.held.delete(held.name);
    // Deletes the lease only if it is still this worker's (it may have come back after a blip).
    void held.lease.release();
    this.log.warn({ pipeline: held.name, why }, 'pipeline no longer held');
  }

  /**
   * Stops a held pipeline's runner (it commits what it read), marks it idle when it was
   * running, then releases its lease; bounded, so a stuck runner cannot keep a worker from
   * stopping (its commits are fenced off once another worker holds the lease).
   */
  private release(held: HeldPipeline, why: string): Promise<void> {
    held.releasing ??= (async () => {
      clearTimeout(held.retry);
      const run = held.run;
      if (run) {
        run.controller.abort(new Error(`pipeline ${held.name} is released: ${why}`));
        if (!(await settlesWithin(run.done, this.stopGraceMs)))
          this.log.warn(
            { pipeline: held.name },
            'the runner did not stop in time: releasing its lease anyway',
          );
      }
      if (!held.lease.lost.aborted) await settlesWithin(this.markIdle(held.name), STOP_CALL_MS);
      await settlesWithin(held.lease.release(), STOP_CALL_MS);
      if (this.held.get(held.name) === held) this.held.delete(held.name);
      this.log.info({ pipeline: held.name, why }, 'pipeline released');
    })();
    return held.releasing;
  }

  /** A pause recorded meanwhile (an operator's, or a schema change's) wins over a status this worker records. */
  private async recordUnlessPaused(name: string, patch: Partial<PipelineState>): Promise<void> {
    const store = await this.currentStore();
    if (!store || (await store.get(name))?.status === 'paused') return;
    await store.update(name, patch);
  }

  /** Status `running` by this worker becomes `idle` (a failure or a pause stays as it is); `worker` stays, as the last to run it. */
  private async markIdle(name: string): Promise<void> {
    const store = await this.currentStore();
    const state = await store?.get(name);
    if (state?.status === 'running' && state.worker === this.owner)
      await store!.update(name, { status: 'idle' });
  }

  // ------------------------------------------------------------- state stores

  /** The state store beside the run history (strata.yaml `runs:` may move it while the worker runs). */
  private store(config: ProjectConfig): Promise<PipelineStateStore> {
    const location = historyLocation(this.options.projectDir, config, this.env);
    const key = JSON.stringify(location);
    let store = this.stores.get(key);
    if (!store) {
      store = PipelineStateStore.open(location);
      store.catch(() => this.stores.delete(key));
      this.stores.set(key, store);
    }
    return store;
  }

  private async currentStore(): Promise<PipelineStateStore | undefined> {
    const project = this.watch.current;
    return project ? this.store(project.config) : undefined;
  }

  private async auditContext(): Promise<{ project: PipelineProject; store: PipelineStateStore } | undefined> {
    const project = this.watch.current;
    return project ? { project, store: await this.store(project.config) } : undefined;
  }

  private async closeStores(): Promise<void> {
    const all = [...this.stores.values()];
    this.stores.clear();
    await Promise.all(all.map(async (s) => (await s.catch(() => undefined))?.close()));
  }

  // ------------------------------------------------------------------ stopping

  /**
   * Stops every runner (each commits what it read, within the stop grace), marks them idle,
   * releases their leases, leaves the registry and closes its connections. Bounded: about
   * the stop grace plus a few seconds, Redis reachable or not.
   */
  stop(): Promise<void> {
    this.stopped ??= (async () => {
      this.stopping = true;
      clearTimeout(this.timer);
      if (this.scanning) await settlesWithin(this.scanning, STOP_CALL_MS);
      // Leaving the registry first: the others count without this worker at their next scan.
      await Promise.all([
        settlesWithin(this.redis.zrem(this.registry, this.owner), STOP_CALL_MS),
        ...[...this.held.values()].map((h) => this.release(h, 'the worker is stopping')),
        settlesWithin(this.audits?.close(STOP_CALL_MS) ?? Promise.resolve(), 3 * STOP_CALL_MS),
      ]);
      await settlesWithin(this.closeStores(), STOP_CALL_MS);
      this.redis.disconnect();
      this.log.info({ owner: this.owner }, 'pipeline supervisor stopped');
    })();
    return this.stopped;
  }

  /**
   * Test hook: dies as a crashed worker would, without any goodbye. Runners are stopped and
   * the Redis connection dropped, so leases are neither renewed nor released (they expire)
   * and the registry entry goes silent.
   */
  async kill(): Promise<void> {
    this.stopping = true;
    this.killed = true;
    this.stopped ??= Promise.resolve();
    clearTimeout(this.timer);
    if (this.scanning) await settlesWithin(this.scanning, STOP_CALL_MS);
    for (const held of this.held.values()) {
      clearTimeout(held.retry);
      held.run?.controller.abort(new Error('killed'));
    }
    await settlesWithin(Promise.all([...this.held.values()].map((h) => h.run?.done)), this.stopGraceMs);
    this.held.clear();
    this.redis.disconnect();
    await settlesWithin(this.audits?.close(0) ?? Promise.resolve(), 3 * STOP_CALL_MS);
    await settlesWithin(this.closeStores(), STOP_CALL_MS);
  }
}
