/**
 * A stand-in for the Airtable Web API records endpoints, for tests: a local node:http server
 * that behaves like the real one where Strata depends on it.
 *
 * - List: `GET /v0/<base>/<table>` (pageSize <= 100, offset, fields[], filterByFormula) and
 *   `POST /v0/<base>/<table>/listRecords` (the same in a JSON body). Offsets are iterators over
 *   the ids present at the first page (records deleted since are skipped). Empty fields, `false`
 *   checkboxes and empty arrays are omitted from records, as Airtable does.
 * - Create `POST`, update `PATCH` (by id, or upsert with `performUpsert.fieldsToMergeOn`:
 *   creates when nothing matches, updates the one match, fails when several match), destructive
 *   update `PUT` (clears unnamed fields: here so that a test notices if anything uses it), delete
 *   `DELETE ?records[]=`. At most 10 records per write (422 TOO_MANY_RECORDS); unknown field names
 *   fail with 422 UNKNOWN_FIELD_NAME; a request is applied all or nothing.
 * - Bearer token auth (401), URLs over 16,000 characters (414).
 * - 5 requests per second per base (sliding window on the injectable clock); the request over
 *   the limit gets 429 with `{"errors":[{"error":"RATE_LIMIT_REACHED",...}]}` and locks the base
 *   for 30 s, during which every request gets the same 429.
 * - Every request is logged (method, path, query, parsed body, bytes, status, clock time).
 *
 * `FakeClock` is virtual time for the client (limiter, retry sleeps) and the server together:
 * it moves to the next sleeper's wake-up time only when no request is in flight, so a test
 * of 30-second penalties or of minutes of rate-limited writes runs in milliseconds.
 */
import { randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

// ---- clock ---------------------------------------------------------------------------------

export interface Clock {
  now(): number;
}

export class FakeClock implements Clock {
  private time: number;
  private timers: { at: number; resolve: () => void }[] = [];
  private inFlight = 0;
  private pumping = false;

  constructor(start: number = Date.UTC(2026, 0, 5, 9, 0, 0)) {
    this.time = start;
  }

  readonly now = (): number => this.time;

  readonly sleep = (ms: number): Promise<void> =>
    new Promise((resolve) => {
      this.timers.push({ at: this.time + Math.max(0, ms), resolve });
      this.pump();
    });

  /** Moves time forward by hand (firing the sleepers due by then). */
  advance(ms: number): void {
    this.time += ms;
    this.fireDue();
  }

  /**
   * A fetch that holds the clock still while a request (and its response body) is in flight,
   * so that a request is stamped by the server with the time the client's limiter let it go.
   */
  fetch(inner: typeof fetch = globalThis.fetch): typeof fetch {
    return async (input, init) => {
      this.inFlight++;
      try {
        const response = await inner(input, init);
        const body = await response.arrayBuffer();
        return new Response(response.status === 204 ? null : body, {
          status: response.status,
          statusText: response.statusText,
          headers: response.headers,
        });
      } finally {
        this.inFlight--;
        this.pump();
      }
    };
  }

  private fireDue(): void {
    const due = this.timers.filter((t) => t.at <= this.time);
    this.timers = this.timers.filter((t) => t.at > this.time);
    for (const timer of due) timer.resolve();
  }

  /** When nothing is in flight for a few event-loop turns, jumps to the earliest sleeper. */
  private pump(): void {
    if (this.pumping) return;
    this.pumping = true;
    let idle = 0;
    const tick = (): void => {
      if (this.timers.length === 0 || this.inFlight > 0) {
        this.pumping = false; // restarted by the next sleep or finished request
        return;
      }
      if (++idle < 3) {
        setImmediate(tick);
        return;
      }
      idle = 0;
      this.time = Math.max(this.time, Math.min(...this.timers.map((t) => t.at)));
      this.fireDue();
      setImmediate(tick);
    };
    setImmediate(tick);
  }
}

// ---- server --------------------------------------------------------------------------------

export type FieldValue = unknown;

export interface FakeRecord {
  id: string;
  createdTime: string;
  /** Non-empty fields only, as the API lists them. */
  fields: Record<string, FieldValue>;
}

export interface LoggedRequest {
  method: string;
  /** Path without query, e.g. `/v0/appX/Movies`. */
  path: string;
  query: URLSearchParams;
  body: unknown;
  /** Bytes of path, query and body. */
  bytes: number;
  status: number;
  /** Clock time at arrival. */
  at: number;
  authorization: string | undefined;
}

export interface InjectedFailure {
  status: number;
  body?: unknown;
  headers?: Record<string, string>;
  /** Only requests with this method (default: any). */
  method?: string;
  /** How many requests fail (default 1). */
  times?: number;
  /** Apply the request, then answer with the failure (a lost response). */
  afterApply?: boolean;
}

export interface FakeAirtableOptions {
  token?: string;
  clock?: Clock;
  /** Requests per window per base; false turns the limit off. Default 5 per 1000 ms. */
  rateLimit?: { requests: number; windowMs: number } | false;
  /** How long a 429 locks the base (default 30 s). */
  lockMs?: number;
  /** Send `Retry-After: <seconds>` with 429s (Airtable does not promise one). */
  retryAfterSeconds?: number;
  /** Real milliseconds to wait before answering each request (network round trip). */
  latencyMs?: number;
}

export interface FakeAirtable {
  url: string;
  token: string;
  requests: LoggedRequest[];
  /** The most requests the server was answering at once (more than one: the client pipelines). */
  readonly maxInFlight: number;
  /** Requests other than reads (list GETs and POST .../listRecords). */
  writes(): LoggedRequest[];
  createTable(
    baseId: string,
    table: string,
    fields: string[],
    records?: Record<string, FieldValue>[],
  ): string[];
  /** Records as the list endpoint returns them, in table order. */
  records(baseId: string, table: string): FakeRecord[];
  /** A stakeholder adds a field of their own and fills it in. */
  addField(baseId: string, table: string, field: string, value?: (record: FakeRecord) => FieldValue): void;
  /** A stakeholder edits a record. */
  setFields(baseId: string, table: string, recordId: string, fields: Record<string, FieldValue>): void;
  /** Records created without going through HTTP (no rate limit, not logged). */
  insert(baseId: string, table: string, records: Record<string, FieldValue>[]): string[];
  /** Locks the base as if someone had exceeded its rate limit now. */
  lock(baseId: string): void;
  fail(failure: InjectedFailure): void;
  close(): Promise<void>;
}

interface StoredRecord {
  id: string;
  createdTime: string;
  fields: Map<string, FieldValue>;
}

interface StoredTable {
  fields: string[];
  records: StoredRecord[];
  byId: Map<string, StoredRecord>;
}

interface BaseState {
  tables: Map<string, StoredTable>;
  recent: number[];
  lockedUntil: number;
}

class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly body: unknown,
  ) {
    super(JSON.stringify(body));
  }
}

const error = (status: number, type: string, message: string): ApiError =>
  new ApiError(status, { error: { type, message } });

const MAX_RECORDS = 10;
const MAX_URL = 16_000;

function isEmpty(value: FieldValue): boolean {
  return (
    value === undefined ||
    value === null ||
    value === '' ||
    value === false ||
    (Array.isArray(value) && value.length === 0)
  );
}

function sameCell(a: FieldValue, b: FieldValue): boolean {
  if (isEmpty(a) && isEmpty(b)) return true;
  return JSON.stringify(a) === JSON.stringify(b);
}

export async function startFakeAirtable(options: FakeAirtableOptions = {}): Promise<FakeAirtable> {
  const token = options.token ?? `pat${randomBytes(8).toString('hex')}`;
  const clock = options.clock ?? { now: Date.now };
  const rateLimit = options.rateLimit === undefined ? { requests: 5, windowMs: 1000 } : options.rateLimit;
  const lockMs = options.lockMs ?? 30_000;
  const bases = new Map<string, BaseState>();
  const iterators = new Map<string, { ids: string[]; position: number }>();
  const requests: LoggedRequest[] = [];
  let inFlight = 0;
  let maxInFlight = 0;
  const failures: (InjectedFailure & { left: number })[] = [];
  let nextId = 1;

  const base = (baseId: string): BaseState => {
    let state = bases.get(baseId);
    if (!state) {
      state = { tables: new Map(), recent: [], lockedUntil: 0 };
      bases.set(baseId, state);
    }
    return state;
  };
  const tableOf = (baseId: string, table: string): StoredTable => {
    const found = bases.get(baseId)?.tables.get(table);
    if (!found) throw error(404, 'TABLE_NOT_FOUND', `Could not find table ${table} in application ${baseId}`);
    return found;
  };
  const newId = (): string =>
    `rec${String(nextId++).padStart(6, '0')}${randomBytes(4).toString('hex')}`.slice(0, 17);
  const view = (record: StoredRecord, only?: readonly string[]): FakeRecord => {
    const fields: Record<string, FieldValue> = {};
    for (const [name, value] of record.fields) {
      if (!isEmpty(value) && (!only || only.includes(name))) fields[name] = structuredClone(value);
    }
    return { id: record.id, createdTime: record.createdTime, fields };
  };
  const checkFields = (table: StoredTable, names: Iterable<string>): void => {
    for (const name of names) {
      if (!table.fields.includes(name))
        throw error(422, 'UNKNOWN_FIELD_NAME', `Unknown field name: "${name}"`);
    }
  };
  const insert = (table: StoredTable, fields: Record<string, FieldValue>): StoredRecord => {
    const record: StoredRecord = {
      id: newId(),
      createdTime: new Date(clock.now()).toISOString(),
      fields: new Map(Object.entries(fields).filter(([, v]) => v !== null)),
    };
    table.records.push(record);
    table.byId.set(record.id, record);
    return record;
  };
  const assign = (record: StoredRecord, fields: Record<string, FieldValue>): void => {
    for (const [name, value] of Object.entries(fields)) {
      if (value === null) record.fields.delete(name);
      else record.fields.set(name, structuredClone(value));
    }
  };

  // -- endpoints --

  const list = (
    table: StoredTable,
    params: { pageSize?: unknown; offset?: unknown; fields?: unknown; filterByFormula?: unknown },
  ): unknown => {
    const pageSize = params.pageSize === undefined ? 100 : Number(params.pageSize);
    if (!Number.isInteger(pageSize) || pageSize < 1 || pageSize > 100) {
      throw error(422, 'INVALID_PAGE_SIZE', `Invalid page size: ${String(params.pageSize)}`);
    }
    const fields = params.fields === undefined ? undefined : (params.fields as string[]);
    if (fields) checkFields(table, fields);
    let since: number | undefined;
    if (typeof params.filterByFormula === 'string' && params.filterByFormula !== '') {
      const match = /^IS_AFTER\(CREATED_TIME\(\), DATETIME_PARSE\('([^']+)'\)\)$/.exec(
        params.filterByFormula,
      );
      if (!match) {
        throw error(
          422,
          'INVALID_FILTER_BY_FORMULA',
          `The fake does not know the formula ${params.filterByFormula}`,
        );
      }
      since = Date.parse(match[1]!);
    }
    let iterator: { ids: string[]; position: number };
    if (params.offset !== undefined) {
      const found = iterators.get(String(params.offset));
      if (!found) throw error(422, 'LIST_RECORDS_ITERATOR_NOT_AVAILABLE', 'Invalid offset');
      iterator = found;
      iterators.delete(String(params.offset));
    } else {
      const ids = table.records
        .filter((r) => since === undefined || Date.parse(r.createdTime) > since)
        .map((r) => r.id);
      iterator = { ids, position: 0 };
    }
    const page: FakeRecord[] = [];
    while (page.length < pageSize && iterator.position < iterator.ids.length) {
      const record = table.byId.get(iterator.ids[iterator.position++]!);
      if (record) page.push(view(record, fields));
    }
    if (iterator.position < iterator.ids.length) {
      const offset = `itr${randomBytes(6).toString('hex')}/${iterator.ids[iterator.position]}`;
      iterators.set(offset, iterator);
      return { records: page, offset };
    }
    return { records: page };
  };

  const recordsOf = (body: unknown): { id?: string; fields: Record<string, FieldValue> }[] => {
    const records = (body as { records?: unknown } | undefined)?.records;
    if (!Array.isArray(records))
      throw error(422, 'INVALID_REQUEST_MISSING_FIELDS', 'Could not find field "records"');
    if (records.length === 0) throw error(422, 'INVALID_RECORDS', 'records must contain at least one record');
    if (records.length > MAX_RECORDS) {
      throw error(422, 'TOO_MANY_RECORDS', `You can provide at most ${MAX_RECORDS} records per request`);
    }
    for (const r of records) {
      const fields = (r as { fields?: unknown })?.fields;
      if (!fields || typeof fields !== 'object' || Array.isArray(fields)) {
        throw error(422, 'INVALID_RECORDS', 'Each record needs a "fields" object');
      }
    }
    return records as { id?: string; fields: Record<string, FieldValue> }[];
  };

  const create = (table: StoredTable, body: unknown): unknown => {
    const records = recordsOf(body);
    for (const r of records) checkFields(table, Object.keys(r.fields));
    return { records: records.map((r) => view(insert(table, r.fields))) };
  };

  const update = (table: StoredTable, body: unknown, destructive: boolean): unknown => {
    const records = recordsOf(body);
    for (const r of records) checkFields(table, Object.keys(r.fields));
    const upsert = (body as { performUpsert?: { fieldsToMergeOn?: unknown } }).performUpsert;
    const mergeOn = upsert?.fieldsToMergeOn;
    if (upsert !== undefined) {
      if (!Array.isArray(mergeOn) || mergeOn.length === 0 || mergeOn.length > 3) {
        throw error(422, 'INVALID_REQUEST_UNKNOWN', 'performUpsert.fieldsToMergeOn must list 1 to 3 fields');
      }
      checkFields(table, mergeOn as string[]);
    }
    // Decide everything first: a request is applied all or nothing.
    const targets: (StoredRecord | undefined)[] = [];
    const claimed = new Set<string>();
    for (const r of records) {
      if (r.id !== undefined) {
        const target = table.byId.get(r.id);
        if (!target) throw error(404, 'NOT_FOUND', `Could not find record ${r.id}`);
        targets.push(target);
        continue;
      }
      if (!mergeOn) throw error(422, 'INVALID_RECORDS', 'Each record needs an "id" (or use performUpsert)');
      const merge = mergeOn as string[];
      const missing = merge.find((name) => isEmpty(r.fields[name]));
      if (missing) {
        throw error(
          422,
          'INVALID_VALUE_FOR_COLUMN',
          `Field "${missing}" to merge on is missing from a record`,
        );
      }
      const signature = JSON.stringify(merge.map((name) => r.fields[name]));
      if (claimed.has(signature)) {
        throw error(422, 'INVALID_RECORDS', 'Two records of the request have the same fields to merge on');
      }
      claimed.add(signature);
      const matches = table.records.filter((rec) =>
        merge.every((name) => sameCell(rec.fields.get(name), r.fields[name])),
      );
      if (matches.length > 1) {
        throw error(
          422,
          'INVALID_MULTIPLE_MATCHING_RECORDS',
          `${matches.length} records match the fields to merge on (${merge.join(', ')}); upsert needs at most one`,
        );
      }
      targets.push(matches[0]);
    }
    const created: string[] = [];
    const updated: string[] = [];
    const out = records.map((r, i) => {
      const target = targets[i];
      if (!target) {
        const record = insert(table, r.fields);
        created.push(record.id);
        return view(record);
      }
      if (destructive) target.fields.clear();
      assign(target, r.fields);
      updated.push(target.id);
      return view(target);
    });
    return mergeOn ? { records: out, createdRecords: created, updatedRecords: updated } : { records: out };
  };

  const remove = (table: StoredTable, query: URLSearchParams): unknown => {
    const ids = query.getAll('records[]');
    if (ids.length === 0)
      throw error(422, 'INVALID_REQUEST_MISSING_FIELDS', 'Could not find field "records"');
    if (ids.length > MAX_RECORDS) {
      throw error(422, 'TOO_MANY_RECORDS', `You can delete at most ${MAX_RECORDS} records per request`);
    }
    for (const id of ids) {
      if (!table.byId.has(id)) throw error(404, 'NOT_FOUND', `Could not find record ${id}`);
    }
    table.records = table.records.filter((r) => !ids.includes(r.id));
    for (const id of ids) table.byId.delete(id);
    return { records: ids.map((id) => ({ id, deleted: true })) };
  };

  // -- dispatch --

  const route = (method: string, parts: string[], query: URLSearchParams, body: unknown): unknown => {
    const [, version, baseId, tableName, extra] = parts;
    if (version !== 'v0' || !baseId || !tableName) throw new ApiError(404, { error: 'NOT_FOUND' });
    const table = tableOf(baseId, decodeURIComponent(tableName));
    if (extra === 'listRecords' && method === 'POST')
      return list(table, (body ?? {}) as Record<string, unknown>);
    if (extra !== undefined) throw new ApiError(404, { error: 'NOT_FOUND' });
    switch (method) {
      case 'GET':
        return list(table, {
          pageSize: query.get('pageSize') ?? undefined,
          offset: query.get('offset') ?? undefined,
          fields: query.has('fields[]') ? query.getAll('fields[]') : undefined,
          filterByFormula: query.get('filterByFormula') ?? undefined,
        });
      case 'POST':
        return create(table, body);
      case 'PATCH':
        return update(table, body, false);
      case 'PUT':
        return update(table, body, true);
      case 'DELETE':
        return remove(table, query);
      default:
        throw new ApiError(404, { error: 'NOT_FOUND' });
    }
  };

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const text = Buffer.concat(chunks).toString('utf8');
    const rawUrl = req.url ?? '/';
    const url = new URL(rawUrl, 'http://fake');
    const method = req.method ?? 'GET';
    const entry: LoggedRequest = {
      method,
      path: url.pathname,
      query: url.searchParams,
      body: undefined,
      bytes: Buffer.byteLength(rawUrl) + Buffer.byteLength(text),
      status: 200,
      at: clock.now(),
      authorization: req.headers.authorization,
    };
    requests.push(entry);
    let status = 200;
    let payload: unknown;
    const headers: Record<string, string> = { 'Content-Type': 'application/json' };
    try {
      if (rawUrl.length > MAX_URL) throw error(414, 'URL_TOO_LONG', 'The request URL is too long');
      const auth = req.headers.authorization;
      if (!auth) throw new ApiError(401, { error: 'AUTHENTICATION_REQUIRED' });
      if (auth !== `Bearer ${token}`) {
        throw error(401, 'AUTHENTICATION_REQUIRED', 'Invalid authentication token');
      }
      if (text) {
        try {
          entry.body = JSON.parse(text);
        } catch {
          throw error(400, 'INVALID_REQUEST_BODY', 'Could not parse the request body as JSON');
        }
      }
      const baseId = url.pathname.split('/')[2];
      if (baseId && rateLimit) {
        const state = base(baseId);
        const now = clock.now();
        const limited = (): ApiError => {
          if (options.retryAfterSeconds !== undefined)
            headers['Retry-After'] = String(options.retryAfterSeconds);
          return new ApiError(429, {
            errors: [{ error: 'RATE_LIMIT_REACHED', message: 'Rate limit exceeded. Please try again later' }],
          });
        };
        if (now < state.lockedUntil) throw limited();
        state.recent = state.recent.filter((t) => t > now - rateLimit.windowMs);
        if (state.recent.length >= rateLimit.requests) {
          state.lockedUntil = now + lockMs;
          throw limited();
        }
        state.recent.push(now);
      }
      const failure = failures.find((f) => f.left > 0 && (!f.method || f.method === method));
      if (failure) {
        failure.left--;
        if (failure.afterApply) route(method, url.pathname.split('/'), url.searchParams, entry.body);
        Object.assign(headers, failure.headers ?? {});
        throw new ApiError(
          failure.status,
          failure.body ?? { error: { type: 'SERVER_ERROR', message: 'Try again' } },
        );
      }
      payload = route(method, url.pathname.split('/'), url.searchParams, entry.body);
    } catch (e) {
      if (!(e instanceof ApiError)) throw e;
      status = e.status;
      payload = e.body;
    }
    entry.status = status;
    if (options.latencyMs) await new Promise((r) => setTimeout(r, options.latencyMs));
    res.writeHead(status, headers).end(JSON.stringify(payload));
  };

  const server = createServer((req, res) => {
    inFlight++;
    maxInFlight = Math.max(maxInFlight, inFlight);
    res.once('close', () => inFlight--);
    handle(req, res).catch((e: unknown) => {
      res.writeHead(500, { 'Content-Type': 'application/json' }).end(JSON.stringify({ error: String(e) }));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;

  const fake: FakeAirtable = {
    url: `http://127.0.0.1:${port}`,
    token,
    requests,
    get maxInFlight() {
      return maxInFlight;
    },
    writes: () =>
      requests.filter((r) => r.method !== 'GET' && !(r.method === 'POST' && r.path.endsWith('/listRecords'))),
    createTable(baseId, table, fields, records = []) {
      base(baseId).tables.set(table, { fields: [...fields], records: [], byId: new Map() });
      return fake.insert(baseId, table, records);
    },
    records: (baseId, table) => tableOf(baseId, table).records.map((r) => view(r)),
    addField(baseId, table, field, value) {
      const stored = tableOf(baseId, table);
      if (!stored.fields.includes(field)) stored.fields.push(field);
      if (value) {
        for (const record of stored.records) {
          const v = value(view(record));
          if (v !== null && v !== undefined) record.fields.set(field, v);
        }
      }
    },
    setFields(baseId, table, recordId, fields) {
      const stored = tableOf(baseId, table);
      checkFields(stored, Object.keys(fields));
      const record = stored.records.find((r) => r.id === recordId);
      if (!record) throw new Error(`no record ${recordId}`);
      assign(record, fields);
    },
    insert(baseId, table, records) {
      const stored = tableOf(baseId, table);
      for (const r of records) checkFields(stored, Object.keys(r));
      return records.map((r) => insert(stored, r).id);
    },
    lock(baseId) {
      base(baseId).lockedUntil = clock.now() + lockMs;
    },
    fail(failure) {
      failures.push({ ...failure, left: failure.times ?? 1 });
    },
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.closeAllConnections();
        server.close((e) => (e ? reject(e) : resolve()));
      }),
  };
  return fake;
}
