/**
 * Trino through `trino-client`: the client protocol's pages (POST /v1/statement, then GET of
 * each `nextUri`) become batches of Cells, converted by the column types Trino reports.
 */
import { BasicAuth, Trino, type Iterator as PageIterator, type QueryResult } from 'trino-client';
import type { Cell, Row } from '../core/values/cell.js';
import { dialectFor } from '../core/sql/dialects/index.js';
import { QueryError, type Engine, type ResultColumn, type TableVersions } from './engine.js';
import { resolveSecret } from './secrets.js';

export interface TrinoOptions {
  /** The coordinator, e.g. `https://trino.example.com:8443`. */
  server: string;
  catalog?: string;
  schema?: string;
  /** Sent as X-Trino-User (and the basic-auth user when a password is given). Required. */
  user: string;
  /** Implies HTTP basic authentication. */
  password?: string;
  /** X-Trino-Source; `strata` by default. */
  source?: string;
  /** Session properties sent with every query (e.g. query_max_execution_time). */
  session?: Record<string, string>;
  extraHeaders?: Record<string, string>;
}

/** The `trino:` block of strata.yaml; any value may be an `env:NAME` reference. */
export interface TrinoConfig {
  server?: string;
  catalog?: string;
  schema?: string;
  user?: string;
  password?: string;
}

export interface TrinoStreamOptions {
  /** Aborting cancels the query on the server and rejects the pending read. */
  signal?: AbortSignal;
}

const DEFAULT_SOURCE = 'strata';
const CONNECT_TIMEOUT_MS = 10_000;

/**
 * Connection options from strata.yaml's `trino:` block, overridden by STRATA_TRINO_SERVER,
 * STRATA_TRINO_CATALOG, STRATA_TRINO_SCHEMA, STRATA_TRINO_USER and STRATA_TRINO_PASSWORD.
 * The user must be given: trino-client would otherwise fall back to $USER.
 */
export function trinoOptionsFromEnv(
  config: TrinoConfig = {},
  env: NodeJS.ProcessEnv = process.env,
): TrinoOptions {
  const pick = (key: keyof TrinoConfig, variable: string): string | undefined => {
    const fromEnv = env[variable];
    if (fromEnv !== undefined && fromEnv !== '') return fromEnv;
    const configured = config[key];
    return configured === undefined || configured === '' ? undefined : resolveSecret(configured, env);
  };
  const server = pick('server', 'STRATA_TRINO_SERVER');
  if (!server)
    throw new QueryError('trino', 'no server: set trino.server in strata.yaml or STRATA_TRINO_SERVER');
  const user = pick('user', 'STRATA_TRINO_USER');
  if (!user) throw new QueryError('trino', 'no user: set trino.user in strata.yaml or STRATA_TRINO_USER');
  const options: TrinoOptions = { server, user };
  const catalog = pick('catalog', 'STRATA_TRINO_CATALOG');
  const schema = pick('schema', 'STRATA_TRINO_SCHEMA');
  const password = pick('password', 'STRATA_TRINO_PASSWORD');
  if (catalog) options.catalog = catalog;
  if (schema) options.schema = schema;
  if (password) options.password = password;
  return options;
}

export class TrinoEngine implements Engine {
  readonly name = 'trino';
  readonly dialect = 'trino';

  private readonly running = new Set<RunningQuery>();
  private closed = false;

  private constructor(private readonly session: Session) {}

  /** Checks that the coordinator answers (`GET /v1/info`), then returns an engine on it. */
  static async connect(options: TrinoOptions): Promise<TrinoEngine> {
    if (!options.user) throw new QueryError('trino', 'a user is required (trino.user or STRATA_TRINO_USER)');
    let base: URL;
    try {
      base = new URL(options.server);
    } catch {
      throw new QueryError('trino', `invalid server URL ${redact(options.server)}`);
    }
    const server = base.toString().replace(/\/+$/, '');

    // X-Trino-User goes in explicitly, last: trino-client's default is $USER.
    const extraHeaders: Record<string, string> = { ...options.extraHeaders, 'X-Trino-User': options.user };
    const client = Trino.create({
      server,
      source: options.source ?? DEFAULT_SOURCE,
      ...(options.catalog ? { catalog: options.catalog } : {}),
      ...(options.schema ? { schema: options.schema } : {}),
      ...(options.password ? { auth: new BasicAuth(options.user, options.password) } : {}),
      ...(options.session ? { session: options.session } : {}),
      extraHeaders,
    });
    // Cancelling DELETEs go out here, with the same identity as the client's own requests.
    const cancelHeaders = { ...extraHeaders };
    if (options.password) {
      cancelHeaders.Authorization = `Basic ${Buffer.from(`${options.user}:${options.password}`).toString('base64')}`;
    }

    let info: { starting?: boolean };
    try {
      const response = await fetch(`${server}/v1/info`, { signal: AbortSignal.timeout(CONNECT_TIMEOUT_MS) });
      info = response.ok ? ((await response.json().catch(() => ({}))) as { starting?: boolean }) : {};
    } catch (e) {
      throw new QueryError('trino', `cannot connect to ${redact(server)}: ${causeOf(e)}`);
    }
    if (info.starting) throw new QueryError('trino', `the server at ${redact(server)} is still starting`);
    return new TrinoEngine(new Session(client, server, cancelHeaders));
  }

  /** Rows in batches, one per protocol page. Breaking out of the loop cancels the query. */
  async *stream(sql: string, options: TrinoStreamOptions = {}): AsyncGenerator<Row[]> {
    for await (const page of this.pages(sql, options.signal)) {
      if (page.rows.length > 0) yield page.rows;
    }
  }

  async query(
    sql: string,
    options: TrinoStreamOptions = {},
  ): Promise<{ columns: ResultColumn[]; rows: Row[] }> {
    let columns: ResultColumn[] = [];
    const rows: Row[] = [];
    for await (const page of this.pages(sql, options.signal)) {
      if (page.columns) columns = page.columns.map((c) => ({ name: c.name, engineType: c.type }));
      for (const row of page.rows) rows.push(row);
    }
    return { columns, rows };
  }

  /**
   * The newest snapshot of each table from Iceberg's `$snapshots` metadata table (one query
   * for all of them). Undefined when a table is not an Iceberg table (the query fails): the
   * tracker then always runs. Names of one part are a source query's CTEs.
   */
  async tableVersions(tables: readonly string[]): Promise<TableVersions | undefined> {
    const named = tables.filter((t) => t.split('.').length >= 2);
    if (named.length === 0) return undefined;
    let rows: Row[];
    try {
      ({ rows } = await this.query(named.map(newestSnapshotSql).join('\nUNION ALL\n')));
    } catch (e) {
      if (e instanceof QueryError) return undefined;
      throw e;
    }
    const byTable = new Map(rows.map((r) => [String(r[0]), r]));
    const parts: string[] = [];
    let changedAt: string | undefined;
    for (const table of named) {
      const [, snapshot, dataAt] = byTable.get(table) ?? [];
      parts.push(`${table}=${snapshot ?? 'none'}`);
      if (typeof dataAt === 'string' && (changedAt === undefined || dataAt > changedAt)) changedAt = dataAt;
    }
    return {
      fingerprint: parts.join(';'),
      source: 'iceberg_snapshots',
      ...(changedAt ? { changedAt } : {}),
    };
  }

  async execute(sql: string, options: TrinoStreamOptions = {}): Promise<void> {
    const pages = this.pages(sql, options.signal);
    for (let step = await pages.next(); !step.done; step = await pages.next()) {
      // drained: a statement has run once its last page has been fetched
    }
  }

  async interrupt(): Promise<void> {
    await this.cancel();
  }

  /** Cancels every query running on this engine; their pending reads reject with a QueryError. */
  async cancel(): Promise<void> {
    await Promise.all([...this.running].map((query) => query.cancel('query cancelled')));
  }

  async close(): Promise<void> {
    this.closed = true;
    await this.cancel();
    await this.session.settled();
  }

  private async *pages(sql: string, signal?: AbortSignal): AsyncGenerator<Page> {
    if (this.closed) throw new QueryError('trino', 'the engine is closed');
    const query = new RunningQuery(this.session, signal);
    this.running.add(query);
    try {
      await query.submit(sql);
      for (;;) {
        const page = await query.nextPage();
        if (!page) return;
        yield page;
      }
    } finally {
      this.running.delete(query);
      await query.close();
    }
  }
}

/** What the queries of one engine share: the client, and the identity its DELETEs carry. */
class Session {
  /** DELETEs still on their way (for queries abandoned while their POST was in flight). */
  private readonly cleanups = new Set<Promise<void>>();

  constructor(
    private readonly client: Trino,
    private readonly server: string,
    private readonly headers: Record<string, string>,
  ) {}

  /** POST /v1/statement; the iterator follows nextUri. */
  submit(sql: string): Promise<PageIterator<QueryResult>> {
    return this.client.query(sql);
  }

  /** DELETE of a nextUri: how the protocol cancels a query. Best effort. */
  async deleteUri(uri: string): Promise<void> {
    try {
      await fetch(new URL(uri, this.server), {
        method: 'DELETE',
        headers: this.headers,
        signal: AbortSignal.timeout(CONNECT_TIMEOUT_MS),
      });
    } catch {
      // the query is abandoned either way; the server expires it
    }
  }

  track(cleanup: Promise<void>): void {
    this.cleanups.add(cleanup);
    void cleanup.finally(() => this.cleanups.delete(cleanup));
  }

  async settled(): Promise<void> {
    await Promise.all([...this.cleanups]);
  }

  /** An HTTP or network failure (trino-client throws axios errors) as a QueryError, credentials left out. */
  failure(e: unknown): QueryError {
    if (e instanceof QueryError) return e;
    const response = (e as { response?: { status?: number; data?: unknown } }).response;
    if (response?.status !== undefined) {
      const body = typeof response.data === 'string' ? response.data : JSON.stringify(response.data ?? '');
      const text = body.trim().split('\n')[0] ?? '';
      return new QueryError(
        'trino',
        `HTTP ${response.status} from ${redact(this.server)}${text ? `: ${text}` : ''}`,
      );
    }
    return new QueryError('trino', `cannot reach ${redact(this.server)}: ${causeOf(e)}`);
  }
}

interface Page {
  columns: TrinoColumn[] | undefined;
  rows: Row[];
}

interface TrinoColumn {
  name: string;
  type: string;
}

/** One query's life: its POST, its pages, and its cancellation. */
class RunningQuery {
  private iterator: PageIterator<QueryResult> | undefined;
  private columns: TrinoColumn[] | undefined;
  /** The last nextUri seen: a DELETE there cancels the query. */
  private nextUri: string | undefined;
  private finished = false;
  private closing: Promise<void> | undefined;
  private stopped: QueryError | undefined;
  private readonly stop: Promise<never>;
  private rejectStop!: (e: QueryError) => void;
  private readonly onAbort: () => void;

  constructor(
    private readonly session: Session,
    private readonly signal: AbortSignal | undefined,
  ) {
    this.stop = new Promise<never>((_resolve, reject) => {
      this.rejectStop = reject;
    });
    this.stop.catch(() => undefined);
    this.onAbort = () => void this.cancel(abortMessage(signal?.reason));
    if (signal?.aborted) this.stopped = new QueryError('trino', abortMessage(signal.reason));
    else signal?.addEventListener('abort', this.onAbort, { once: true });
  }

  async submit(sql: string): Promise<void> {
    this.throwIfStopped();
    const posting = this.session.submit(sql);
    try {
      this.iterator = await Promise.race([posting, this.stop]);
    } catch (e) {
      if (this.stopped) {
        // Cancelled while the POST was in flight: cancel the query once it has an id.
        this.session.track(
          posting.then(
            (iterator) => this.deleteNext(iterator),
            () => undefined,
          ),
        );
        this.finished = true;
      }
      throw this.session.failure(e);
    }
    this.nextUri = initialResult(this.iterator)?.nextUri;
  }

  /** The next page, or undefined once the query has finished. */
  async nextPage(): Promise<Page | undefined> {
    this.throwIfStopped();
    if (this.finished || !this.iterator) return undefined;
    let step: IteratorResult<QueryResult>;
    try {
      step = await Promise.race([this.iterator.next(), this.stop]);
    } catch (e) {
      throw this.session.failure(e);
    }
    const result = step.value as QueryResult | undefined;
    if (!result) {
      this.finished = true;
      return undefined;
    }
    this.nextUri = result.nextUri;
    if (result.columns) this.columns = result.columns;
    if (result.error) {
      this.finished = true;
      throw new QueryError('trino', result.error.message);
    }
    // `done` only comes back for a POST that answered everything itself (no nextUri): its
    // data was never yielded. Otherwise a page without nextUri is the last one.
    if (step.done || !result.nextUri) this.finished = true;
    return { columns: this.columns, rows: rowsOf(result.data ?? [], this.columns) };
  }

  /** Stops the query: rejects the pending read and DELETEs the nextUri on the server. */
  async cancel(message: string): Promise<void> {
    if (!this.stopped) {
      this.stopped = new QueryError('trino', message);
      this.rejectStop(this.stopped);
    }
    await this.close();
  }

  /** Cancels the query on the server unless it already finished; every caller awaits the same DELETE. */
  close(): Promise<void> {
    this.signal?.removeEventListener('abort', this.onAbort);
    if (!this.closing) {
      const cancelOnServer = !this.finished && this.iterator !== undefined;
      this.finished = true;
      this.closing = cancelOnServer && this.iterator ? this.deleteNext(this.iterator) : Promise.resolve();
    }
    return this.closing;
  }

  private async deleteNext(iterator: PageIterator<QueryResult>): Promise<void> {
    // The client's live result is newer than ours while it skips empty pages.
    const uri = initialResult(iterator)?.nextUri ?? this.nextUri;
    if (uri) await this.session.deleteUri(uri);
  }

  private throwIfStopped(): void {
    if (this.stopped) throw this.stopped;
  }
}

/**
 * The result the client's iterator holds: the POST response until the first page arrives,
 * then the latest page. trino-client 0.2.9 keeps it in `iter.queryResult` without exposing
 * it; read defensively (undefined if the shape ever changes).
 */
function initialResult(iterator: PageIterator<QueryResult>): QueryResult | undefined {
  const inner = (iterator as unknown as { iter?: { queryResult?: unknown } }).iter;
  const result = inner?.queryResult;
  return result && typeof result === 'object' ? (result as QueryResult) : undefined;
}

function rowsOf(data: unknown[][], columns: TrinoColumn[] | undefined): Row[] {
  return data.map((values) =>
    values.map((value, i) => cellFromTrino(value, columns?.[i]?.type ?? 'unknown')),
  );
}

/** A value in Trino's JSON encoding -> the engine-neutral Cell, by the column's Trino type. */
export function cellFromTrino(value: unknown, type: string): Cell {
  if (value === null || value === undefined) return null;
  switch (baseType(type)) {
    case 'bigint':
    case 'integer':
    case 'smallint':
    case 'tinyint':
    case 'double':
    case 'real':
    case 'decimal':
      // decimals arrive as strings ('123.45'); doubles as numbers or 'NaN' / 'Infinity'
      return typeof value === 'number' ? value : Number(value);
    case 'varchar':
    case 'char':
    case 'date':
      return String(value);
    case 'boolean':
      return typeof value === 'boolean' ? value : value === 'true';
    case 'timestamp':
      return typeof value === 'string' ? isoFromTrinoTimestamp(value, false) : String(value);
    case 'timestamp with time zone':
      return typeof value === 'string' ? isoFromTrinoTimestamp(value, true) : String(value);
    default:
      if (typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean') return value;
      return JSON.stringify(value);
  }
}

/** `decimal(10,2)` -> `decimal`, `timestamp(3) with time zone` -> `timestamp with time zone`. */
function baseType(type: string): string {
  let depth = 0;
  let out = '';
  for (const ch of type.toLowerCase()) {
    if (ch === '(') depth++;
    else if (ch === ')') depth--;
    else if (depth === 0) out += ch;
  }
  return out.replace(/\s+/g, ' ').trim();
}

const TIMESTAMP_TEXT = /^([+-]?\d{4,})-(\d{2})-(\d{2}) (\d{2}):(\d{2}):(\d{2})(?:\.(\d+))?(?: (\S+))?$/;

/**
 * Trino's `2026-01-31 12:00:00.123` (precision 0-12) and `... 12:00:00.123 Europe/Paris` /
 * `... +01:00` / `... UTC` -> ISO UTC with milliseconds. A timestamp without time zone is
 * read as UTC, like the other engines do.
 */
export function isoFromTrinoTimestamp(text: string, withZone: boolean): string {
  const m = TIMESTAMP_TEXT.exec(text);
  if (!m) return text;
  const [, y, mo, d, h, mi, s, fraction = '', zone] = m;
  const millis = Number(fraction.padEnd(3, '0').slice(0, 3));
  const date = new Date(0);
  date.setUTCFullYear(Number(y), Number(mo) - 1, Number(d));
  date.setUTCHours(Number(h), Number(mi), Number(s), millis);
  const wall = date.getTime();
  if (!withZone || !zone) return date.toISOString();
  const offset = zoneOffsetMinutes(zone, wall);
  if (offset === undefined) return text;
  return new Date(wall - offset * 60_000).toISOString();
}

const OFFSET = /^(?:UTC|GMT)?([+-])(\d{1,2})(?::?(\d{2}))?$/;
const formatters = new Map<string, Intl.DateTimeFormat>();

/** Minutes east of UTC of `zone` at the local wall time `wall` (ms, read as UTC). */
function zoneOffsetMinutes(zone: string, wall: number): number | undefined {
  if (/^(UTC|GMT|Z|UT|Etc\/UTC|Etc\/GMT)$/i.test(zone)) return 0;
  const fixed = OFFSET.exec(zone);
  if (fixed) return (fixed[1] === '-' ? -1 : 1) * (Number(fixed[2]) * 60 + Number(fixed[3] ?? 0));
  try {
    // The offset at the instant the wall time would be in UTC, then corrected once (DST edges).
    const first = offsetAt(zone, wall);
    return offsetAt(zone, wall - first * 60_000);
  } catch {
    return undefined;
  }
}

function offsetAt(zone: string, instant: number): number {
  let format = formatters.get(zone);
  if (!format) {
    format = new Intl.DateTimeFormat('en-US', {
      timeZone: zone,
      hourCycle: 'h23',
      year: 'numeric',
      month: 'numeric',
      day: 'numeric',
      hour: 'numeric',
      minute: 'numeric',
      second: 'numeric',
      era: 'short',
    });
    formatters.set(zone, format);
  }
  const parts: Record<string, string> = {};
  for (const part of format.formatToParts(new Date(instant))) parts[part.type] = part.value;
  const year = parts.era === 'BC' || parts.era === 'B' ? 1 - Number(parts.year) : Number(parts.year);
  const local = new Date(0);
  local.setUTCFullYear(year, Number(parts.month) - 1, Number(parts.day));
  local.setUTCHours(Number(parts.hour), Number(parts.minute), Number(parts.second), 0);
  const truncated = instant - (((instant % 1000) + 1000) % 1000);
  return Math.round((local.getTime() - truncated) / 60_000);
}

function abortMessage(reason: unknown): string {
  if (reason instanceof Error && reason.name !== 'AbortError') return `query cancelled (${reason.message})`;
  return 'query cancelled';
}

function causeOf(e: unknown): string {
  if (!(e instanceof Error)) return String(e);
  const code = (e as { code?: unknown }).code;
  const cause = e.cause instanceof Error ? e.cause.message : undefined;
  return [typeof code === 'string' ? code : undefined, cause ?? e.message].filter(Boolean).join(': ');
}

/** A URL for messages: never with the user info it may carry. */
function redact(url: string): string {
  try {
    const parsed = new URL(url);
    parsed.username = '';
    parsed.password = '';
    return parsed.toString().replace(/\/+$/, '');
  } catch {
    return '<invalid URL>';
  }
}

/**
 * One row for a table: its name, its newest snapshot, and when it last received data (the
 * newest snapshot that is not a `replace`: those only reorganise files).
 */
function newestSnapshotSql(table: string): string {
  const trino = dialectFor('trino');
  const path = table.split('.');
  const name = [...path.slice(0, -1), `${path.at(-1)!}$snapshots`].map((p) => trino.identifier(p)).join('.');
  return (
    `SELECT ${trino.stringLiteral(table)} AS table_name,` +
    ` CAST(max_by(snapshot_id, committed_at) AS varchar) AS snapshot,` +
    ` max(committed_at) FILTER (WHERE operation <> 'replace') AS data_changed_at FROM ${name}`
  );
}
