/**
 * `strata pipeline run|status|pause|resume|audit|dead-letters` (spec §9, §10): operating CDC
 * pipelines from the command line. `run` runs one in the foreground under the same Redis lease
 * workers take, so it never runs beside a worker's runner; the others read or change the
 * state store (beside the run history) that every worker follows.
 *
 * Exit codes: 0 success (a run stopped or its source ended; an audit without mismatches);
 * 1 failure (a run failed, the lease is held elsewhere, Redis is unreachable, invalid
 * definitions, an audit found mismatches); 2 bad usage (an unknown pipeline); 3 a run
 * that stopped because the pipeline is paused (it needs an operator).
 */
import { hostname } from 'node:os';
import { Redis } from 'ioredis';
import { Compiler } from '../core/compile.js';
import { durationMs, DURATION_PATTERN, type ProjectConfig } from '../core/definitions/schema.js';
import { StrataError } from '../core/diagnostics.js';
import type { PipelineModel } from '../core/model/types.js';
import { checkPipeline } from '../core/pipelines.js';
import { closest } from '../core/suggest.js';
import type { Logger } from '../destinations/destination.js';
import { UsageError } from '../engines/open-engine.js';
import { redact, registerConfiguredSecrets, registerSecrets } from '../engines/secrets.js';
import { openWritableWarehouse } from '../engines/warehouse-location.js';
import { runAudit } from '../pipelines/audit-queue.js';
import type { TableAudit } from '../pipelines/audit.js';
import { readDeadLetters } from '../pipelines/dead-letters.js';
import { PipelineLeases, type Lease } from '../pipelines/lease.js';
import type { EnrichOptions } from '../pipelines/processors/graphql-enrich.js';
import { withPipelineResources, type SourceFactory } from '../pipelines/resources.js';
import { PositionConflictError, runPipeline, type RunOutcome } from '../pipelines/runner.js';
import { PipelineStateStore, type AuditRecord, type PipelineState } from '../pipelines/state.js';
import { describePosition } from '../pipelines/sources/describe.js';
import { loadProject, type LoadedProject } from '../project/load-project.js';
import { historyLocation } from '../trackers/locations.js';
import { DEFAULT_QUEUE_PREFIX, openSyncQueue } from '../trackers/scheduler.js';
import { ChangeTrigger, currentChangeProject } from '../trackers/change-trigger.js';
import { settlesWithin } from '../trackers/settles.js';
import { loadValidProject } from './context.js';
import { redisUrl } from './service-commands.js';

/** A run stopped because the pipeline is paused: an operator must act. */
export const EXIT_PAUSED = 3;

/** What tests (and embedders) may replace. */
export interface PipelineCommandDeps {
  openSource?: SourceFactory;
  /** Stops `run` (instead of SIGINT/SIGTERM). */
  signal?: AbortSignal;
  env?: NodeJS.ProcessEnv;
  enrich?: EnrichOptions;
  logger?: Logger;
  /** Where results go (default stdout); text passes through `redact` first. */
  out?: (text: string) => void;
  /** Where notes and warnings go (default stderr). */
  err?: (text: string) => void;
}

export interface RedisFlags {
  redis?: string;
  queuePrefix?: string;
}

function writer(deps: PipelineCommandDeps, stream: 'out' | 'err'): (text: string) => void {
  const target =
    deps[stream] ?? ((text: string) => (stream === 'out' ? process.stdout : process.stderr).write(text));
  // Errors and rows may quote a connection string or a token a server echoed.
  return (text) => target(redact(text));
}

// ------------------------------------------------------------------ projects

function findPipeline(project: LoadedProject, name: string): PipelineModel {
  const pipeline = project.model.pipelines.get(name);
  if (pipeline) return pipeline;
  const names = [...project.model.pipelines.keys()];
  const suggestion = closest(name, names);
  const known = names.length > 0 ? `; pipelines: ${names.sort().join(', ')}` : '; see definitions/pipelines/';
  const invalid = project.diagnostics.some((d) => d.severity === 'error')
    ? ' (the definitions have errors: run strata validate)'
    : '';
  throw new UsageError(
    `unknown pipeline '${name}'${suggestion ? ` (did you mean ${suggestion}?)` : known}${invalid}`,
  );
}

/** For commands that change or run a pipeline: the definitions must be valid, the pipeline's too. */
function loadForRun(
  projectDir: string,
  name: string,
  env: NodeJS.ProcessEnv,
): { project: LoadedProject; pipeline: PipelineModel } {
  const project = loadValidProject(projectDir);
  registerProjectSecrets(project, env);
  const pipeline = findPipeline(project, name);
  const problems = checkPipeline(pipeline, project.model).filter((d) => d.severity === 'error');
  if (problems.length > 0) throw new StrataError(problems);
  return { project, pipeline };
}

/**
 * For commands that only read or flag the state: invalid definitions elsewhere must not keep an
 * operator from seeing or pausing a pipeline (a note says they are invalid). strata.yaml must
 * be valid: it says where the state lives.
 */
function loadForOps(projectDir: string, err: (text: string) => void, env: NodeJS.ProcessEnv): LoadedProject {
  const project = loadProject(projectDir);
  registerProjectSecrets(project, env);
  const configErrors = project.diagnostics.filter(
    (d) => d.severity === 'error' && /strata\.ya?ml$/.test(d.location?.file ?? ''),
  );
  if (configErrors.length > 0) throw new StrataError(configErrors);
  const errors = project.diagnostics.filter((d) => d.severity === 'error').length;
  if (errors > 0)
    err(`note: the definitions have ${errors} error(s) (run strata validate); showing what they define\n`);
  return project;
}

/** Whatever the pipeline (or anything else) quotes from its `env:` references is masked in output. */
function registerProjectSecrets(project: LoadedProject, env: NodeJS.ProcessEnv): void {
  registerConfiguredSecrets(
    {
      config: project.config,
      trackers: project.model.trackers.values(),
      pipelines: project.model.pipelines.values(),
    },
    env,
  );
}

async function withStore<T>(
  projectDir: string,
  config: ProjectConfig,
  body: (store: PipelineStateStore) => Promise<T>,
): Promise<T> {
  const store = await PipelineStateStore.open(historyLocation(projectDir, config));
  try {
    return await body(store);
  } finally {
    await store.close();
  }
}

// ----------------------------------------------------------------------- run

export type PipelineRunFlags = RedisFlags;

/**
 * Runs one pipeline in the foreground, under its Redis lease, until SIGINT/SIGTERM (it then
 * commits what it read and releases the lease), its source ends, it is paused, or it fails.
 */
export async function pipelineRunCommand(
  projectDir: string,
  name: string,
  flags: PipelineRunFlags,
  deps: PipelineCommandDeps = {},
): Promise<number> {
  const out = writer(deps, 'out');
  const err = writer(deps, 'err');
  const env = deps.env ?? process.env;
  const { project, pipeline } = loadForRun(projectDir, name, env);
  const url = redisUrl(flags.redis, project.config, env);
  registerSecrets([url]);
  const prefix = flags.queuePrefix ?? env.STRATA_QUEUE_PREFIX ?? DEFAULT_QUEUE_PREFIX;
  const owner = `${hostname()}:${process.pid}`;
  const redis = await connectRedis(url);
  // Commits queue the runs of the on_change trackers that read the tables, as under a worker.
  const queue = openSyncQueue({ redis: url, prefix });
  const changes = new ChangeTrigger({
    queue,
    project: () => currentChangeProject(projectDir),
    log: { info: () => undefined, warn: (_, message) => err(`warning: ${message}\n`) },
  });
  try {
    const lease = await takeLease(new PipelineLeases(redis, { prefix, owner }), name);
    const stop = deps.signal ? { signal: deps.signal, dispose: () => undefined } : stopOnSignals(err);
    try {
      return await withStore(projectDir, project.config, (store) =>
        runHeld({
          project,
          pipeline,
          lease,
          store,
          owner,
          env,
          signal: stop.signal,
          deps,
          out,
          err,
          changes,
        }),
      );
    } finally {
      stop.dispose();
      await settlesWithin(lease.release(), 3_000);
    }
  } finally {
    await settlesWithin(changes.close(), 3_000);
    if (!(await settlesWithin(queue.close(), 3_000))) await settlesWithin(queue.disconnect(), 1_000);
    redis.disconnect();
  }
}

/** A Redis connection that fails fast, with what to do about it. */
async function connectRedis(url: string): Promise<Redis> {
  const redis = new Redis(url, {
    lazyConnect: true,
    maxRetriesPerRequest: 1,
    commandTimeout: 5_000,
    connectTimeout: 3_000,
    retryStrategy: (attempt) => (attempt > 2 ? null : 200),
  });
  // The connection's own error says why (refused, unknown host); the rejection only that it closed.
  let cause: string | undefined;
  redis.on('error', (e: Error) => (cause ??= e.message));
  try {
    await redis.connect();
  } catch (e) {
    redis.disconnect();
    throw new Error(
      `cannot reach Redis at ${redactUrl(url)} (${cause ?? (e as Error).message}): a pipeline runs under a lease there, so that it never runs in two places; pass --redis, or set redis.url in strata.yaml or REDIS_URL`,
    );
  }
  return redis;
}

function redactUrl(url: string): string {
  try {
    const parsed = new URL(url);
    parsed.username = '';
    parsed.password = '';
    return parsed.toString();
  } catch {
    return '(invalid Redis URL)';
  }
}

async function takeLease(leases: PipelineLeases, name: string): Promise<Lease> {
  const lease = await leases.tryAcquire(name);
  if (lease) return lease;
  const holder = await leases.holder(name);
  throw new Error(
    `pipeline ${name} is already running on ${holder ? holder.owner : 'another worker'} (it holds the lease${holder ? `, fence ${holder.token}` : ''}); stop it there (or start that worker with --no-pipelines), or see strata pipeline status ${name}`,
  );
}

/** SIGINT/SIGTERM stop the run gracefully; a second signal quits at once (the lease then expires). */
function stopOnSignals(err: (text: string) => void): { signal: AbortSignal; dispose: () => void } {
  const controller = new AbortController();
  const onSignal = (signal: NodeJS.Signals) => {
    if (controller.signal.aborted) process.exit(130);
    err(`${signal}: committing what was read, then stopping (signal again to quit at once)\n`);
    controller.abort(new Error(`stopped by ${signal}`));
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  return {
    signal: controller.signal,
    dispose: () => {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
    },
  };
}

interface HeldRun {
  project: LoadedProject;
  pipeline: PipelineModel;
  lease: Lease;
  store: PipelineStateStore;
  owner: string;
  env: NodeJS.ProcessEnv;
  signal: AbortSignal;
  deps: PipelineCommandDeps;
  out: (text: string) => void;
  err: (text: string) => void;
  changes: ChangeTrigger;
}

/** Conflicts in a row before giving up: another runner keeps committing, which a lease should prevent. */
const MAX_CONFLICTS = 3;

async function runHeld(run: HeldRun): Promise<number> {
  const { pipeline, store, out, err } = run;
  const name = pipeline.name;
  out(
    `running pipeline ${name} (lease fence ${run.lease.token}); Ctrl-C stops it after committing what it read\n`,
  );
  let outcome: RunOutcome;
  try {
    outcome = (await pausedOutcome(store, name)) ?? (await runUntilSettled(run));
  } catch (e) {
    const message = redact((e as Error).message);
    await recordUnlessPaused(store, name, { status: 'failed', error: message, worker: run.owner });
    err(`error: pipeline ${name} failed: ${message}\n`);
    return 1;
  }
  if (outcome.kind === 'paused') {
    err(`pipeline ${name} is paused:\n${outcome.reason}\n(resume with: strata pipeline resume ${name})\n`);
    return EXIT_PAUSED;
  }
  if (run.lease.lost.aborted) {
    err(
      `error: pipeline ${name} lost its lease (${(run.lease.lost.reason as Error).message}); what it committed stays\n`,
    );
    return 1;
  }
  await recordUnlessPaused(store, name, { status: 'idle' });
  const state = await store.get(name);
  const where = state?.position ? `; committed through position ${describePosition(state.position)}` : '';
  out(
    outcome.kind === 'ended'
      ? `pipeline ${name}: the source has nothing more${where}\n`
      : `pipeline ${name} stopped${where}\n`,
  );
  return 0;
}

/** Runs until stopped, ended or paused; a runner that lost a race for its position starts again from the new one. */
async function runUntilSettled(run: HeldRun): Promise<RunOutcome> {
  const signal = AbortSignal.any([run.lease.lost, run.signal]);
  const logger = run.deps.logger ?? stderrLogger(run.err);
  const compiler = new Compiler(run.project.model);
  for (let conflicts = 0; ; conflicts++) {
    try {
      return await withPipelineResources(
        {
          projectDir: run.project.dir,
          config: run.project.config,
          pipeline: run.pipeline.definition,
          env: run.env,
          logger,
          ...(run.deps.openSource ? { openSource: run.deps.openSource } : {}),
        },
        ({ opened, source }) =>
          runPipeline({
            pipeline: run.pipeline,
            compiler,
            warehouse: opened.warehouse,
            duckdb: opened.duckdb,
            source,
            store: run.store,
            fence: run.lease.token,
            signal,
            worker: run.owner,
            logger,
            enrich: { env: run.env, ...run.deps.enrich },
            onTablesChanged: (tables) => run.changes.notify(tables),
          }),
      );
    } catch (e) {
      if (!(e instanceof PositionConflictError) || e.fencedBy !== undefined || conflicts >= MAX_CONFLICTS)
        throw e;
      logger.info('another runner committed meanwhile: starting again from its position', {
        pipeline: run.pipeline.name,
      });
    }
  }
}

function stderrLogger(err: (text: string) => void): Logger {
  const line = (level: string) => (message: string, fields?: Record<string, unknown>) =>
    err(
      `${level}${message}${fields && Object.keys(fields).length > 0 ? ` ${JSON.stringify(fields)}` : ''}\n`,
    );
  return { info: line(''), warn: line('warning: ') };
}

/** A paused pipeline is not started at all: opening its source could fail, and would change nothing. */
async function pausedOutcome(store: PipelineStateStore, name: string): Promise<RunOutcome | undefined> {
  const state = await store.get(name);
  return state?.status === 'paused' ? { kind: 'paused', reason: state.pausedReason ?? 'paused' } : undefined;
}

/** Records a status unless an operator (or a schema change) paused the pipeline meanwhile: a pause wins. */
async function recordUnlessPaused(
  store: PipelineStateStore,
  name: string,
  patch: Partial<PipelineState>,
): Promise<void> {
  if ((await store.get(name))?.status === 'paused') return;
  await store.update(name, patch);
}

// -------------------------------------------------------------------- status

export interface PipelineStatusFlags extends RedisFlags {
  json?: boolean;
}

/** One pipeline as `strata pipeline status` shows it. */
export interface PipelineStatusView {
  name: string;
  /** False for a pipeline the state store knows that the definitions no longer hold. */
  defined: boolean;
  status: PipelineState['status'] | 'never run';
  /** The worker that last ran it (`host:pid`). */
  worker?: string;
  /** The Redis lease's holder now: null when nobody holds it, undefined when Redis could not be asked. */
  lease?: { owner: string; fence: number } | null;
  position?: string;
  positionSeq?: string;
  lastCommitAt?: string;
  eventsTotal: number;
  lag: { seconds?: number; bytes?: number; events?: number };
  heartbeat: { lastAt?: string; latencyMs?: number };
  deadLetters: number;
  lastAudit?: AuditSummary[];
  pausedReason?: string;
  pausedAt?: string;
  error?: string;
  updatedAt?: string;
}

export interface AuditSummary {
  table: string;
  at: string;
  sourceKeys: number;
  targetKeys: number;
  missing: number;
  extra: number;
  confirmedMissing: number;
  confirmedExtra: number;
  lagging: boolean;
}

export async function pipelineStatusCommand(
  projectDir: string,
  name: string | undefined,
  flags: PipelineStatusFlags,
  deps: PipelineCommandDeps = {},
): Promise<number> {
  const out = writer(deps, 'out');
  const err = writer(deps, 'err');
  const project = loadForOps(projectDir, err, deps.env ?? process.env);
  if (name) findPipeline(project, name);
  const views = await withStore(projectDir, project.config, async (store) => {
    const states = new Map((await store.list()).map((s) => [s.name, s]));
    const names = name ? [name] : [...new Set([...project.model.pipelines.keys(), ...states.keys()])].sort();
    const all: PipelineStatusView[] = [];
    for (const n of names)
      all.push(statusView(n, project.model.pipelines.has(n), states.get(n), await lastAudit(store, n)));
    return all;
  });
  const holders = await leaseHolders(
    project.config,
    flags,
    deps.env ?? process.env,
    views.map((v) => v.name),
  );
  for (const view of views) if (holders) view.lease = holders.get(view.name) ?? null;
  if (!holders && views.length > 0) err('note: Redis did not answer: lease holders unknown\n');
  if (flags.json) {
    out(`${JSON.stringify(views, null, 2)}\n`);
    return 0;
  }
  if (views.length === 0) out('no pipelines defined (definitions/pipelines/*.yaml)\n');
  for (const view of views) out(formatStatus(view));
  return 0;
}

function statusView(
  name: string,
  defined: boolean,
  state: PipelineState | undefined,
  audit: AuditSummary[] | undefined,
): PipelineStatusView {
  return {
    name,
    defined,
    status: state?.status ?? 'never run',
    ...(state?.worker ? { worker: state.worker } : {}),
    ...(state?.position !== undefined ? { position: state.position, positionSeq: state.positionSeq } : {}),
    ...(state?.lastCommitAt ? { lastCommitAt: state.lastCommitAt } : {}),
    eventsTotal: state?.eventsTotal ?? 0,
    lag: {
      ...(state?.lagSeconds !== undefined ? { seconds: state.lagSeconds } : {}),
      ...(state?.lagBytes !== undefined ? { bytes: state.lagBytes } : {}),
      ...(state?.lagEvents !== undefined ? { events: state.lagEvents } : {}),
    },
    heartbeat: {
      ...(state?.lastHeartbeatAt ? { lastAt: state.lastHeartbeatAt } : {}),
      ...(state?.heartbeatLatencyMs !== undefined ? { latencyMs: state.heartbeatLatencyMs } : {}),
    },
    deadLetters: state?.deadLetters ?? 0,
    ...(audit ? { lastAudit: audit } : {}),
    ...(state?.pausedReason ? { pausedReason: state.pausedReason, pausedAt: state.pausedAt } : {}),
    ...(state?.error && state.status === 'failed' ? { error: state.error } : {}),
    ...(state?.updatedAt ? { updatedAt: state.updatedAt } : {}),
  };
}

/** The latest audit of each table (an audit records one row per table). */
async function lastAudit(store: PipelineStateStore, name: string): Promise<AuditSummary[] | undefined> {
  const latest = new Map<string, AuditRecord & { lagging?: boolean }>();
  for (const audit of await store.audits(name, { limit: 100 }))
    if (!latest.has(audit.table)) latest.set(audit.table, audit);
  if (latest.size === 0) return undefined;
  return [...latest.values()]
    .sort((a, b) => a.table.localeCompare(b.table))
    .map((a) => ({
      table: a.table,
      at: a.at,
      sourceKeys: a.sourceKeys,
      targetKeys: a.targetKeys,
      missing: a.missing.length,
      extra: a.extra.length,
      confirmedMissing: a.confirmedMissing.length,
      confirmedExtra: a.confirmedExtra.length,
      lagging: a.lagging ?? false,
    }));
}

/** Who holds each lease now, or undefined when Redis does not answer within a moment. */
async function leaseHolders(
  config: ProjectConfig,
  flags: RedisFlags,
  env: NodeJS.ProcessEnv,
  names: readonly string[],
): Promise<Map<string, { owner: string; fence: number }> | undefined> {
  if (names.length === 0) return new Map();
  const url = redisUrl(flags.redis, config, env);
  registerSecrets([url]);
  const redis = new Redis(url, {
    lazyConnect: true,
    maxRetriesPerRequest: 0,
    connectTimeout: 1_000,
    commandTimeout: 1_000,
    retryStrategy: () => null,
  });
  redis.on('error', () => undefined);
  try {
    await redis.connect();
    const leases = new PipelineLeases(redis, {
      prefix: flags.queuePrefix ?? env.STRATA_QUEUE_PREFIX ?? DEFAULT_QUEUE_PREFIX,
      owner: 'status',
    });
    const holders = new Map<string, { owner: string; fence: number }>();
    for (const name of names) {
      const holder = await leases.holder(name);
      if (holder) holders.set(name, { owner: holder.owner, fence: holder.token });
    }
    return holders;
  } catch {
    return undefined;
  } finally {
    redis.disconnect();
  }
}

function formatStatus(view: PipelineStatusView): string {
  const lines: string[] = [];
  const lease =
    view.lease === undefined
      ? ''
      : view.lease === null
        ? ', no lease (no worker runs it)'
        : `, lease held by ${view.lease.owner} (fence ${view.lease.fence})`;
  lines.push(
    `${view.name}: ${view.status}${view.worker ? ` (last run by ${view.worker})` : ''}${lease}${view.defined ? '' : ' [no longer defined]'}`,
  );
  if (view.position !== undefined)
    lines.push(
      `  position ${describePosition(view.position)} (seq ${view.positionSeq}), last commit ${view.lastCommitAt ?? 'never'}`,
    );
  lines.push(`  events ${view.eventsTotal}, dead letters ${view.deadLetters}`);
  const lag = [
    view.lag.seconds !== undefined ? `${view.lag.seconds.toFixed(1)} s` : undefined,
    view.lag.bytes !== undefined ? `${view.lag.bytes} bytes` : undefined,
    view.lag.events !== undefined ? `${view.lag.events} events` : undefined,
  ].filter(Boolean);
  if (lag.length > 0) lines.push(`  lag ${lag.join(', ')}`);
  if (view.heartbeat.latencyMs !== undefined)
    lines.push(`  heartbeat latency ${view.heartbeat.latencyMs} ms (last ${view.heartbeat.lastAt})`);
  for (const audit of view.lastAudit ?? [])
    lines.push(
      `  last audit of ${audit.table} at ${audit.at}: source ${audit.sourceKeys} keys, raw ${audit.targetKeys}; missing ${audit.missing} (${audit.confirmedMissing} confirmed), extra ${audit.extra} (${audit.confirmedExtra} confirmed)${audit.lagging ? ', lagging' : ''}`,
    );
  if (view.pausedReason) lines.push(`  paused at ${view.pausedAt ?? '?'}: ${indent(view.pausedReason)}`);
  if (view.error) lines.push(`  error: ${indent(view.error)}`);
  return `${lines.join('\n')}\n`;
}

const indent = (text: string): string => text.replaceAll('\n', '\n    ');

// -------------------------------------------------------------- pause/resume

export async function pipelinePauseCommand(
  projectDir: string,
  name: string,
  flags: { reason?: string },
  deps: PipelineCommandDeps = {},
): Promise<number> {
  const out = writer(deps, 'out');
  const project = loadForOps(projectDir, writer(deps, 'err'), deps.env ?? process.env);
  findPipeline(project, name);
  const reason = flags.reason?.trim() || 'paused by an operator (strata pipeline pause)';
  return withStore(projectDir, project.config, async (store) => {
    if ((await store.get(name))?.status === 'paused') {
      if (flags.reason) await store.update(name, { pausedReason: reason });
      out(`pipeline ${name} is already paused${flags.reason ? ' (reason updated)' : ''}\n`);
      return 0;
    }
    await store.update(name, { status: 'paused', pausedReason: reason, pausedAt: new Date().toISOString() });
    out(
      `pipeline ${name} paused: the worker running it commits what it read and stops within a few seconds, keeping its lease; resume with: strata pipeline resume ${name}\n`,
    );
    return 0;
  });
}

export async function pipelineResumeCommand(
  projectDir: string,
  name: string,
  deps: PipelineCommandDeps = {},
): Promise<number> {
  const out = writer(deps, 'out');
  const project = loadForOps(projectDir, writer(deps, 'err'), deps.env ?? process.env);
  findPipeline(project, name);
  return withStore(projectDir, project.config, async (store) => {
    const state = await store.get(name);
    if (state?.status !== 'paused') {
      out(`pipeline ${name} is not paused (status: ${state?.status ?? 'never run'}): nothing to do\n`);
      return 0;
    }
    await store.update(name, { status: 'idle', pausedReason: undefined, pausedAt: undefined });
    out(
      `pipeline ${name} resumed: the worker holding it starts it again at its next scan (a few seconds), from where it stopped (without workers: strata pipeline run ${name}); a schema change that still breaks what downstream reads pauses it again\n`,
    );
    return 0;
  });
}

// --------------------------------------------------------------------- audit

export interface PipelineAuditFlags {
  /** How long to wait for the pipeline to commit up to the source's position (a duration, default 60s). */
  wait?: string;
  json?: boolean;
}

/** How many keys of each kind an audit prints. */
const LISTED_KEYS = 20;

/** Audits a pipeline now, in this process: exit 0 when source and raw tables hold the same keys, 1 otherwise. */
export async function pipelineAuditCommand(
  projectDir: string,
  name: string,
  flags: PipelineAuditFlags,
  deps: PipelineCommandDeps = {},
): Promise<number> {
  const out = writer(deps, 'out');
  const err = writer(deps, 'err');
  if (flags.wait !== undefined && !DURATION_PATTERN.test(flags.wait))
    throw new UsageError(`--wait expects a duration such as 30s or 2m, got '${flags.wait}'`);
  const env = deps.env ?? process.env;
  const { project, pipeline } = loadForRun(projectDir, name, env);
  const outcome = await withStore(projectDir, project.config, (store) =>
    runAudit({
      pipeline: pipeline.definition,
      projectDir,
      config: project.config,
      env,
      store,
      logger: deps.logger ?? stderrLogger(err),
      catchUpMs: durationMs(flags.wait ?? '60s'),
      ...(deps.openSource ? { openSource: deps.openSource } : {}),
    }),
  );
  if (outcome.kind === 'not_auditable') throw new Error(outcome.reason);
  const mismatched = outcome.tables.some((t) => t.missing.length + t.extra.length > 0);
  if (flags.json) out(`${JSON.stringify(outcome.tables, null, 2)}\n`);
  else for (const table of outcome.tables) out(formatAudit(table));
  if (mismatched)
    err(
      'mismatches found. Confirmed ones were also found by the previous audit; the others may be changes in flight: audit again to confirm them.\n',
    );
  return mismatched ? 1 : 0;
}

function formatAudit(audit: TableAudit): string {
  const lines = [
    `${audit.table}: source ${audit.sourceKeys} keys, raw table ${audit.targetKeys} keys, compared at position ${audit.position ?? '(nothing committed)'}`,
  ];
  if (audit.lagging)
    lines.push(
      '  lagging: the pipeline had not committed up to the source position in time; compared as of what it had committed',
    );
  lines.push(keyLine('missing from the raw table', audit.missing, audit.confirmedMissing));
  lines.push(keyLine('extra in the raw table', audit.extra, audit.confirmedExtra));
  return `${lines.join('\n')}\n`;
}

function keyLine(what: string, keys: readonly string[], confirmed: readonly string[]): string {
  if (keys.length === 0) return `  ${what}: none`;
  const shown = keys.slice(0, LISTED_KEYS).join(' ');
  const more = keys.length > LISTED_KEYS ? ` and ${keys.length - LISTED_KEYS} more` : '';
  return `  ${what}: ${keys.length} (${confirmed.length} confirmed): ${shown}${more}`;
}

// -------------------------------------------------------------- dead letters

export interface PipelineDeadLettersFlags {
  limit?: string;
  json?: boolean;
}

export async function pipelineDeadLettersCommand(
  projectDir: string,
  name: string,
  flags: PipelineDeadLettersFlags,
  deps: PipelineCommandDeps = {},
): Promise<number> {
  const out = writer(deps, 'out');
  const limit = flags.limit === undefined ? 20 : Number(flags.limit);
  if (!Number.isInteger(limit) || limit < 1)
    throw new UsageError(`--limit expects a positive integer, got '${flags.limit}'`);
  const project = loadForOps(projectDir, writer(deps, 'err'), deps.env ?? process.env);
  const pipeline = findPipeline(project, name);
  const opened = await openWritableWarehouse(projectDir, project.config);
  let letters;
  try {
    letters = await readDeadLetters(opened.warehouse, opened.duckdb, pipeline.definition, limit);
  } finally {
    await opened.close();
  }
  if (flags.json) {
    out(`${JSON.stringify(letters?.rows ?? [], null, 2)}\n`);
    return 0;
  }
  if (!letters || letters.total === 0) {
    out(`no dead letters for pipeline ${name}${letters ? '' : ' (it has not run yet)'}\n`);
    return 0;
  }
  out(
    `${letters.total} dead letter(s) in ${letters.table}, newest first${letters.total > letters.rows.length ? ` (the ${letters.rows.length} newest)` : ''}:\n`,
  );
  for (const row of letters.rows)
    out(
      `${row.failedAt}  ${row.upstreamTable} ${row.op} at seq ${row.seq}: ${row.processor} gave up after ${row.attempts} attempt(s): ${row.error}\n    row ${row.row}\n`,
    );
  return 0;
}
