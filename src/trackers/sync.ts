/**
 * One tracker run (spec §7): compile the tracker's input with its params and time zone, run
 * it once, and hand the typed result to every destination. A destination that fails, or
 * lacks credentials, does not stop the others; every run is recorded.
 */
import { randomUUID } from 'node:crypto';
import type { Compiler, CompiledQuery } from '../core/compile.js';
import { trackerCompileOptions } from '../core/trackers.js';
import type { TrackerModel } from '../core/model/types.js';
import { collect, type Engine } from '../engines/engine.js';
import { createDestination, missingCredentials } from '../destinations/create.js';
import type {
  Destination,
  DestinationContext,
  Logger,
  SyncTable,
  WritePlan,
} from '../destinations/destination.js';
import { DEFAULT_RETRY, type RetryOptions } from '../destinations/http.js';
import { InMemoryRateLimiter, type RateLimiter } from '../destinations/limiter.js';
import type { DestinationOutcome, RunHistory, RunTrigger, TrackerRun } from './history.js';

export interface SyncDependencies {
  compiler: Compiler;
  /** Opens the engine the input runs on (closed after the run). */
  openEngine: () => Promise<Engine>;
  projectDir: string;
  history?: RunHistory;
  limiter?: RateLimiter;
  retry?: RetryOptions;
  env?: NodeJS.ProcessEnv;
  log?: Logger;
  now?: () => Date;
}

export interface SyncRequest {
  trigger: RunTrigger;
  /** A retried job passes its first attempt's id: destinations use it to stay idempotent. */
  runId?: string;
  signal?: AbortSignal;
}

const silent: Logger = { info: () => undefined, warn: () => undefined };

/** Compiles, runs, and returns the result as destinations take it. */
async function resultOf(
  tracker: TrackerModel,
  deps: SyncDependencies,
  engine: Engine,
): Promise<{ compiled: CompiledQuery; table: SyncTable }> {
  const compiled = deps.compiler.compile(
    tracker.definition.input,
    trackerCompileOptions(tracker, engine.dialect),
  );
  const rows = await collect(engine.stream(compiled.sql));
  return { compiled, table: { columns: compiled.columns, rows } };
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
    tracker: tracker.name,
    env: deps.env ?? process.env,
    log: deps.log ?? silent,
    ...(signal ? { signal } : {}),
  };
}

/** The destinations of a tracker, or why one cannot be used (missing credentials). */
async function destinationsOf(tracker: TrackerModel, deps: SyncDependencies) {
  const env = deps.env ?? process.env;
  return Promise.all(
    tracker.definition.destinations.map(async (definition) => {
      const missing = missingCredentials(definition, env);
      if (missing.length > 0) return { definition, skipped: `needs ${missing.join(', ')}` };
      return {
        definition,
        destination: await createDestination(definition, { env, projectDir: deps.projectDir }),
      };
    }),
  );
}

export async function planTracker(
  tracker: TrackerModel,
  deps: SyncDependencies,
): Promise<{ rows: number; plans: (WritePlan | { destination: string; skipped: string })[] }> {
  const engine = await deps.openEngine();
  try {
    const { table } = await resultOf(tracker, deps, engine);
    const ctx = context(tracker, deps, `dry-run-${randomUUID()}`);
    const plans = [];
    for (const entry of await destinationsOf(tracker, deps)) {
      if (!entry.destination) plans.push({ destination: entry.definition.type, skipped: entry.skipped! });
      else plans.push(await entry.destination.plan(table, ctx));
    }
    return { rows: table.rows.length, plans };
  } finally {
    await engine.close();
  }
}

export async function syncTracker(
  tracker: TrackerModel,
  deps: SyncDependencies,
  request: SyncRequest,
): Promise<TrackerRun> {
  const now = deps.now ?? (() => new Date());
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
      const tables = deps.compiler.compile(
        tracker.definition.input,
        trackerCompileOptions(tracker, engine.dialect),
      ).tables;
      const fingerprint = engine.fingerprint ? await engine.fingerprint(tables) : undefined;
      if (fingerprint) run.fingerprint = fingerprint;
      if (await unchangedSinceLastSuccess(tracker, deps, fingerprint, request.trigger)) {
        run.status = 'skipped';
        run.error = 'no table the input reads changed since the last successful run';
        return await finish(run, deps, now);
      }
      const { table } = await resultOf(tracker, deps, engine);
      run.rows = table.rows.length;
      const ctx = context(tracker, deps, run.id, request.signal);
      for (const entry of await destinationsOf(tracker, deps)) {
        run.destinations.push(
          entry.destination
            ? await writeOne(entry.destination, table, ctx)
            : outcomeWithoutWrites(entry.definition.type, 'skipped', entry.skipped!),
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

async function finish(run: TrackerRun, deps: SyncDependencies, now: () => Date): Promise<TrackerRun> {
  run.endedAt = now().toISOString();
  await deps.history?.record(run);
  return run;
}

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

/** A destination that wrote nothing: skipped (why) or failed (the error). */
function outcomeWithoutWrites(
  destination: string,
  status: 'skipped' | 'failed',
  error: string,
): DestinationOutcome {
  return {
    destination,
    status,
    created: 0,
    updated: 0,
    deleted: 0,
    unchanged: 0,
    apiCalls: 0,
    bytes: 0,
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
    const message = (e as Error).message;
    ctx.log.warn('destination failed', { destination: destination.describe(), error: message });
    return outcomeWithoutWrites(destination.describe(), 'failed', message);
  }
}
