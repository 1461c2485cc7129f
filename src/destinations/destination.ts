/**
 * What a tracker writes to. Each destination type (google_sheets, airtable, table, file)
 * implements `plan` (read-only: what would change, and which API calls that takes) and
 * `write` (make the destination match). The sync orchestrator runs them; they never run
 * queries themselves.
 */
import type { DestinationDefinition, FieldType } from '../core/definitions/schema.js';
import type { Cell } from '../core/values/cell.js';
import type { RunLedger } from './ledger.js';
import type { RateLimiter } from './limiter.js';
import { HttpError, type RetryObserver, type RetryOptions } from './http.js';

export interface SyncColumn {
  /** Output column name: the column of a BI table or file, the `key` tracker authors write. */
  name: string;
  /** Header: the Sheets header cell, the Airtable field name. */
  label: string;
  type: FieldType;
  /** Spreadsheet number-format code, for typed cells. */
  format?: string;
}

/** The query result to sync: typed cells in the Cell convention (see core/values/cell.ts). */
export interface SyncTable {
  columns: SyncColumn[];
  rows: Cell[][];
}

export interface ApiCall {
  method: string;
  /** The endpoint without host or credentials, e.g. `spreadsheets.batchUpdate` or `PATCH /v0/appX/Movies`. */
  endpoint: string;
  description?: string;
}

/** What a write would do (dry-run) or did. */
export interface WritePlan {
  destination: string;
  creates: number;
  updates: number;
  deletes: number;
  unchanged: number;
  /** The write calls it would make (read calls made to plan are counted in `reads`). */
  apiCalls: ApiCall[];
  reads: number;
  /** A few human-readable lines: samples of rows or cells that change. */
  details: string[];
}

export interface WriteResult {
  destination: string;
  created: number;
  updated: number;
  deleted: number;
  unchanged: number;
  /** Every API call made, reads included. */
  apiCalls: number;
  /** Request bytes sent. */
  bytes: number;
}

export interface Logger {
  info(message: string, fields?: Record<string, unknown>): void;
  warn(message: string, fields?: Record<string, unknown>): void;
}

export interface DestinationContext {
  /** Shared by all workers (Redis) or local (one process): acquire before each API request. */
  limiter: RateLimiter;
  retry: RetryOptions;
  /** Identifies this run; a retried job keeps it, so writes can be made idempotent with it. */
  runId: string;
  /**
   * Where a destination that cannot mark its writes with the run notes them (Airtable keyless
   * append): shared by every worker (Redis); without one, this process's own (ledger.ts).
   */
  ledger?: RunLedger;
  tracker: string;
  env: NodeJS.ProcessEnv;
  log: Logger;
  signal?: AbortSignal;
  /** Told of every API request, 429 and retry (metrics: src/metrics); none when nobody counts. */
  observer?: DestinationObserver;
}

export type DestinationKind = DestinationDefinition['type'];

/** Why a request was tried again. */
export type RetryReason = 'rate_limited' | 'server_error' | 'network' | 'unknown_outcome';

/** What destinations report as their requests happen, by destination kind (for metrics). */
export interface DestinationObserver {
  /** One request sent (reads, and each attempt of a retried request). */
  apiCall(kind: DestinationKind): void;
  /** A request answered 429 Too Many Requests. */
  rateLimited(kind: DestinationKind): void;
  /** A failed request (or write whose outcome is unknown) is tried again after backoff. */
  retried(kind: DestinationKind, reason: RetryReason): void;
}

export function retryReason(error: unknown): RetryReason {
  if (error instanceof HttpError) return error.status === 429 ? 'rate_limited' : 'server_error';
  return 'network';
}

/**
 * The context's retry options for a destination of `kind`, with withRetry's failures (every
 * 429, retried or not, and every retry) reported to the context's observer, when there is one.
 */
export function observedRetry(ctx: DestinationContext, kind: DestinationKind): RetryOptions {
  const observer = ctx.observer;
  if (!observer) return ctx.retry;
  const failed: RetryObserver['failed'] = (info) => {
    if (info.error instanceof HttpError && info.error.status === 429) observer.rateLimited(kind);
    if (info.retrying) observer.retried(kind, retryReason(info.error));
    ctx.retry.observer?.failed(info);
  };
  return { ...ctx.retry, observer: { failed } };
}

export interface Destination {
  /** e.g. `google_sheets 1AbC…/Movies` (never a credential). */
  describe(): string;
  plan(table: SyncTable, ctx: DestinationContext): Promise<WritePlan>;
  write(table: SyncTable, ctx: DestinationContext): Promise<WriteResult>;
}

/** A destination refused the result before writing anything (too large, bad key, ...). */
export class DestinationError extends Error {
  constructor(
    readonly destination: string,
    /** Why, without the destination's name (run outcomes already name it). */
    readonly reason: string,
  ) {
    super(`${destination}: ${reason}`);
    this.name = 'DestinationError';
  }
}

/** What a failed write had already spent: a failed run still records its API calls. */
export interface Usage {
  apiCalls: number;
  bytes: number;
}

const USAGE = Symbol('strata.destination.usage');

/**
 * Notes on `error` the calls made before it was thrown, and returns it to be rethrown. The
 * error keeps its own type (callers test for HttpError, DestinationError, AbortError).
 */
export function withUsage(error: unknown, usage: Usage): unknown {
  if (error instanceof Error) Object.defineProperty(error, USAGE, { value: usage, configurable: true });
  return error;
}

/** The usage `withUsage` noted on an error (none: the write failed before any call). */
export function usageOf(error: unknown): Usage {
  const noted = error instanceof Error ? (error as Error & { [USAGE]?: Usage })[USAGE] : undefined;
  return noted ?? { apiCalls: 0, bytes: 0 };
}

/** Why a destination failed, in one line, without repeating its name. */
export function failureReason(error: unknown): string {
  if (error instanceof DestinationError) return error.reason;
  return error instanceof Error ? error.message : String(error);
}

/** The key columns' values of a row, as one comparable string. */
export function rowKey(table: SyncTable, row: readonly Cell[], key: readonly string[]): string {
  return JSON.stringify(key.map((k) => row[table.columns.findIndex((c) => c.name === k)] ?? null));
}
