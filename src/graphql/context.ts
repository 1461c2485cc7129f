/**
 * What resolvers need from the service, per request: who is asking, the definitions being
 * served, and how to run a compiled query (the service owns engines, caching and limits).
 * The schema builders in this folder know nothing of HTTP or NestJS.
 */
import type { Caller } from '../core/access/policy.js';
import type { CompiledQuery } from '../core/compile.js';
import type { SemanticModel } from '../core/model/types.js';
import type { Row } from '../core/values/cell.js';
import type { EngineName } from '../engines/engine.js';
import type { TrackerFreshness } from '../trackers/freshness.js';
import type { TrackerRun } from '../trackers/history.js';
import type { ApiCompiler } from './compile-cache.js';

export interface QueryOutcome {
  rows: Row[];
  durationMs: number;
  /** Served from the result cache (same SQL, same table versions). */
  cached: boolean;
}

export interface ApiLimits {
  /** The most rows one level of a query may return; more is an error, never a silent cut. */
  maxRows: number;
}

export interface ApiContext {
  caller: Caller;
  model: SemanticModel;
  compiler: ApiCompiler;
  /** The engine queries run on: its dialect is the one to compile for. */
  engine: EngineName;
  limits: ApiLimits;
  /** Aborted when the request's time is up: running queries are cancelled. */
  signal: AbortSignal;
  run(compiled: CompiledQuery): Promise<QueryOutcome>;
  /** The most recent runs of a tracker, newest first. */
  trackerRuns(tracker: string, limit: number): Promise<TrackerRun[]>;
  /** A tracker's freshness now, from its run history. */
  trackerFreshness(tracker: string): Promise<TrackerFreshness>;
  /** Runs a tracker now (trigger manual), or plans it (dry run: no write API called). */
  syncTracker(name: string, dryRun: boolean): Promise<TrackerRun>;
}
