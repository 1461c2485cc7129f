/**
 * A stand-in Trino coordinator for tests: speaks the client REST protocol (POST /v1/statement,
 * GET and DELETE of nextUri, GET /v1/info) closely enough for the real trino-client, and
 * answers by running the SQL on an in-memory DuckDB, with DuckDB's types and values put in
 * Trino's names and JSON encodings. Every request is recorded for assertions.
 */
import { randomBytes } from 'node:crypto';
import { createServer, type IncomingHttpHeaders, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  DuckDBDateValue,
  DuckDBDecimalValue,
  DuckDBInstance,
  DuckDBListValue,
  DuckDBTimestampMillisecondsValue,
  DuckDBTimestampNanosecondsValue,
  DuckDBTimestampSecondsValue,
  DuckDBTimestampTZValue,
  DuckDBTimestampValue,
  DuckDBTypeId,
  type DuckDBConnection,
  type DuckDBDecimalType,
  type DuckDBListType,
  type DuckDBType,
  type DuckDBValue,
} from '@duckdb/node-api';

export interface RecordedRequest {
  method: string;
  /** Path and query string, e.g. `/v1/statement/executing/<id>/<slug>/1`. */
  path: string;
  /** Lower-cased, as node:http gives them. */
  headers: IncomingHttpHeaders;
  body: string;
  /** The query the request was about, when it names one. */
  queryId?: string;
}

export type FakeQueryState = 'QUEUED' | 'RUNNING' | 'FINISHED' | 'FAILED';

export interface FakeQuery {
  id: string;
  sql: string;
  user: string;
  catalog: string | undefined;
  schema: string | undefined;
  source: string | undefined;
  state: FakeQueryState;
  /** Set by a DELETE of one of its URIs. */
  cancelled: boolean;
  /** The executing-page tokens served so far. */
  pagesServed: number[];
}

export interface TrinoServerOptions {
  /** Rows per data page (default 100). */
  pageSize?: number;
  /** Require HTTP basic authentication with this password (any user). */
  password?: string;
  /** Delay before answering each GET of a nextUri, to hold a page "in flight". */
  delayMs?: number;
  /** Delay before answering POST /v1/statement (the query is registered at once). */
  postDelayMs?: number;
  /** Report a failing statement in the POST response itself (no nextUri), as some servers do. */
  failOnPost?: boolean;
}

export interface TrinoTestServer {
  url: string;
  duckdb: DuckDBConnection;
  requests: RecordedRequest[];
  queries: Map<string, FakeQuery>;
  close(): Promise<void>;
}

interface TrinoError {
  message: string;
  errorCode: number;
  errorName: string;
  errorType: string;
  failureInfo: { type: string; message: string; suppressed: string[]; stack: string[] };
}

interface TypeSignature {
  rawType: string;
  arguments: ({ kind: 'LONG'; value: number } | { kind: 'TYPE'; value: TypeSignature })[];
}

interface TrinoType {
  type: string;
  typeSignature: TypeSignature;
  encode(value: DuckDBValue): unknown;
}

interface Column {
  name: string;
  type: string;
  typeSignature: TypeSignature;
}

type Outcome = { columns: Column[]; pages: unknown[][][]; updateType?: string } | { error: TrinoError };

interface QueryRecord extends FakeQuery {
  slug: string;
  outcome: Promise<Outcome>;
}

const STATEMENT_PATH = /^\/v1\/statement\/(queued|executing)\/([^/]+)\/([^/]+)\/(\d+)$/;

export async function startTrinoServer(options: TrinoServerOptions = {}): Promise<TrinoTestServer> {
  const pageSize = Math.max(1, options.pageSize ?? 100);
  const instance = await DuckDBInstance.create(':memory:');
  const duckdb = await instance.connect();
  await duckdb.run("SET TimeZone = 'UTC'");

  const requests: RecordedRequest[] = [];
  const queries = new Map<string, QueryRecord>();
  let counter = 0;
  // One DuckDB connection: statements run one after another.
  let queue: Promise<unknown> = Promise.resolve();

  const run = (sql: string, schema: string | undefined): Promise<Outcome> => {
    const next = queue.then(() => execute(duckdb, sql, schema, pageSize));
    queue = next.catch(() => undefined);
    return next;
  };

  const server = createServer((req, res) => {
    void handle(req, res).catch((e: unknown) => {
      if (!res.headersSent) text(res, 500, e instanceof Error ? e.message : String(e));
      else res.end();
    });
  });

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const body = await readBody(req);
    const base = `http://${req.headers.host ?? '127.0.0.1'}`;
    const url = new URL(req.url ?? '/', base);
    const record: RecordedRequest = {
      method: req.method ?? 'GET',
      path: `${url.pathname}${url.search}`,
      headers: req.headers,
      body,
    };
    requests.push(record);

    if (url.pathname === '/v1/info' && req.method === 'GET') {
      json(res, 200, {
        nodeVersion: { version: 'strata-test' },
        environment: 'test',
        coordinator: true,
        starting: false,
        uptime: '1.00s',
      });
      return;
    }

    if (url.pathname === '/v1/statement' && req.method === 'POST') {
      const user = authenticate(req, res, options.password);
      if (user === undefined) return;
      if (body.trim() === '') {
        text(res, 400, 'SQL statement is empty');
        return;
      }
      const id = queryId(++counter);
      const slug = `y${randomBytes(16).toString('hex')}`;
      const schema = header(req, 'x-trino-schema');
      const query: QueryRecord = {
        id,
        slug,
        sql: body,
        user,
        catalog: header(req, 'x-trino-catalog'),
        schema,
        source: header(req, 'x-trino-source'),
        state: 'QUEUED',
        cancelled: false,
        pagesServed: [],
        outcome: run(body, schema),
      };
      queries.set(id, query);
      record.queryId = id;
      if (options.postDelayMs) await sleep(options.postDelayMs);
      if (options.failOnPost) {
        const outcome = await query.outcome;
        if ('error' in outcome) {
          query.state = 'FAILED';
          json(res, 200, failed(base, query, outcome.error));
          return;
        }
      }
      json(res, 200, {
        ...identity(base, query),
        nextUri: `${base}/v1/statement/queued/${id}/${slug}/1`,
        stats: stats('QUEUED'),
        warnings: [],
      });
      return;
    }

    const match = STATEMENT_PATH.exec(url.pathname);
    const query = match ? queries.get(match[2]!) : undefined;
    if (!match || !query || query.slug !== match[3]) {
      text(res, 404, match ? 'Query not found' : 'Not Found');
      return;
    }
    record.queryId = query.id;
    const [, stage, , , tokenText] = match;
    const token = Number(tokenText);

    if (req.method === 'DELETE') {
      if (query.state !== 'FINISHED') {
        query.cancelled = true;
        query.state = 'FAILED';
      }
      res.writeHead(204).end();
      return;
    }
    if (req.method !== 'GET') {
      text(res, 405, 'Method Not Allowed');
      return;
    }

    if (options.delayMs) await sleep(options.delayMs);
    if (query.cancelled) {
      json(res, 200, failed(base, query, cancelledError()));
      return;
    }
    if (stage === 'queued') {
      // Planning done: hand over to the executing resource, no rows yet.
      query.state = 'RUNNING';
      json(res, 200, {
        ...identity(base, query),
        nextUri: `${base}/v1/statement/executing/${query.id}/${query.slug}/0`,
        stats: stats('RUNNING'),
        warnings: [],
      });
      return;
    }

    const outcome = await query.outcome;
    if (query.cancelled) {
      json(res, 200, failed(base, query, cancelledError()));
      return;
    }
    if ('error' in outcome) {
      query.state = 'FAILED';
      json(res, 200, failed(base, query, outcome.error));
      return;
    }
    const pageCount = Math.max(1, outcome.pages.length);
    if (token >= pageCount) {
      text(res, 404, 'Query not found');
      return;
    }
    query.pagesServed.push(token);
    const last = token === pageCount - 1;
    const data = outcome.pages[token];
    query.state = last ? 'FINISHED' : 'RUNNING';
    json(res, 200, {
      ...identity(base, query),
      ...(last ? {} : { nextUri: `${base}/v1/statement/executing/${query.id}/${query.slug}/${token + 1}` }),
      columns: outcome.columns,
      ...(data && data.length > 0 ? { data } : {}),
      stats: stats(query.state),
      warnings: [],
      ...(last && outcome.updateType ? { updateType: outcome.updateType } : {}),
    });
  }

  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;

  return {
    url: `http://127.0.0.1:${port}`,
    duckdb,
    requests,
    queries,
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await queue;
      duckdb.closeSync();
      instance.closeSync();
    },
  };
}

/** Who is asking, as Trino's insecure or password authenticator would decide; undefined once refused. */
function authenticate(
  req: IncomingMessage,
  res: ServerResponse,
  password: string | undefined,
): string | undefined {
  const basic = basicCredentials(req.headers.authorization);
  const refuse = (message: string) => {
    res
      .writeHead(401, { 'Content-Type': 'text/plain', 'WWW-Authenticate': 'Basic realm="Trino"' })
      .end(message);
    return undefined;
  };
  if (password !== undefined) {
    if (!basic) return refuse('Unauthorized');
    if (basic.password !== password) return refuse('Access Denied: Invalid credentials');
    return basic.user;
  }
  if (basic?.password) return refuse('Password not allowed for insecure authentication');
  const user = basic?.user || header(req, 'x-trino-user');
  if (!user) return refuse('Basic authentication or X-Trino-User must be sent');
  return user;
}

function basicCredentials(authorization: string | undefined): { user: string; password: string } | undefined {
  const m = /^Basic\s+(.+)$/i.exec(authorization ?? '');
  if (!m) return undefined;
  const decoded = Buffer.from(m[1]!, 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  return colon < 0
    ? { user: decoded, password: '' }
    : { user: decoded.slice(0, colon), password: decoded.slice(colon + 1) };
}

async function execute(
  duckdb: DuckDBConnection,
  sql: string,
  schema: string | undefined,
  pageSize: number,
): Promise<Outcome> {
  try {
    // The session schema resolves unqualified names, when DuckDB has a schema of that name.
    const known = schema
      ? (
          await duckdb.runAndReadAll(
            `SELECT 1 FROM information_schema.schemata WHERE schema_name = '${schema.replaceAll("'", "''")}'`,
          )
        ).currentRowCount > 0
      : false;
    await duckdb.run(`SET search_path = '${known ? schema!.replaceAll("'", "''") : 'main'}'`);
    const result = await duckdb.runAndReadAll(sql);
    const types = result.columnTypes().map(trinoType);
    const columns = result
      .columnNames()
      .map((name, i) => ({ name, type: types[i]!.type, typeSignature: types[i]!.typeSignature }));
    const rows = result
      .getRows()
      .map((row) => row.map((value, i) => (value === null ? null : types[i]!.encode(value))));
    const pages: unknown[][][] = [];
    for (let i = 0; i < rows.length; i += pageSize) pages.push(rows.slice(i, i + pageSize));
    const verb =
      /^\s*(create table|create schema|create view|insert|delete|update|drop table|drop schema)/i.exec(sql);
    return { columns, pages, ...(verb ? { updateType: verb[1]!.toUpperCase() } : {}) };
  } catch (e) {
    return { error: trinoError(e instanceof Error ? e.message : String(e)) };
  }
}

/** DuckDB's error classes, read as the nearest Trino error codes. */
function trinoError(duckdbMessage: string): TrinoError {
  const message = duckdbMessage.split('\n')[0] ?? duckdbMessage;
  const [code, name, exception] = message.startsWith('Parser Error')
    ? [1, 'SYNTAX_ERROR', 'io.trino.sql.parser.ParsingException']
    : message.startsWith('Catalog Error')
      ? [46, 'TABLE_NOT_FOUND', 'io.trino.spi.TrinoException']
      : message.startsWith('Binder Error')
        ? [47, 'COLUMN_NOT_FOUND', 'io.trino.spi.TrinoException']
        : message.startsWith('Conversion Error')
          ? [9, 'INVALID_CAST_ARGUMENT', 'io.trino.spi.TrinoException']
          : [0, 'GENERIC_USER_ERROR', 'io.trino.spi.TrinoException'];
  return {
    message,
    errorCode: code,
    errorName: name,
    errorType: 'USER_ERROR',
    failureInfo: { type: exception, message, suppressed: [], stack: [] },
  };
}

function cancelledError(): TrinoError {
  const message = 'Query was canceled';
  return {
    message,
    errorCode: 3,
    errorName: 'USER_CANCELED',
    errorType: 'USER_ERROR',
    failureInfo: { type: 'io.trino.spi.TrinoException', message, suppressed: [], stack: [] },
  };
}

const signature = (rawType: string, ...longs: number[]): TypeSignature => ({
  rawType,
  arguments: longs.map((value) => ({ kind: 'LONG' as const, value })),
});

const simple = (type: string, encode: (value: DuckDBValue) => unknown): TrinoType => ({
  type,
  typeSignature: signature(type),
  encode,
});

const asNumber = (value: DuckDBValue): unknown => Number(value as number | bigint);

/** DuckDB's column type -> Trino's type name, signature and JSON encoding of values. */
function trinoType(duck: DuckDBType): TrinoType {
  switch (duck.typeId) {
    case DuckDBTypeId.BOOLEAN:
      return simple('boolean', (v) => v);
    case DuckDBTypeId.TINYINT:
      return simple('tinyint', asNumber);
    case DuckDBTypeId.SMALLINT:
    case DuckDBTypeId.UTINYINT:
      return simple('smallint', asNumber);
    case DuckDBTypeId.INTEGER:
    case DuckDBTypeId.USMALLINT:
      return simple('integer', asNumber);
    case DuckDBTypeId.BIGINT:
    case DuckDBTypeId.UINTEGER:
    case DuckDBTypeId.UBIGINT:
    case DuckDBTypeId.HUGEINT:
    case DuckDBTypeId.UHUGEINT:
      // DuckDB sums integers into HUGEINT where Trino answers bigint.
      return simple('bigint', asNumber);
    case DuckDBTypeId.FLOAT:
      return simple('real', encodeFloat);
    case DuckDBTypeId.DOUBLE:
      return simple('double', encodeFloat);
    case DuckDBTypeId.DECIMAL: {
      const { width, scale } = duck as DuckDBDecimalType;
      return {
        type: `decimal(${width},${scale})`,
        typeSignature: signature('decimal', width, scale),
        encode: (v) => (v instanceof DuckDBDecimalValue ? v.toString() : String(v)),
      };
    }
    case DuckDBTypeId.DATE:
      return simple('date', (v) => (v instanceof DuckDBDateValue ? v.toString() : String(v)));
    case DuckDBTypeId.TIMESTAMP:
    case DuckDBTypeId.TIMESTAMP_S:
    case DuckDBTypeId.TIMESTAMP_MS:
    case DuckDBTypeId.TIMESTAMP_NS:
      return {
        type: 'timestamp(3)',
        typeSignature: signature('timestamp', 3),
        encode: (v) => timestampText(v),
      };
    case DuckDBTypeId.TIMESTAMP_TZ:
      return {
        type: 'timestamp(3) with time zone',
        typeSignature: signature('timestamp with time zone', 3),
        encode: (v) => `${timestampText(v)} UTC`,
      };
    case DuckDBTypeId.LIST: {
      const element = trinoType((duck as DuckDBListType).valueType);
      return {
        type: `array(${element.type})`,
        typeSignature: { rawType: 'array', arguments: [{ kind: 'TYPE', value: element.typeSignature }] },
        encode: (v) =>
          v instanceof DuckDBListValue
            ? v.items.map((item) => (item === null ? null : element.encode(item)))
            : String(v),
      };
    }
    default:
      return {
        type: 'varchar',
        typeSignature: signature('varchar', 2147483647),
        encode: (v) => (typeof v === 'string' ? v : String(v)),
      };
  }
}

function encodeFloat(value: DuckDBValue): unknown {
  const n = Number(value as number);
  if (Number.isNaN(n)) return 'NaN';
  if (n === Infinity) return 'Infinity';
  if (n === -Infinity) return '-Infinity';
  return n;
}

/** `2026-01-31 12:00:00.000`: Trino's text of a timestamp(3). */
function timestampText(value: DuckDBValue): string {
  let micros: bigint;
  if (value instanceof DuckDBTimestampValue || value instanceof DuckDBTimestampTZValue) micros = value.micros;
  else if (value instanceof DuckDBTimestampMillisecondsValue) micros = value.millis * 1000n;
  else if (value instanceof DuckDBTimestampSecondsValue) micros = value.seconds * 1_000_000n;
  else if (value instanceof DuckDBTimestampNanosecondsValue) micros = value.nanos / 1000n;
  else return String(value);
  const millis = micros / 1000n - (micros % 1000n < 0n ? 1n : 0n);
  return new Date(Number(millis)).toISOString().replace('T', ' ').replace('Z', '');
}

function identity(base: string, query: QueryRecord): { id: string; infoUri: string } {
  return { id: query.id, infoUri: `${base}/ui/query.html?${query.id}` };
}

function failed(base: string, query: QueryRecord, error: TrinoError): object {
  return { ...identity(base, query), stats: stats('FAILED'), error, warnings: [] };
}

function stats(state: FakeQueryState): object {
  return {
    state,
    queued: state === 'QUEUED',
    scheduled: state !== 'QUEUED',
    nodes: state === 'QUEUED' ? 0 : 1,
    totalSplits: 0,
    queuedSplits: 0,
    runningSplits: 0,
    completedSplits: 0,
    cpuTimeMillis: 0,
    wallTimeMillis: 0,
    queuedTimeMillis: 0,
    elapsedTimeMillis: 0,
    processedRows: 0,
    processedBytes: 0,
    physicalInputBytes: 0,
    peakMemoryBytes: 0,
    spilledBytes: 0,
  };
}

/** `20260131_120000_00001_abcde`, like Trino's query ids. */
function queryId(n: number): string {
  const stamp = new Date().toISOString().replace(/[-:]/g, '').replace('T', '_').slice(0, 15);
  return `${stamp}_${String(n).padStart(5, '0')}_${randomBytes(3).toString('hex').slice(0, 5)}`;
}

function header(req: IncomingMessage, name: string): string | undefined {
  const value = req.headers[name];
  const first = Array.isArray(value) ? value[0] : value;
  return first === undefined || first === '' ? undefined : first;
}

function json(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'Content-Type': 'application/json' }).end(JSON.stringify(body));
}

function text(res: ServerResponse, status: number, body: string): void {
  res.writeHead(status, { 'Content-Type': 'text/plain' }).end(body);
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
