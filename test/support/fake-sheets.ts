/**
 * A stand-in for the Google Sheets API v4 for tests: a local HTTP server that the real
 * `@googleapis/sheets` client talks to (point it at `fake.url` with `rootUrl`). It implements
 * what the google_sheets destination uses, with the behaviour that matters:
 *
 * - `spreadsheets.get` (with a `fields` mask, `includeGridData`), `values.get`/`values.batchGet`
 *   (UNFORMATTED_VALUE typed values or FORMATTED_VALUE strings, ROWS or COLUMNS, trailing empties
 *   trimmed), `developerMetadata:search`;
 * - `batchUpdate` applied atomically in order on a copy: any invalid request rejects the whole
 *   batch with 400 (`Invalid requests[i].kind: ...`) and changes nothing. Requests: addSheet,
 *   updateSheetProperties, appendDimension, insertDimension, deleteDimension, moveDimension
 *   (rows and columns really shift, with their cells' values, notes, formats and developer
 *   metadata), updateCells (field masks; "exceeds grid limits" past the grid), repeatCell,
 *   appendCells, createDeveloperMetadata, deleteDeveloperMetadata;
 * - limits: 10,000,000 cells per spreadsheet, request payload size, a per-minute write quota
 *   answering 429 (on a fake clock), "cannot freeze/delete all rows";
 * - OAuth: bearer tokens, and a token endpoint (`POST /token`) for the service-account JWT flow
 *   that checks the assertion's RS256 signature against registered public keys;
 * - injected failures (`failNext`), a request log, and stakeholder helpers (insert/move columns,
 *   notes, formats, values) plus grid inspection.
 */
import { createVerify, randomBytes } from 'node:crypto';
import { createServer, type IncomingHttpHeaders, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

// ---- model -------------------------------------------------------------------------------------

export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
type Obj = Record<string, unknown>;

export interface ExtendedValue {
  numberValue?: number;
  stringValue?: string;
  boolValue?: boolean;
  formulaValue?: string;
  errorValue?: Obj;
}

export interface CellData {
  userEnteredValue?: ExtendedValue;
  effectiveValue?: ExtendedValue;
  userEnteredFormat?: Obj;
  note?: string;
  [key: string]: unknown;
}

export interface GridProperties {
  rowCount: number;
  columnCount: number;
  frozenRowCount?: number;
  frozenColumnCount?: number;
}

export interface SheetProperties {
  sheetId: number;
  title: string;
  index: number;
  sheetType?: string;
  gridProperties: GridProperties;
  [key: string]: unknown;
}

interface DimensionRange {
  sheetId: number;
  dimension: 'ROWS' | 'COLUMNS';
  startIndex?: number;
  endIndex?: number;
}

export interface DeveloperMetadata {
  metadataId: number;
  metadataKey: string;
  metadataValue?: string;
  visibility: 'DOCUMENT' | 'PROJECT';
  location: {
    locationType: 'ROW' | 'COLUMN' | 'SHEET' | 'SPREADSHEET';
    sheetId?: number;
    spreadsheet?: boolean;
    dimensionRange?: DimensionRange;
  };
}

interface FakeSheet {
  properties: SheetProperties;
  /** Rows of cells up to the last row ever written (the grid may be larger: missing = empty). */
  data: (CellData | undefined)[][];
}

interface FakeSpreadsheet {
  spreadsheetId: string;
  title: string;
  sheets: FakeSheet[];
  metadata: DeveloperMetadata[];
}

export type SheetValue = null | number | string | boolean;

export interface RecordedRequest {
  method: string;
  /** Decoded path, e.g. `/v4/spreadsheets/abc:batchUpdate`. */
  path: string;
  query: URLSearchParams;
  headers: IncomingHttpHeaders;
  /** Parsed JSON body (or the form fields of a token request). */
  body: unknown;
  bytes: number;
  status: number;
  /** e.g. `batchUpdate`, `get`, `values.batchGet`, `developerMetadata.search`, `token`. */
  endpoint: string;
}

export interface InjectedFailure {
  status: number;
  /** Only requests to this endpoint (default: any API request, not token requests). */
  endpoint?: string;
  /** Sent as the Retry-After header. */
  retryAfter?: string;
  /** Let this many matching requests through first. */
  skip?: number;
  /** batchUpdate only: apply the batch, then answer with the failure (an unknown outcome). */
  afterApplying?: boolean;
  message?: string;
}

export interface FakeSheetsOptions {
  /** The clock of the write quota (default Date.now). */
  now?: () => number;
  /** batchUpdate calls allowed per 60 s window (default 60; Infinity turns the quota off). */
  writeQuotaPerMinute?: number;
  /** Read calls allowed per 60 s window (default Infinity). */
  readQuotaPerMinute?: number;
  /** Cells per spreadsheet (default 10,000,000). */
  maxCells?: number;
  /** Largest request body accepted (default 10 MiB, as Google's front end). */
  maxRequestBytes?: number;
  /** Bearer tokens accepted besides those the token endpoint issues. */
  tokens?: string[];
  /** Answer 401 without a valid bearer token (default true). */
  requireAuth?: boolean;
}

class ApiFailure extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly reason = status === 400
      ? 'INVALID_ARGUMENT'
      : status === 404
        ? 'NOT_FOUND'
        : 'FAILED_PRECONDITION',
  ) {
    super(message);
  }
}

const DEFAULT_ROWS = 1000;
const DEFAULT_COLUMNS = 26;
const SHEETS_SCOPE = 'https://www.googleapis.com/auth/spreadsheets';
const GOOGLE_TOKEN_AUD = 'https://oauth2.googleapis.com/token';

// ---- the server --------------------------------------------------------------------------------

export class FakeSheets {
  readonly requests: RecordedRequest[] = [];
  private readonly spreadsheets = new Map<string, FakeSpreadsheet>();
  private readonly tokens = new Set<string>();
  private readonly serviceAccounts = new Map<string, string>();
  private readonly failures: InjectedFailure[] = [];
  private readonly writeLog: number[] = [];
  private readonly readLog: number[] = [];
  private nextMetadataId = 1000;
  private server = createServer((req, res) => void this.handle(req, res));
  url = '';
  now: () => number;
  writeQuotaPerMinute: number;
  readQuotaPerMinute: number;
  maxCells: number;
  maxRequestBytes: number;
  requireAuth: boolean;

  constructor(options: FakeSheetsOptions = {}) {
    this.now = options.now ?? Date.now;
    this.writeQuotaPerMinute = options.writeQuotaPerMinute ?? 60;
    this.readQuotaPerMinute = options.readQuotaPerMinute ?? Infinity;
    this.maxCells = options.maxCells ?? 10_000_000;
    this.maxRequestBytes = options.maxRequestBytes ?? 10 * 1024 * 1024;
    this.requireAuth = options.requireAuth ?? true;
    for (const t of options.tokens ?? []) this.tokens.add(t);
  }

  async start(): Promise<this> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    const { port } = this.server.address() as AddressInfo;
    this.url = `http://127.0.0.1:${port}/`;
    return this;
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  /** The service-account token endpoint, for a key file's `token_uri`. */
  get tokenUrl(): string {
    return `${this.url}token`;
  }

  addToken(token: string): void {
    this.tokens.add(token);
  }

  /** Registers a service account: JWT assertions signed by its key get an access token. */
  addServiceAccount(email: string, publicKeyPem: string): void {
    this.serviceAccounts.set(email, publicKeyPem);
  }

  /** Creates a spreadsheet with the given tabs (default one "Sheet1", 1000 x 26). */
  addSpreadsheet(
    spreadsheetId: string,
    sheets: {
      title: string;
      sheetId?: number;
      rowCount?: number;
      columnCount?: number;
      frozenRowCount?: number;
    }[] = [{ title: 'Sheet1' }],
  ): void {
    this.spreadsheets.set(spreadsheetId, {
      spreadsheetId,
      title: `Spreadsheet ${spreadsheetId}`,
      metadata: [],
      sheets: sheets.map((s, index) => ({
        properties: {
          sheetId: s.sheetId ?? (index === 0 ? 0 : 100 + index),
          title: s.title,
          index,
          sheetType: 'GRID',
          gridProperties: {
            rowCount: s.rowCount ?? DEFAULT_ROWS,
            columnCount: s.columnCount ?? DEFAULT_COLUMNS,
            ...(s.frozenRowCount ? { frozenRowCount: s.frozenRowCount } : {}),
          },
        },
        data: [],
      })),
    });
  }

  /** The next matching request fails with `failure.status` (queued in order). */
  failNext(failure: InjectedFailure, times = 1): void {
    for (let i = 0; i < times; i++) this.failures.push(failure);
  }

  // ---- inspection ----

  /** Recorded requests to one endpoint (`batchUpdate`, `get`, `values.batchGet`, ...). */
  calls(endpoint: string): RecordedRequest[] {
    return this.requests.filter((r) => r.endpoint === endpoint);
  }

  /** The `requests` arrays of the batchUpdate calls that succeeded, in order. */
  appliedBatches(): Obj[][] {
    return this.calls('batchUpdate')
      .filter((r) => r.status === 200)
      .map((r) => ((r.body as Obj).requests ?? []) as Obj[]);
  }

  spreadsheet(spreadsheetId: string): FakeSpreadsheet {
    const ss = this.spreadsheets.get(spreadsheetId);
    if (!ss) throw new Error(`no spreadsheet ${spreadsheetId}`);
    return ss;
  }

  sheet(spreadsheetId: string, title: string): SheetProperties | undefined {
    return this.spreadsheet(spreadsheetId).sheets.find((s) => s.properties.title === title)?.properties;
  }

  /** The tab's values (user-entered, typed), trimmed of trailing empty rows and cells. */
  values(spreadsheetId: string, title: string): SheetValue[][] {
    const sheet = findSheet(this.spreadsheet(spreadsheetId), title);
    const g = sheet.properties.gridProperties;
    return renderLines(sheet, 0, g.rowCount, 0, g.columnCount, 'ROWS', 'UNFORMATTED_VALUE');
  }

  cell(spreadsheetId: string, title: string, row: number, column: number): CellData | undefined {
    return findSheet(this.spreadsheet(spreadsheetId), title).data[row]?.[column];
  }

  developerMetadata(spreadsheetId: string): DeveloperMetadata[] {
    return this.spreadsheet(spreadsheetId).metadata;
  }

  totalCells(spreadsheetId: string): number {
    return cellCount(this.spreadsheet(spreadsheetId));
  }

  // ---- acting as a stakeholder (directly, no quota, atomic like a batchUpdate) ----

  apply(spreadsheetId: string, requests: Obj[]): void {
    const ss = this.spreadsheet(spreadsheetId);
    const copy = structuredClone(ss);
    applyRequests(copy, requests, this);
    this.spreadsheets.set(spreadsheetId, copy);
  }

  stakeholder(spreadsheetId: string, title: string) {
    const sheetId = () => findSheet(this.spreadsheet(spreadsheetId), title).properties.sheetId;
    const cellAt = (row: number, column: number, cell: Obj, fields: string) =>
      this.apply(spreadsheetId, [
        {
          updateCells: {
            start: { sheetId: sheetId(), rowIndex: row, columnIndex: column },
            rows: [{ values: [cell] }],
            fields,
          },
        },
      ]);
    return {
      insertColumns: (index: number, count = 1) =>
        this.apply(spreadsheetId, [
          {
            insertDimension: {
              range: { sheetId: sheetId(), dimension: 'COLUMNS', startIndex: index, endIndex: index + count },
              inheritFromBefore: false,
            },
          },
        ]),
      insertRows: (index: number, count = 1) =>
        this.apply(spreadsheetId, [
          {
            insertDimension: {
              range: { sheetId: sheetId(), dimension: 'ROWS', startIndex: index, endIndex: index + count },
              inheritFromBefore: false,
            },
          },
        ]),
      /** Moves columns [start, end) so they start at `destination` (coordinates before removal). */
      moveColumns: (start: number, end: number, destination: number) =>
        this.apply(spreadsheetId, [
          {
            moveDimension: {
              source: { sheetId: sheetId(), dimension: 'COLUMNS', startIndex: start, endIndex: end },
              destinationIndex: destination,
            },
          },
        ]),
      setValue: (row: number, column: number, value: SheetValue) =>
        cellAt(
          row,
          column,
          value === null ? {} : { userEnteredValue: toExtended(value) },
          'userEnteredValue',
        ),
      setNote: (row: number, column: number, note: string) => cellAt(row, column, { note }, 'note'),
      setFormat: (row: number, column: number, format: Obj) =>
        cellAt(row, column, { userEnteredFormat: format }, 'userEnteredFormat'),
    };
  }

  // ---- HTTP ----

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const raw = Buffer.concat(chunks);
    const url = new URL(req.url ?? '/', 'http://localhost');
    const path = decodeURIComponent(url.pathname);
    const record: RecordedRequest = {
      method: req.method ?? 'GET',
      path,
      query: url.searchParams,
      headers: req.headers,
      body: undefined,
      bytes: raw.length,
      status: 0,
      endpoint: 'unknown',
    };
    this.requests.push(record);
    const send = (status: number, body: unknown, headers: Record<string, string> = {}) => {
      record.status = status;
      res.writeHead(status, { 'content-type': 'application/json; charset=UTF-8', ...headers });
      res.end(JSON.stringify(body));
    };
    try {
      if (path === '/token' && req.method === 'POST') {
        record.endpoint = 'token';
        const form = new URLSearchParams(raw.toString('utf8'));
        record.body = Object.fromEntries(form);
        const result = this.issueToken(form);
        send(result.status, result.body);
        return;
      }
      const match = /^\/v4\/spreadsheets\/([^/:]+)(.*)$/.exec(path);
      if (!match) throw new ApiFailure(404, `Method not found: ${req.method} ${path}`, 'NOT_FOUND');
      const [, spreadsheetId, rest] = match as unknown as [string, string, string];
      const endpoint = endpointOf(req.method ?? 'GET', rest);
      record.endpoint = endpoint;
      if (raw.length > this.maxRequestBytes)
        throw new ApiFailure(400, `Request payload size exceeds the limit: ${this.maxRequestBytes} bytes.`);
      record.body = raw.length > 0 ? JSON.parse(raw.toString('utf8')) : undefined;

      if (this.requireAuth) {
        const auth = req.headers.authorization ?? '';
        const token = auth.startsWith('Bearer ') ? auth.slice(7) : '';
        if (!this.tokens.has(token)) {
          throw new ApiFailure(
            401,
            'Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie or other valid authentication credential.',
            'UNAUTHENTICATED',
          );
        }
      }
      const failureIndex = this.failures.findIndex((f) => !f.endpoint || f.endpoint === endpoint);
      let failure = failureIndex >= 0 ? this.failures[failureIndex] : undefined;
      if (failure?.skip) {
        this.failures[failureIndex] = { ...failure, skip: failure.skip - 1 };
        failure = undefined;
      } else if (failure) this.failures.splice(failureIndex, 1);
      if (failure && !failure.afterApplying) {
        send(failure.status, errorBody(failure.status, failure.message ?? 'Injected failure'), {
          ...(failure.retryAfter ? { 'retry-after': failure.retryAfter } : {}),
        });
        return;
      }
      const isWrite = endpoint === 'batchUpdate';
      const log = isWrite ? this.writeLog : this.readLog;
      const quota = isWrite ? this.writeQuotaPerMinute : this.readQuotaPerMinute;
      const now = this.now();
      while (log.length > 0 && log[0]! <= now - 60_000) log.shift();
      if (log.length >= quota) {
        const kind = isWrite ? 'Write' : 'Read';
        throw new ApiFailure(
          429,
          `Quota exceeded for quota metric '${kind} requests' and limit '${kind} requests per minute per user' of service 'sheets.googleapis.com' for consumer 'project_number:0'.`,
          'RESOURCE_EXHAUSTED',
        );
      }
      log.push(now);

      const ss = this.spreadsheets.get(spreadsheetId);
      if (!ss) throw new ApiFailure(404, 'Requested entity was not found.', 'NOT_FOUND');
      if (endpoint === 'values.get') url.searchParams.set('__range', rest.slice('/values/'.length));
      const result = this.route(endpoint, ss, url.searchParams, record.body as Obj | undefined);
      if (failure) {
        send(failure.status, errorBody(failure.status, failure.message ?? 'Injected failure after applying'));
        return;
      }
      send(200, result);
    } catch (error) {
      if (error instanceof ApiFailure) {
        send(error.status, {
          error: { code: error.status, message: error.message, status: error.reason },
        });
      } else {
        send(500, errorBody(500, `fake-sheets bug: ${(error as Error).stack ?? String(error)}`));
      }
    }
  }

  private route(
    endpoint: string,
    ss: FakeSpreadsheet,
    query: URLSearchParams,
    body: Obj | undefined,
  ): unknown {
    switch (endpoint) {
      case 'get':
        return this.get(ss, query);
      case 'batchUpdate':
        return this.batchUpdate(ss, body ?? {});
      case 'developerMetadata.search':
        return searchMetadata(ss, body ?? {});
      case 'values.batchGet': {
        const ranges = query.getAll('ranges');
        return {
          spreadsheetId: ss.spreadsheetId,
          valueRanges: ranges.map((r) => readValues(ss, r, query)),
        };
      }
      case 'values.get':
        return readValues(ss, query.get('__range') ?? '', query);
      default:
        throw new ApiFailure(404, `Method not found: ${endpoint}`, 'NOT_FOUND');
    }
  }

  private get(ss: FakeSpreadsheet, query: URLSearchParams): unknown {
    const includeGridData = query.get('includeGridData') === 'true';
    const ranges = query.getAll('ranges');
    let sheets = ss.sheets;
    if (ranges.length > 0) {
      const titles = new Set(ranges.map((r) => parseRange(ss, r).sheet.properties.title));
      sheets = sheets.filter((s) => titles.has(s.properties.title));
    }
    const body = {
      spreadsheetId: ss.spreadsheetId,
      properties: { title: ss.title, locale: 'en_US', timeZone: 'Etc/GMT' },
      sheets: sheets.map((s) => ({
        properties: proto3(structuredClone(s.properties)),
        ...(includeGridData
          ? {
              data: [
                {
                  rowData: s.data.map((row) => ({
                    values: (row ?? []).map((c) => structuredClone(c ?? {})),
                  })),
                },
              ],
            }
          : {}),
      })),
    };
    const fields = query.get('fields');
    return fields ? applyMask(body, parseMask(fields)) : body;
  }

  private batchUpdate(ss: FakeSpreadsheet, body: Obj): unknown {
    const requests = body.requests;
    if (!Array.isArray(requests) || requests.length === 0)
      throw new ApiFailure(400, 'Must specify at least one request.');
    // Atomic: applied to a copy that replaces the spreadsheet only when every request succeeded.
    const copy = structuredClone(ss);
    const replies = applyRequests(copy, requests as Obj[], this);
    const cells = cellCount(copy);
    if (cells > this.maxCells) {
      throw new ApiFailure(
        400,
        `Invalid requests: This action would increase the number of cells in the workbook above the limit of ${this.maxCells} cells.`,
      );
    }
    this.spreadsheets.set(ss.spreadsheetId, copy);
    return { spreadsheetId: ss.spreadsheetId, replies };
  }

  /** @internal */
  allocateMetadataId(ss: FakeSpreadsheet): number {
    let id = this.nextMetadataId++;
    while (ss.metadata.some((m) => m.metadataId === id)) id = this.nextMetadataId++;
    return id;
  }

  private issueToken(form: URLSearchParams): { status: number; body: unknown } {
    const fail = (description: string) => ({
      status: 400,
      body: { error: 'invalid_grant', error_description: description },
    });
    if (form.get('grant_type') !== 'urn:ietf:params:oauth:grant-type:jwt-bearer')
      return fail('Invalid grant_type.');
    const assertion = form.get('assertion') ?? '';
    const parts = assertion.split('.');
    if (parts.length !== 3) return fail('Invalid JWT.');
    const [h, p, sig] = parts as [string, string, string];
    let header: Obj;
    let payload: Obj;
    try {
      header = JSON.parse(Buffer.from(h, 'base64url').toString('utf8'));
      payload = JSON.parse(Buffer.from(p, 'base64url').toString('utf8'));
    } catch {
      return fail('Invalid JWT.');
    }
    if (header.alg !== 'RS256') return fail('Invalid JWT signature algorithm.');
    const key = this.serviceAccounts.get(String(payload.iss));
    if (!key) return fail('Invalid JWT: unknown service account.');
    const verifier = createVerify('RSA-SHA256');
    verifier.update(`${h}.${p}`);
    if (!verifier.verify(key, Buffer.from(sig, 'base64url'))) return fail('Invalid JWT Signature.');
    if (payload.aud !== GOOGLE_TOKEN_AUD) return fail('Invalid JWT: bad audience.');
    if (typeof payload.exp !== 'number' || payload.exp * 1000 < Date.now())
      return fail('Invalid JWT: Token must be a short-lived token.');
    if (
      !String(payload.scope ?? '')
        .split(' ')
        .includes(SHEETS_SCOPE)
    )
      return fail('Invalid JWT: scope missing.');
    const token = `ya29.fake-${randomBytes(12).toString('hex')}`;
    this.tokens.add(token);
    return { status: 200, body: { access_token: token, token_type: 'Bearer', expires_in: 3599 } };
  }
}

/**
 * Proto3 JSON as Google sends it: numeric fields equal to 0 and false booleans are left out
 * (the first sheet's `sheetId: 0`, column A's `startIndex: 0`, `index: 0`). Used on sheet
 * properties and developer metadata, never on cell values (a oneof keeps its zero).
 */
function proto3<T>(value: T): T {
  if (Array.isArray(value)) return value.map(proto3) as T;
  if (value && typeof value === 'object') {
    const out: Obj = {};
    for (const [k, v] of Object.entries(value)) {
      if (v === 0 || v === false) continue;
      out[k] = proto3(v);
    }
    return out as T;
  }
  return value;
}

function errorBody(status: number, message: string): unknown {
  const reason =
    status === 429
      ? 'RESOURCE_EXHAUSTED'
      : status === 503
        ? 'UNAVAILABLE'
        : status >= 500
          ? 'INTERNAL'
          : 'FAILED_PRECONDITION';
  return { error: { code: status, message, status: reason } };
}

function endpointOf(method: string, rest: string): string {
  if (rest === '' && method === 'GET') return 'get';
  if (rest === ':batchUpdate' && method === 'POST') return 'batchUpdate';
  if (rest === '/developerMetadata:search' && method === 'POST') return 'developerMetadata.search';
  if (rest === '/values:batchGet' && method === 'GET') return 'values.batchGet';
  if (rest.startsWith('/values/') && method === 'GET') return 'values.get';
  return `${method} ${rest}`;
}

// ---- field masks -------------------------------------------------------------------------------

type Mask = Map<string, Mask | true>;

/** Parses a partial-response mask like `sheets(properties(sheetId,title)),spreadsheetId`. */
export function parseMask(text: string): Mask {
  let i = 0;
  const parseList = (): Mask => {
    const mask: Mask = new Map();
    for (;;) {
      parseItem(mask);
      if (text[i] === ',') {
        i++;
        continue;
      }
      return mask;
    }
  };
  const parseItem = (into: Mask) => {
    let name = '';
    while (i < text.length && /[A-Za-z0-9_.*]/.test(text[i]!)) name += text[i++];
    if (!name) throw new ApiFailure(400, `Invalid field selection ${text}`);
    let sub: Mask | true = true;
    if (text[i] === '/') {
      i++;
      sub = new Map();
      parseItem(sub);
    } else if (text[i] === '(') {
      i++;
      sub = parseList();
      if (text[i] !== ')') throw new ApiFailure(400, `Invalid field selection ${text}`);
      i++;
    }
    const existing = into.get(name);
    into.set(name, existing && existing !== true && sub !== true ? mergeMasks(existing, sub) : sub);
  };
  const mask = parseList();
  if (i !== text.length) throw new ApiFailure(400, `Invalid field selection ${text}`);
  return mask;
}

function mergeMasks(a: Mask, b: Mask): Mask {
  const out: Mask = new Map(a);
  for (const [k, v] of b) {
    const e = out.get(k);
    out.set(k, e && e !== true && v !== true ? mergeMasks(e, v) : e === true || v === true ? true : v);
  }
  return out;
}

function applyMask(value: unknown, mask: Mask | true): unknown {
  if (mask === true || value === null || typeof value !== 'object') return value;
  if (Array.isArray(value)) return value.map((v) => applyMask(v, mask));
  if (mask.has('*')) return value;
  const out: Obj = {};
  for (const [key, sub] of mask) {
    const v = (value as Obj)[key];
    if (v !== undefined) out[key] = applyMask(v, sub);
  }
  return out;
}

/** Applies dotted field paths (`userEnteredFormat.numberFormat`) from `source` onto `target`. */
function applyFields(target: Obj, source: Obj, fields: string): void {
  const paths = fields
    .split(',')
    .map((f) => f.trim())
    .filter(Boolean);
  if (paths.length === 0) throw new ApiFailure(400, 'At least one field must be specified.');
  for (const path of paths) {
    if (path === '*') {
      for (const k of Object.keys(target)) delete target[k];
      Object.assign(target, structuredClone(source));
      continue;
    }
    const keys = path.split('.');
    let from: unknown = source;
    for (const k of keys) from = from && typeof from === 'object' ? (from as Obj)[k] : undefined;
    let to: Obj = target;
    for (const k of keys.slice(0, -1)) {
      if (!to[k] || typeof to[k] !== 'object') {
        if (from === undefined) {
          to = {};
          break;
        }
        to[k] = {};
      }
      to = to[k] as Obj;
    }
    const last = keys[keys.length - 1]!;
    if (from === undefined) delete to[last];
    else to[last] = structuredClone(from);
  }
  pruneEmpty(target);
}

function pruneEmpty(o: Obj): void {
  for (const [k, v] of Object.entries(o)) {
    if (v && typeof v === 'object' && !Array.isArray(v)) {
      pruneEmpty(v as Obj);
      if (Object.keys(v).length === 0) delete o[k];
    }
  }
}

// ---- ranges and values -------------------------------------------------------------------------

function findSheet(ss: FakeSpreadsheet, title: string): FakeSheet {
  const sheet = ss.sheets.find((s) => s.properties.title === title);
  if (!sheet) throw new Error(`no sheet ${title}`);
  return sheet;
}

function sheetById(ss: FakeSpreadsheet, sheetId: unknown): FakeSheet {
  const sheet = ss.sheets.find((s) => s.properties.sheetId === sheetId);
  if (!sheet) throw new ApiFailure(400, `No grid with id: ${String(sheetId)}`);
  return sheet;
}

function columnIndex(letters: string): number {
  let n = 0;
  for (const ch of letters.toUpperCase()) n = n * 26 + (ch.charCodeAt(0) - 64);
  return n - 1;
}

function columnName(index: number): string {
  let n = index + 1;
  let out = '';
  while (n > 0) {
    const r = (n - 1) % 26;
    out = String.fromCharCode(65 + r) + out;
    n = Math.floor((n - 1) / 26);
  }
  return out;
}

interface ParsedRange {
  sheet: FakeSheet;
  r0: number;
  r1: number;
  c0: number;
  c1: number;
}

/** A1 notation: `'My tab'!B2:C`, `Tab!1:1`, `Tab!C:C`, `'Tab'`, `A1:B2` (first sheet). */
function parseRange(ss: FakeSpreadsheet, text: string): ParsedRange {
  let sheetName: string | undefined;
  let cells = '';
  const quoted = /^'((?:[^']|'')*)'(?:!(.*))?$/.exec(text);
  if (quoted) {
    sheetName = quoted[1]!.replace(/''/g, "'");
    cells = quoted[2] ?? '';
  } else if (text.includes('!')) {
    const at = text.lastIndexOf('!');
    sheetName = text.slice(0, at);
    cells = text.slice(at + 1);
  } else if (ss.sheets.some((s) => s.properties.title === text)) {
    sheetName = text;
  } else {
    cells = text;
  }
  const sheet =
    sheetName === undefined ? ss.sheets[0] : ss.sheets.find((s) => s.properties.title === sheetName);
  if (!sheet) throw new ApiFailure(400, `Unable to parse range: ${text}`);
  const g = sheet.properties.gridProperties;
  if (!cells) return { sheet, r0: 0, r1: g.rowCount, c0: 0, c1: g.columnCount };
  const [a, b] = cells.split(':');
  const point = /^([A-Za-z]*)(\d*)$/;
  const pa = point.exec(a ?? '');
  const pb = b === undefined ? pa : point.exec(b);
  if (!pa || !pb || (!pa[1] && !pa[2])) throw new ApiFailure(400, `Unable to parse range: ${text}`);
  const c0 = pa[1] ? columnIndex(pa[1]) : 0;
  const r0 = pa[2] ? Number(pa[2]) - 1 : 0;
  const c1 = pb[1] ? columnIndex(pb[1]) + 1 : g.columnCount;
  const r1 = pb[2] ? Number(pb[2]) : g.rowCount;
  if (r0 >= g.rowCount || c0 >= g.columnCount)
    throw new ApiFailure(
      400,
      `Range (${text}) exceeds grid limits. Max rows: ${g.rowCount}, max columns: ${g.columnCount}`,
    );
  return { sheet, r0, r1: Math.min(r1, g.rowCount), c0, c1: Math.min(c1, g.columnCount) };
}

function plainValue(cell: CellData | undefined, render: string): SheetValue {
  const v = cell?.userEnteredValue;
  if (!v) return null;
  const source = v.formulaValue !== undefined ? cell?.effectiveValue : v;
  if (!source) return render === 'FORMULA' ? (v.formulaValue ?? null) : '';
  const value: SheetValue =
    source.numberValue ?? source.stringValue ?? source.boolValue ?? (source.errorValue ? '#ERROR!' : null);
  if (render === 'FORMATTED_VALUE') {
    if (typeof value === 'boolean') return value ? 'TRUE' : 'FALSE';
    return value === null ? null : String(value);
  }
  return value;
}

function renderLines(
  sheet: FakeSheet,
  r0: number,
  r1: number,
  c0: number,
  c1: number,
  major: string,
  render: string,
): SheetValue[][] {
  const outer = major === 'COLUMNS' ? [c0, c1] : [r0, r1];
  const inner = major === 'COLUMNS' ? [r0, r1] : [c0, c1];
  const lines: SheetValue[][] = [];
  for (let a = outer[0]!; a < outer[1]!; a++) {
    const line: SheetValue[] = [];
    const lastRow = major === 'COLUMNS' ? Math.min(inner[1]!, sheet.data.length) : inner[1]!;
    for (let b = inner[0]!; b < lastRow; b++) {
      const [r, c] = major === 'COLUMNS' ? [b, a] : [a, b];
      line.push(plainValue(sheet.data[r]?.[c], render));
    }
    while (line.length > 0 && (line[line.length - 1] === null || line[line.length - 1] === '')) line.pop();
    lines.push(line.map((v) => (v === null ? '' : v)));
    if (major === 'ROWS' && a >= sheet.data.length) break;
  }
  while (lines.length > 0 && lines[lines.length - 1]!.length === 0) lines.pop();
  return lines;
}

function readValues(ss: FakeSpreadsheet, range: string, query: URLSearchParams): unknown {
  const parsed = parseRange(ss, range);
  const major = query.get('majorDimension') ?? 'ROWS';
  const render = query.get('valueRenderOption') ?? 'FORMATTED_VALUE';
  const lines = renderLines(parsed.sheet, parsed.r0, parsed.r1, parsed.c0, parsed.c1, major, render);
  const title = `'${parsed.sheet.properties.title.replace(/'/g, "''")}'`;
  return {
    range: `${title}!${columnName(parsed.c0)}${parsed.r0 + 1}:${columnName(parsed.c1 - 1)}${parsed.r1}`,
    majorDimension: major,
    ...(lines.length > 0 ? { values: lines } : {}),
  };
}

function toExtended(value: Exclude<SheetValue, null>): ExtendedValue {
  if (typeof value === 'number') return { numberValue: value };
  if (typeof value === 'boolean') return { boolValue: value };
  return { stringValue: value };
}

function cellCount(ss: FakeSpreadsheet): number {
  return ss.sheets.reduce(
    (n, s) => n + s.properties.gridProperties.rowCount * s.properties.gridProperties.columnCount,
    0,
  );
}

// ---- developer metadata ------------------------------------------------------------------------

function matchesLookup(m: DeveloperMetadata, lookup: Obj): boolean {
  if (lookup.metadataId !== undefined && m.metadataId !== lookup.metadataId) return false;
  if (lookup.metadataKey !== undefined && m.metadataKey !== lookup.metadataKey) return false;
  if (lookup.metadataValue !== undefined && m.metadataValue !== lookup.metadataValue) return false;
  if (lookup.visibility !== undefined && m.visibility !== lookup.visibility) return false;
  if (lookup.locationType !== undefined && m.location.locationType !== lookup.locationType) return false;
  const where = lookup.metadataLocation as Obj | undefined;
  if (where) {
    if (where.spreadsheet === true && m.location.locationType !== 'SPREADSHEET') return false;
    if (where.sheetId !== undefined) {
      const sheetId = m.location.sheetId ?? m.location.dimensionRange?.sheetId;
      const intersecting = lookup.locationMatchingStrategy === 'INTERSECTING_LOCATION';
      if (sheetId !== where.sheetId || (!intersecting && m.location.locationType !== 'SHEET')) return false;
    }
    const range = where.dimensionRange as DimensionRange | undefined;
    if (range) {
      const own = m.location.dimensionRange;
      if (
        !own ||
        own.sheetId !== range.sheetId ||
        own.dimension !== range.dimension ||
        own.startIndex !== range.startIndex ||
        own.endIndex !== range.endIndex
      )
        return false;
    }
  }
  return true;
}

function lookupOf(filter: Obj): Obj {
  const lookup = filter.developerMetadataLookup as Obj | undefined;
  if (!lookup)
    throw new ApiFailure(400, 'Only developerMetadataLookup data filters are supported by this fake.');
  return lookup;
}

function searchMetadata(ss: FakeSpreadsheet, body: Obj): unknown {
  const filters = (body.dataFilters ?? []) as Obj[];
  if (filters.length === 0) throw new ApiFailure(400, 'Must specify at least one data filter.');
  const matched: { developerMetadata: DeveloperMetadata; dataFilters: Obj[] }[] = [];
  for (const m of ss.metadata) {
    const hits = filters.filter((f) => matchesLookup(m, lookupOf(f)));
    if (hits.length > 0) matched.push({ developerMetadata: proto3(structuredClone(m)), dataFilters: hits });
  }
  return matched.length > 0 ? { matchedDeveloperMetadata: matched } : {};
}

// ---- batchUpdate requests ----------------------------------------------------------------------

function applyRequests(ss: FakeSpreadsheet, requests: Obj[], server: FakeSheets): Obj[] {
  return requests.map((request, i) => {
    const kinds = Object.keys(request).filter((k) => request[k] !== undefined && request[k] !== null);
    if (kinds.length !== 1)
      throw new ApiFailure(400, `Invalid requests[${i}]: exactly one request kind must be set.`);
    const kind = kinds[0]!;
    try {
      return applyRequest(ss, kind, request[kind] as Obj, server);
    } catch (error) {
      if (error instanceof ApiFailure)
        throw new ApiFailure(error.status, `Invalid requests[${i}].${kind}: ${error.message}`);
      throw error;
    }
  });
}

function gridLimitError(sheet: FakeSheet, r: number, c: number): ApiFailure {
  const g = sheet.properties.gridProperties;
  return new ApiFailure(
    400,
    `Range ('${sheet.properties.title}'!${columnName(c)}${r + 1}) exceeds grid limits. Max rows: ${g.rowCount}, max columns: ${g.columnCount}`,
  );
}

function cellRef(sheet: FakeSheet, r: number, c: number): Obj {
  const row = (sheet.data[r] ??= []);
  return (row[c] ??= {}) as Obj;
}

function checkExtended(cell: Obj): void {
  const v = cell.userEnteredValue as Obj | undefined;
  if (!v) return;
  const kinds = Object.keys(v).filter((k) => v[k] !== undefined && v[k] !== null);
  if (kinds.length !== 1) throw new ApiFailure(400, 'ExtendedValue must have exactly one value set.');
  if (kinds[0] === 'numberValue' && (typeof v.numberValue !== 'number' || !Number.isFinite(v.numberValue)))
    throw new ApiFailure(400, 'Invalid numberValue.');
}

function gridBounds(sheet: FakeSheet, range: Obj): { r0: number; r1: number; c0: number; c1: number } {
  if (range.sheetId !== undefined && range.sheetId !== sheet.properties.sheetId)
    throw new ApiFailure(400, 'sheetId mismatch');
  const g = sheet.properties.gridProperties;
  const r0 = (range.startRowIndex as number | undefined) ?? 0;
  const r1 = (range.endRowIndex as number | undefined) ?? g.rowCount;
  const c0 = (range.startColumnIndex as number | undefined) ?? 0;
  const c1 = (range.endColumnIndex as number | undefined) ?? g.columnCount;
  if (r0 < 0 || c0 < 0 || r1 < r0 || c1 < c0) throw new ApiFailure(400, 'Invalid range.');
  if (r1 > g.rowCount || c1 > g.columnCount) throw gridLimitError(sheet, r1 - 1, c1 - 1);
  return { r0, r1, c0, c1 };
}

function checkFrozen(sheet: FakeSheet): void {
  const g = sheet.properties.gridProperties;
  if ((g.frozenRowCount ?? 0) >= g.rowCount)
    throw new ApiFailure(400, "You can't freeze all visible rows on the sheet.");
  if ((g.frozenColumnCount ?? 0) >= g.columnCount)
    throw new ApiFailure(400, "You can't freeze all visible columns on the sheet.");
}

function dimensionOf(value: unknown): 'ROWS' | 'COLUMNS' {
  if (value !== 'ROWS' && value !== 'COLUMNS')
    throw new ApiFailure(400, 'dimension must be ROWS or COLUMNS.');
  return value;
}

/** Inserts `count` empty rows/columns at `at` (cells and metadata shift). */
function insertDimension(
  ss: FakeSpreadsheet,
  sheet: FakeSheet,
  dimension: 'ROWS' | 'COLUMNS',
  at: number,
  count: number,
): void {
  const g = sheet.properties.gridProperties;
  if (dimension === 'ROWS') {
    if (at < sheet.data.length) sheet.data.splice(at, 0, ...Array.from({ length: count }, () => []));
    g.rowCount += count;
  } else {
    for (const row of sheet.data)
      if (row && at < row.length) row.splice(at, 0, ...new Array<undefined>(count));
    g.columnCount += count;
  }
  for (const m of ss.metadata) {
    const r = m.location.dimensionRange;
    if (
      r &&
      r.sheetId === sheet.properties.sheetId &&
      r.dimension === dimension &&
      (r.startIndex ?? 0) >= at
    ) {
      r.startIndex = (r.startIndex ?? 0) + count;
      r.endIndex = (r.endIndex ?? 0) + count;
    }
  }
}

function deleteDimension(
  ss: FakeSpreadsheet,
  sheet: FakeSheet,
  dimension: 'ROWS' | 'COLUMNS',
  start: number,
  end: number,
): void {
  const g = sheet.properties.gridProperties;
  const count = end - start;
  if (dimension === 'ROWS') {
    if (g.rowCount - count <= (g.frozenRowCount ?? 0))
      throw new ApiFailure(400, "You can't delete all the rows on the sheet.");
    sheet.data.splice(start, count);
    g.rowCount -= count;
  } else {
    if (g.columnCount - count <= (g.frozenColumnCount ?? 0))
      throw new ApiFailure(400, "You can't delete all the columns on the sheet.");
    for (const row of sheet.data) if (row) row.splice(start, count);
    g.columnCount -= count;
  }
  ss.metadata = ss.metadata.filter((m) => {
    const r = m.location.dimensionRange;
    if (!r || r.sheetId !== sheet.properties.sheetId || r.dimension !== dimension) return true;
    const i = r.startIndex ?? 0;
    if (i >= start && i < end) return false;
    if (i >= end) {
      r.startIndex = i - count;
      r.endIndex = (r.endIndex ?? 0) - count;
    }
    return true;
  });
}

function moveDimension(
  ss: FakeSpreadsheet,
  sheet: FakeSheet,
  dimension: 'ROWS' | 'COLUMNS',
  start: number,
  end: number,
  destination: number,
): void {
  const g = sheet.properties.gridProperties;
  const total = dimension === 'ROWS' ? g.rowCount : g.columnCount;
  if (start < 0 || end > total || start >= end || destination < 0 || destination > total)
    throw new ApiFailure(400, 'Invalid moveDimension range.');
  // Permutation of indices: old index -> new index.
  const order = Array.from({ length: total }, (_, i) => i);
  const moved = order.splice(start, end - start);
  const at = destination > start ? destination - (end - start) : destination;
  order.splice(at, 0, ...moved);
  const newIndex = new Map(order.map((old, i) => [old, i]));
  if (dimension === 'ROWS') {
    const rows = order.map((old) => sheet.data[old] ?? []);
    while (rows.length > 0 && rows[rows.length - 1]!.length === 0) rows.pop();
    sheet.data = rows;
  } else {
    sheet.data = sheet.data.map((row) => {
      if (!row) return [];
      const out = order.map((old) => row[old]);
      while (out.length > 0 && out[out.length - 1] === undefined) out.pop();
      return out;
    });
  }
  for (const m of ss.metadata) {
    const r = m.location.dimensionRange;
    if (r && r.sheetId === sheet.properties.sheetId && r.dimension === dimension) {
      const i = newIndex.get(r.startIndex ?? 0) ?? r.startIndex ?? 0;
      r.startIndex = i;
      r.endIndex = i + 1;
    }
  }
}

function applyRequest(ss: FakeSpreadsheet, kind: string, body: Obj, server: FakeSheets): Obj {
  switch (kind) {
    case 'addSheet': {
      const props = (body.properties ?? {}) as Obj;
      const title = String(props.title ?? `Sheet${ss.sheets.length + 1}`);
      if (ss.sheets.some((s) => s.properties.title.toLowerCase() === title.toLowerCase()))
        throw new ApiFailure(
          400,
          `A sheet with the name "${title}" already exists. Please enter another name.`,
        );
      let sheetId = props.sheetId as number | undefined;
      if (sheetId !== undefined && (sheetId < 0 || ss.sheets.some((s) => s.properties.sheetId === sheetId)))
        throw new ApiFailure(400, `A sheet with id ${sheetId} already exists.`);
      sheetId ??= Math.floor(Math.random() * 2 ** 30) + 1;
      const gp = (props.gridProperties ?? {}) as Partial<GridProperties>;
      const sheet: FakeSheet = {
        properties: {
          sheetId,
          title,
          index: ss.sheets.length,
          sheetType: 'GRID',
          gridProperties: {
            rowCount: gp.rowCount ?? DEFAULT_ROWS,
            columnCount: gp.columnCount ?? DEFAULT_COLUMNS,
            ...(gp.frozenRowCount ? { frozenRowCount: gp.frozenRowCount } : {}),
          },
        },
        data: [],
      };
      checkFrozen(sheet);
      ss.sheets.push(sheet);
      return { addSheet: { properties: proto3(structuredClone(sheet.properties)) } };
    }
    case 'deleteSheet': {
      const sheet = sheetById(ss, body.sheetId);
      if (ss.sheets.length === 1) throw new ApiFailure(400, "You can't remove all the sheets in a document.");
      ss.sheets = ss.sheets.filter((s) => s !== sheet);
      ss.metadata = ss.metadata.filter(
        (m) => (m.location.sheetId ?? m.location.dimensionRange?.sheetId) !== sheet.properties.sheetId,
      );
      return {};
    }
    case 'updateSheetProperties': {
      const props = (body.properties ?? {}) as Obj;
      const sheet = sheetById(ss, props.sheetId);
      applyFields(sheet.properties as unknown as Obj, props, String(body.fields ?? ''));
      sheet.properties.sheetId = props.sheetId as number;
      checkFrozen(sheet);
      return {};
    }
    case 'appendDimension': {
      const sheet = sheetById(ss, body.sheetId);
      const length = Number(body.length);
      if (!Number.isInteger(length) || length <= 0) throw new ApiFailure(400, 'length must be positive.');
      const dimension = dimensionOf(body.dimension);
      const g = sheet.properties.gridProperties;
      insertDimension(ss, sheet, dimension, dimension === 'ROWS' ? g.rowCount : g.columnCount, length);
      return {};
    }
    case 'insertDimension': {
      const range = (body.range ?? {}) as Obj;
      const sheet = sheetById(ss, range.sheetId);
      const dimension = dimensionOf(range.dimension);
      const start = Number(range.startIndex);
      const end = Number(range.endIndex);
      const g = sheet.properties.gridProperties;
      const total = dimension === 'ROWS' ? g.rowCount : g.columnCount;
      if (!Number.isInteger(start) || !Number.isInteger(end) || start < 0 || end <= start)
        throw new ApiFailure(400, 'Invalid dimension range.');
      if (start >= total)
        throw new ApiFailure(
          400,
          `startIndex ${start} is beyond the ${total} ${dimension.toLowerCase()} of the sheet; use appendDimension.`,
        );
      if (body.inheritFromBefore === true && start === 0)
        throw new ApiFailure(400, 'Cannot inherit properties from before the first row/column.');
      insertDimension(ss, sheet, dimension, start, end - start);
      return {};
    }
    case 'deleteDimension': {
      const range = (body.range ?? {}) as Obj;
      const sheet = sheetById(ss, range.sheetId);
      const dimension = dimensionOf(range.dimension);
      const g = sheet.properties.gridProperties;
      const total = dimension === 'ROWS' ? g.rowCount : g.columnCount;
      const start = Number(range.startIndex ?? 0);
      const end = Number(range.endIndex ?? total);
      if (start < 0 || end <= start || end > total) throw new ApiFailure(400, 'Invalid dimension range.');
      deleteDimension(ss, sheet, dimension, start, end);
      return {};
    }
    case 'moveDimension': {
      const source = (body.source ?? {}) as Obj;
      const sheet = sheetById(ss, source.sheetId);
      moveDimension(
        ss,
        sheet,
        dimensionOf(source.dimension),
        Number(source.startIndex),
        Number(source.endIndex),
        Number(body.destinationIndex),
      );
      return {};
    }
    case 'updateCells': {
      const fields = String(body.fields ?? '');
      if (!fields) throw new ApiFailure(400, 'At least one field must be specified.');
      const rows = (body.rows ?? []) as Obj[];
      const start = body.start as Obj | undefined;
      const range = body.range as Obj | undefined;
      if (!!start === !!range) throw new ApiFailure(400, 'Exactly one of start or range must be set.');
      const sheet = sheetById(ss, (start ?? range)!.sheetId);
      const g = sheet.properties.gridProperties;
      if (start) {
        const r0 = Number(start.rowIndex ?? 0);
        const c0 = Number(start.columnIndex ?? 0);
        rows.forEach((row, dr) => {
          const values = (row.values ?? []) as Obj[];
          values.forEach((cell, dc) => {
            const r = r0 + dr;
            const c = c0 + dc;
            if (r >= g.rowCount || c >= g.columnCount) throw gridLimitError(sheet, r, c);
          });
        });
        rows.forEach((row, dr) =>
          ((row.values ?? []) as Obj[]).forEach((cell, dc) => {
            checkExtended(cell);
            applyFields(cellRef(sheet, r0 + dr, c0 + dc), cell, fields);
          }),
        );
      } else {
        const b = gridBounds(sheet, range!);
        if (rows.length > b.r1 - b.r0) throw gridLimitError(sheet, b.r0 + rows.length - 1, b.c0);
        for (let r = b.r0; r < b.r1; r++) {
          const values = (rows[r - b.r0]?.values ?? []) as Obj[];
          if (values.length > b.c1 - b.c0) throw gridLimitError(sheet, r, b.c0 + values.length - 1);
          for (let c = b.c0; c < b.c1; c++) {
            const cell = values[c - b.c0] ?? {};
            checkExtended(cell);
            applyFields(cellRef(sheet, r, c), cell, fields);
          }
        }
      }
      return {};
    }
    case 'repeatCell': {
      const range = (body.range ?? {}) as Obj;
      const sheet = sheetById(ss, range.sheetId);
      const b = gridBounds(sheet, range);
      const cell = (body.cell ?? {}) as Obj;
      checkExtended(cell);
      for (let r = b.r0; r < b.r1; r++)
        for (let c = b.c0; c < b.c1; c++) applyFields(cellRef(sheet, r, c), cell, String(body.fields ?? ''));
      return {};
    }
    case 'appendCells': {
      const sheet = sheetById(ss, body.sheetId);
      const rows = (body.rows ?? []) as Obj[];
      let last = sheet.data.length - 1;
      while (last >= 0 && !(sheet.data[last] ?? []).some((c) => c?.userEnteredValue)) last--;
      const at = last + 1;
      const g = sheet.properties.gridProperties;
      const need = at + rows.length - g.rowCount;
      if (need > 0) insertDimension(ss, sheet, 'ROWS', g.rowCount, need);
      rows.forEach((row, dr) =>
        ((row.values ?? []) as Obj[]).forEach((cell, dc) => {
          if (dc >= g.columnCount) throw gridLimitError(sheet, at + dr, dc);
          checkExtended(cell);
          applyFields(cellRef(sheet, at + dr, dc), cell, String(body.fields ?? ''));
        }),
      );
      return {};
    }
    case 'createDeveloperMetadata': {
      const dm = (body.developerMetadata ?? {}) as Obj;
      if (!dm.metadataKey) throw new ApiFailure(400, 'Developer metadata must have a key.');
      if (dm.visibility !== 'DOCUMENT' && dm.visibility !== 'PROJECT')
        throw new ApiFailure(400, 'Developer metadata must have a visibility.');
      const location = (dm.location ?? {}) as Obj;
      let stored: DeveloperMetadata['location'];
      if (location.dimensionRange) {
        const r = location.dimensionRange as DimensionRange;
        const sheet = sheetById(ss, r.sheetId);
        const dimension = dimensionOf(r.dimension);
        const g = sheet.properties.gridProperties;
        const total = dimension === 'ROWS' ? g.rowCount : g.columnCount;
        const startIndex = r.startIndex ?? -1;
        if (startIndex < 0 || r.endIndex !== startIndex + 1)
          throw new ApiFailure(400, 'The specified DimensionRange must represent a single row or column.');
        if (startIndex >= total)
          throw gridLimitError(
            sheet,
            dimension === 'ROWS' ? startIndex : 0,
            dimension === 'ROWS' ? 0 : startIndex,
          );
        stored = {
          locationType: dimension === 'ROWS' ? 'ROW' : 'COLUMN',
          dimensionRange: { sheetId: r.sheetId, dimension, startIndex, endIndex: startIndex + 1 },
        };
      } else if (location.sheetId !== undefined) {
        sheetById(ss, location.sheetId);
        stored = { locationType: 'SHEET', sheetId: location.sheetId as number };
      } else if (location.spreadsheet === true) {
        stored = { locationType: 'SPREADSHEET', spreadsheet: true };
      } else throw new ApiFailure(400, 'Developer metadata must have a location.');
      let metadataId = dm.metadataId as number | undefined;
      if (
        metadataId !== undefined &&
        (metadataId <= 0 || ss.metadata.some((m) => m.metadataId === metadataId))
      )
        throw new ApiFailure(400, `Developer metadata with id ${metadataId} already exists.`);
      metadataId ??= server.allocateMetadataId(ss);
      const created: DeveloperMetadata = {
        metadataId,
        metadataKey: String(dm.metadataKey),
        ...(dm.metadataValue !== undefined ? { metadataValue: String(dm.metadataValue) } : {}),
        visibility: dm.visibility,
        location: stored,
      };
      ss.metadata.push(created);
      return { createDeveloperMetadata: { developerMetadata: proto3(structuredClone(created)) } };
    }
    case 'deleteDeveloperMetadata': {
      const lookup = lookupOf((body.dataFilter ?? {}) as Obj);
      const deleted = ss.metadata.filter((m) => matchesLookup(m, lookup));
      ss.metadata = ss.metadata.filter((m) => !deleted.includes(m));
      return { deleteDeveloperMetadata: { deletedDeveloperMetadata: structuredClone(deleted) } };
    }
    default:
      throw new ApiFailure(400, `request kind ${kind} is not supported by this fake.`);
  }
}
