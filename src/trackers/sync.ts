/**
 * One tracker run (spec §7): compile the tracker's input with its params and time zone, run
 * it once, and hand the typed result to every destination. A destination that fails, or
 * lacks credentials, does not stop the others; every run is recorded.
 */
import { createHash, randomUUID } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import type { Compiler, CompiledQuery } from '../core/compile.js';
import { trackerCompileOptions } from '../core/trackers.js';
import type { EngineName } from '../core/definitions/schema.js';
import type { TrackerModel } from '../core/model/types.js';
import { collect, type Engine, type VersionSource } from '../engines/engine.js';
import { registerConfiguredSecrets, secrets } from '../engines/secrets.js';
import { createDestination, missingCredentials } from '../destinations/create.js';
import {
  DestinationError,
  failureReason,
  usageOf,
  type Destination,
  type DestinationContext,
  type DestinationObserver,
  type Logger,
  type SyncTable,
  type Usage,
  type WritePlan,
} from '../destinations/destination.js';
import { DEFAULT_RETRY, type RetryOptions } from '../destinations/http.js';
import type { RunLedger } from '../destinations/ledger.js';
import { InMemoryRateLimiter, type RateLimiter } from '../destinations/limiter.js';
import type { DestinationOutcome, RunHistory, RunTrigger, TrackerRun } from './history.js';

export interface SyncDependencies {
  compiler: Compiler;
  /** Opens the engine the input runs on (closed after the run). */
  openEngine: () => Promise<Engine>;
  projectDir: string;
  history?: RunHistory;
  limiter?: RateLimiter;
  /** What runs wrote where the destination cannot tell (workers share one in Redis). */
  ledger?: RunLedger;
  retry?: RetryOptions;
  env?: NodeJS.ProcessEnv;
  log?: Logger;
  now?: () => Date;
  /** Told how long compiling and querying took, and of the destinations' requests (metrics). */
  observer?: SyncObserver;
  /** Told what the run is doing now (the CLI's progress line). */
  onStep?: (step: SyncStep) => void;
}

/** Where a run is: querying the input, then writing each destination in turn. */
export type SyncStep =
  { stage: 'query' } | { stage: 'write'; destination: string; index: number; total: number };

/** What a run reports as it goes (src/metrics implements it). */
export interface SyncObserver extends DestinationObserver {
  compiled(seconds: number): void;
  queried(seconds: number, engine: EngineName): void;
}

export interface SyncRequest {
  trigger: RunTrigger;
  /** A retried job passes its first attempt's id: destinations use it to stay idempotent. */
  runId?: string;
  signal?: AbortSignal;
}

const silent: Logger = { info: () => undefined, warn: () => undefined };

/** Compiles, runs, and returns the result as destinations take it. */
function compileFor(tracker: TrackerModel, deps: SyncDependencies, engine: Engine): CompiledQuery {
  const started = performance.now();
  const compiled = deps.compiler.compile(
    tracker.definition.input,
    trackerCompileOptions(tracker, engine.dialect),
  );
  deps.observer?.compiled((performance.now() - started) / 1000);
  return compiled;
}

async function resultOf(
  compiled: CompiledQuery,
  engine: Engine,
  observer?: SyncObserver,
): Promise<SyncTable> {
  const started = performance.now();
  const rows = await collect(engine.stream(compiled.sql));
  observer?.queried((performance.now() - started) / 1000, engine.name);
  return { columns: compiled.columns, rows };
}

function context(
  tracker: TrackerModel,
  deps: SyncDependencies,
  runId: string,
  signal?: AbortSignal,
): DestinationContext {
  return {
    limiter: deps.limiter ?? new InMemoryRateLimiter(),
    retry: deps.retry ?? DEFAULT_RETRY,
    runId,
    ...(deps.ledger ? { ledger: deps.ledger } : {}),
    tracker: tracker.name,
    env: deps.env ?? process.env,
    log: deps.log ?? silent,
    ...(signal ? { signal } : {}),
    ...(deps.observer ? { observer: deps.observer } : {}),
  };
}

/** A destination that cannot be used: its credentials are missing, or it could not be built. A failure either way. */
interface Unusable {
  destination: string;
  status: 'skipped' | 'failed';
  reason: string;
}

type DestinationEntry = { destination: Destination } | Unusable;

/**
 * The destinations of a tracker, each on its own: one that lacks credentials or cannot be
 * built (an extract whose format the code cannot tell) is a failure with its reason (never a
 * silent skip: its data would go stale unnoticed), and the others still run.
 */
async function destinationsOf(tracker: TrackerModel, deps: SyncDependencies): Promise<DestinationEntry[]> {
  const env = deps.env ?? process.env;
  return Promise.all(
    tracker.definition.destinations.map(async (definition): Promise<DestinationEntry> => {
      const missing = missingCredentials(definition, env);
      if (missing.length > 0)
        return {
          destination: definition.type,
          status: 'failed',
          reason: `missing credentials: needs ${missing.join(', ')} in the environment`,
        };
      try {
        return { destination: await createDestination(definition, { env, projectDir: deps.projectDir }) };
      } catch (e) {
        const name = e instanceof DestinationError ? e.destination : definition.type;
        return { destination: name, status: 'failed', reason: failureReason(e) };
      }
    }),
  );
}

/** What a dry run shows for one destination: its plan, or why it has none. */
export type DestinationPlan = WritePlan | Unusable;

export async function planTracker(
  tracker: TrackerModel,
  deps: SyncDependencies,
): Promise<{ rows: number; plans: DestinationPlan[] }> {
  const engine = await deps.openEngine();
  try {
    const table = await resultOf(compileFor(tracker, deps, engine), engine);
    const ctx = context(tracker, deps, `dry-run-${randomUUID()}`);
    const plans: DestinationPlan[] = [];
    for (const entry of await destinationsOf(tracker, deps)) {
      if (!('status' in entry)) plans.push(await planOne(entry.destination, table, ctx));
      else plans.push(entry);
    }
    return { rows: table.rows.length, plans };
  } finally {
    await engine.close();
  }
}

async function planOne(
  destination: Destination,
  table: SyncTable,
  ctx: DestinationContext,
): Promise<DestinationPlan> {
  try {
    return await destination.plan(table, ctx);
  } catch (e) {
    return { destination: destination.describe(), status: 'failed', reason: failureReason(e) };
  }
}

export async function syncTracker(
  tracker: TrackerModel,
  deps: SyncDependencies,
  request: SyncRequest,
): Promise<TrackerRun> {
  const now = deps.now ?? (() => new Date());
  registerConfiguredSecrets({ trackers: [tracker] }, deps.env ?? process.env);
  const run: TrackerRun = {
    id: request.runId ?? randomUUID(),
    tracker: tracker.name,
    trigger: request.trigger,
    status: 'failed',
    startedAt: now().toISOString(),
    endedAt: '',
    rows: 0,
    destinations: [],
    apiCalls: 0,
    bytes: 0,
  };
  try {
    const engine = await deps.openEngine();
    try {
      const compiled = compileFor(tracker, deps, engine);
      const change = await changeCheck(tracker, compiled, engine, now());
      Object.assign(run, change.recorded);
      if (await unchangedSinceLastSuccess(tracker, deps, change.recorded.fingerprint, request.trigger)) {
        run.status = 'skipped';
        run.error =
          'nothing that determines the result changed since the last successful run (the SQL, its parameters, the destinations, the tables it reads)';
        // The data is the same as the last success's: so is its age.
        const last = await deps.history?.lastSuccess(tracker.name);
        if (last?.dataChangedAt) run.dataChangedAt = last.dataChangedAt;
        return await finish(run, deps, now);
      }
      deps.onStep?.({ stage: 'query' });
      const table = await resultOf(compiled, engine, deps.observer);
      run.rows = table.rows.length;
      const ctx = context(tracker, deps, run.id, request.signal);
      const entries = await destinationsOf(tracker, deps);
      for (const [index, entry] of entries.entries()) {
        const destination = 'status' in entry ? entry.destination : entry.destination.describe();
        deps.onStep?.({ stage: 'write', destination, index, total: entries.length });
        run.destinations.push(
          'status' in entry
            ? outcomeWithoutWrites(entry.destination, entry.status, entry.reason)
            : await writeOne(entry.destination, table, ctx),
        );
      }
    } finally {
      await engine.close();
    }
    run.apiCalls = run.destinations.reduce((n, d) => n + d.apiCalls, 0);
    run.bytes = run.destinations.reduce((n, d) => n + d.bytes, 0);
    const failed = run.destinations.filter((d) => d.status === 'failed').length;
    const skipped = run.destinations.filter((d) => d.status === 'skipped').length;
    run.status =
      skipped === run.destinations.length
        ? 'skipped'
        : failed === 0
          ? 'succeeded'
          : failed + skipped === run.destinations.length
            ? 'failed'
            : 'partial';
    if (failed > 0)
      run.error = run.destinations
        .filter((d) => d.error)
        .map((d) => `${d.destination}: ${d.error}`)
        .join('; ');
  } catch (e) {
    run.status = 'failed';
    run.error = e instanceof Error ? e.message : String(e);
  }
  return finish(run, deps, now);
}

/** Ends the run, redacted (its errors may quote a server that echoed a credential), and records it. */
async function finish(run: TrackerRun, deps: SyncDependencies, now: () => Date): Promise<TrackerRun> {
  const ended = secrets.redactDeep({ ...run, endedAt: now().toISOString() });
  await deps.history?.record(ended);
  return ended;
}

/** What a run records of its inputs' versions: the fingerprint, how it was told, and the data's age. */
interface ChangeCheck {
  recorded: Pick<TrackerRun, 'fingerprint' | 'changeCheck' | 'dataChangedAt'>;
}

/**
 * One value for everything that determines what a run writes: the compiled SQL (the input,
 * its sources, the tracker's params), the destinations' configuration, the version of every
 * table the SQL reads, and the date when a filter is relative to today. No fingerprint (the
 * run always happens, and `changeCheck` says why) when a filter is relative to now or the
 * engine cannot tell the tables' versions.
 */
async function changeCheck(
  tracker: TrackerModel,
  compiled: CompiledQuery,
  engine: Engine,
  now: Date,
): Promise<ChangeCheck> {
  const versions = engine.tableVersions ? await engine.tableVersions(compiled.tables) : undefined;
  const dataAge = versions?.changedAt ? { dataChangedAt: versions.changedAt } : {};
  if (tracker.definition.refresh !== 'on_change') return { recorded: dataAge };
  if (compiled.relativeTo === 'now')
    return { recorded: { ...dataAge, changeCheck: 'always runs: a filter is relative to the current time' } };
  if (!versions)
    return {
      recorded: {
        ...dataAge,
        changeCheck: `always runs: the ${engine.name} engine cannot tell the versions of ${compiled.tables.join(', ') || 'what the query reads'}`,
      },
    };
  const day =
    compiled.relativeTo === 'today'
      ? new Intl.DateTimeFormat('en-CA', { timeZone: compiled.timezone }).format(now)
      : undefined;
  const determinants = {
    sql: compiled.sql,
    destinations: tracker.definition.destinations,
    tables: versions.fingerprint,
    day,
  };
  return {
    recorded: {
      ...dataAge,
      fingerprint: createHash('sha256').update(JSON.stringify(determinants)).digest('hex'),
      changeCheck: `compared: the SQL, its parameters, the destinations and the tables' versions (${VERSION_SOURCES[versions.source]})${day ? `, and the date (${day})` : ''}`,
    },
  };
}

const VERSION_SOURCES: Record<VersionSource, string> = {
  iceberg_metadata: 'Iceberg metadata files',
  iceberg_snapshots: 'Iceberg $snapshots',
  table_statistics: "PostgreSQL's row-change counters",
};

async function unchangedSinceLastSuccess(
  tracker: TrackerModel,
  deps: SyncDependencies,
  fingerprint: string | undefined,
  trigger: RunTrigger,
): Promise<boolean> {
  if (tracker.definition.refresh !== 'on_change' || trigger === 'manual' || !fingerprint || !deps.history)
    return false;
  const last = await deps.history.lastSuccess(tracker.name);
  return last?.fingerprint === fingerprint;
}

/** A destination that wrote nothing: skipped (why) or failed (the error, and the calls it made). */
function outcomeWithoutWrites(
  destination: string,
  status: 'skipped' | 'failed',
  error: string,
  usage: Usage = { apiCalls: 0, bytes: 0 },
): DestinationOutcome {
  return {
    destination,
    status,
    created: 0,
    updated: 0,
    deleted: 0,
    unchanged: 0,
    ...usage,
    error,
  };
}

async function writeOne(
  destination: Destination,
  table: SyncTable,
  ctx: DestinationContext,
): Promise<DestinationOutcome> {
  try {
    return { ...(await destination.write(table, ctx)), status: 'succeeded' };
  } catch (e) {
    const reason = failureReason(e);
    ctx.log.warn('destination failed', { destination: destination.describe(), error: reason });
    return outcomeWithoutWrites(destination.describe(), 'failed', reason, usageOf(e));
  }
}
