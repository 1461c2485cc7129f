/**
 * `type: google_sheets`: a tab of a Google spreadsheet, written with typed cells (spec §6, §7)
 * through the Sheets API v4 (`@googleapis/sheets`, its own retry off: every call goes through
 * `withRetry` and the shared rate limiter).
 *
 * - replace: one atomic `spreadsheets.batchUpdate` resizes the grid to the result, writes the
 *   header and every cell, clears what is left, sets number formats and the frozen header row.
 *   A result whose request exceeds the payload budget (~2 MB, Google's recommendation) is written
 *   by several batchUpdates in order (grid and header first, then rows, then the shrink): readers
 *   may then briefly see a partial state (new rows above old ones). Every call is atomic on its
 *   own, and a failure in between is repaired by the next run (replace rewrites everything).
 * - upsert: reads the tab (the tracker's columns only, found by `strata:column` developer
 *   metadata wherever stakeholders moved them, else by header label), then writes only cells
 *   whose typed value changed, inserts rows for new keys below the tracker's rows, and deletes
 *   rows of vanished keys bottom-up (`onMissing: delete`). Rows are never rewritten, sorted or
 *   moved, so stakeholders' own columns, notes and formats stay on the same key's row.
 * - append: inserts the rows below the last row of the tracker's columns and marks each appended
 *   chunk's first row with `strata:run=<runId>` in the same atomic call: a retried job with the
 *   same runId finds the marker and does not append again.
 *
 * Before any write, a result that would take the spreadsheet beyond 10,000,000 cells is refused.
 * A write whose outcome is unknown (5xx or a network failure on a call that inserts or deletes)
 * is not re-sent blindly: the tab is read again and the remaining work re-planned.
 */
import { createHash, randomInt } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { sheets as sheetsClient, type sheets_v4 } from '@googleapis/sheets';
import { JWT, OAuth2Client } from 'google-auth-library';
import type { GoogleSheetsDestination as SheetsDefinition } from '../core/definitions/schema.js';
import { registerSecrets, resolveSecret } from '../engines/secrets.js';
import type {
  ApiCall,
  Destination,
  DestinationContext,
  SyncTable,
  WritePlan,
  WriteResult,
} from './destination.js';
import { DestinationError, observedRetry, withUsage } from './destination.js';
import { HttpError, backoffDelay, parseRetryAfter, withRetry, type RetryOptions } from './http.js';
import { columnLetter, quoteTitle, readValue, type SheetValue } from './google-sheets/cells.js';
import {
  COLUMN_KEY,
  FORMAT_KEY,
  MAX_SPREADSHEET_CELLS,
  PlanError,
  RUN_KEY,
  packBatches,
  planSync,
  type Batch,
  type MetaInfo,
  type ReadState,
  type SheetsPlan,
  type TabInfo,
} from './google-sheets/planner.js';

export const SHEETS_SCOPE = 'https://www.googleapis.com/auth/spreadsheets';
const DEFAULT_ROOT_URL = 'https://sheets.googleapis.com/';
const GOOGLE_TOKEN_URL = 'https://oauth2.googleapis.com/token';
/** Google's recommended maximum batchUpdate payload. */
export const DEFAULT_MAX_REQUEST_BYTES = 2_000_000;
/** Sheets API quotas: 60 read and 60 write requests per minute per user (a service account is one). */
const PER_MINUTE = 60;

export interface GoogleSheetsOptions {
  env?: NodeJS.ProcessEnv;
  /** The API root (default `STRATA_SHEETS_ROOT_URL`, else https://sheets.googleapis.com/). */
  rootUrl?: string;
  /** Payload budget of one batchUpdate (default 2,000,000 bytes). */
  maxRequestBytes?: number;
  /** Request timeout (default 120 s). */
  timeoutMs?: number;
}

interface Auth {
  fingerprint: string;
  client: OAuth2Client;
  /** A short hash naming the credential in limiter keys: never the secret itself. */
  credentialId: string;
}

interface Session {
  api: sheets_v4.Sheets;
  auth: Auth;
  spreadsheetId: string;
  ctx: DestinationContext;
  retry: RetryOptions;
  calls: number;
  bytes: number;
}

/** A write failed in a way that may or may not have been applied: read again and re-plan. */
class UnknownOutcome extends Error {
  constructor(readonly error: unknown) {
    super(error instanceof Error ? error.message : String(error));
    this.name = 'UnknownOutcome';
  }
}

const SHEET_FIELDS =
  'sheets(properties(sheetId,title,index,gridProperties(rowCount,columnCount,frozenRowCount)))';

export class GoogleSheetsDestination implements Destination {
  private cachedAuth?: Auth;

  constructor(
    private readonly definition: SheetsDefinition,
    private readonly options: GoogleSheetsOptions = {},
  ) {}

  describe(): string {
    const id = this.definition.spreadsheetId;
    const shown = id.startsWith('env:') || id.length <= 8 ? id : `${id.slice(0, 6)}…`;
    return `google_sheets ${shown}/${this.definition.sheet}`;
  }

  private get mode() {
    return this.definition.mode ?? 'replace';
  }

  async plan(table: SyncTable, ctx: DestinationContext): Promise<WritePlan> {
    const session = this.session(ctx);
    const { plan, batches } = await this.prepare(session, table);
    return {
      destination: this.describe(),
      creates: plan.creates,
      updates: plan.updates,
      deletes: plan.deletes,
      unchanged: plan.unchanged,
      apiCalls: batches.map(callOf),
      reads: session.calls,
      details: [
        ...plan.details,
        ...batches.map((b, i) => `batchUpdate ${i + 1}/${batches.length}: ${b.summary}`),
      ],
    };
  }

  async write(table: SyncTable, ctx: DestinationContext): Promise<WriteResult> {
    const session = this.session(ctx);
    try {
      return await this.writeSession(session, table);
    } catch (error) {
      throw withUsage(error, { apiCalls: session.calls, bytes: session.bytes });
    }
  }

  private async writeSession(session: Session, table: SyncTable): Promise<WriteResult> {
    const { ctx } = session;
    let counts: SheetsPlan | undefined;
    for (let attempt = 1; ; attempt++) {
      try {
        const { plan, batches } = await this.prepare(session, table);
        counts ??= plan;
        for (const [i, batch] of batches.entries()) {
          if (batches.length > 1)
            ctx.log.info('google_sheets: batchUpdate in parts (payload over budget)', {
              destination: this.describe(),
              part: i + 1,
              parts: batches.length,
              bytes: batch.bytes,
            });
          await this.batchUpdate(session, batch);
        }
        break;
      } catch (error) {
        if (!(error instanceof UnknownOutcome)) throw error;
        if (attempt > ctx.retry.retries) throw error.error;
        const delayMs = backoffDelay(attempt, ctx.retry, error.error);
        ctx.observer?.retried('google_sheets', 'unknown_outcome');
        ctx.log.warn('google_sheets: write outcome unknown; reading the tab again', {
          destination: this.describe(),
          attempt,
          delayMs,
          error: error.message,
        });
        await ctx.retry.sleep(delayMs);
      }
    }
    return {
      destination: this.describe(),
      created: counts.creates,
      updated: counts.updates,
      deleted: counts.deletes,
      unchanged: counts.unchanged,
      apiCalls: session.calls,
      bytes: session.bytes,
    };
  }

  private get maxBytes(): number {
    return this.options.maxRequestBytes ?? DEFAULT_MAX_REQUEST_BYTES;
  }

  // ---- reading and planning ------------------------------------------------------------------

  private async prepare(session: Session, table: SyncTable): Promise<{ plan: SheetsPlan; batches: Batch[] }> {
    const title = this.definition.sheet;
    const meta = await this.call(session, 'read', 'spreadsheets.get', undefined, (options) =>
      session.api.spreadsheets.get({ spreadsheetId: session.spreadsheetId, fields: SHEET_FIELDS }, options),
    );
    const tabs: TabInfo[] = (meta.sheets ?? []).map((s) => ({
      sheetId: s.properties?.sheetId ?? 0,
      title: s.properties?.title ?? '',
      rowCount: s.properties?.gridProperties?.rowCount ?? 0,
      columnCount: s.properties?.gridProperties?.columnCount ?? 0,
      frozenRowCount: s.properties?.gridProperties?.frozenRowCount ?? 0,
    }));
    // Sheet names are unique without regard to case.
    const tab =
      tabs.find((t) => t.title === title) ?? tabs.find((t) => t.title.toLowerCase() === title.toLowerCase());
    const state: ReadState = {
      otherCells: tabs.filter((t) => t !== tab).reduce((n, t) => n + t.rowCount * t.columnCount, 0),
      sheetIds: tabs.map((t) => t.sheetId),
      tab,
      metadata: [],
      columns: new Map(),
    };
    let mapping: (number | undefined)[] = table.columns.map(() => undefined);
    const unlabelled: number[] = [];
    if (tab) {
      state.metadata = await this.readMetadata(session, tab.sheetId);
      if (this.mode === 'replace') {
        const [rows] = await this.readRanges(session, [quoteTitle(tab.title)], 'ROWS');
        state.rows = rows ?? [];
      } else {
        mapping = table.columns.map((column) => {
          const found = state.metadata
            .filter((m) => m.key === COLUMN_KEY && m.dimension === 'COLUMNS' && m.value === column.name)
            .sort((a, b) => a.index - b.index)[0];
          return found && found.index < tab.columnCount ? found.index : undefined;
        });
        const needHeader = mapping.some((m) => m === undefined);
        await this.readColumns(session, tab, mapping, state, needHeader);
        if (needHeader) {
          // Columns without metadata: find them by their header label (first write to a tab that
          // has a header already, or metadata lost to a copy/paste).
          const header = state.header ?? [];
          const taken = new Set(mapping.filter((m): m is number => m !== undefined));
          const found: number[] = [];
          table.columns.forEach((column, i) => {
            if (mapping[i] !== undefined) return;
            const c = header.findIndex((v, c) => !taken.has(c) && readValue(v) === column.label);
            if (c >= 0) {
              mapping[i] = c;
              taken.add(c);
              found.push(c);
              unlabelled.push(c);
            }
          });
          if (found.length > 0)
            await this.readColumns(
              session,
              tab,
              found.map((c) => c),
              state,
              false,
            );
        }
      }
    }
    let plan: SheetsPlan;
    try {
      plan = planSync({
        table,
        mode: this.mode,
        key: this.definition.key,
        onMissing: this.definition.onMissing ?? 'keep',
        runId: session.ctx.runId,
        title,
        state,
        mapping,
        unlabelled,
        newSheetId: newSheetId(state.sheetIds),
        maxBytes: this.maxBytes,
      });
    } catch (error) {
      if (error instanceof PlanError) throw new DestinationError(this.describe(), error.message);
      throw error;
    }
    const batches = packBatches(plan.groups, this.maxBytes);
    // One batchUpdate is atomic: only its end state counts. Several pass through their peak.
    const cells = batches.length > 1 ? Math.max(plan.finalCells, plan.peakCells) : plan.finalCells;
    if (cells > MAX_SPREADSHEET_CELLS && batches.length > 0) {
      throw new DestinationError(
        this.describe(),
        `the spreadsheet would hold ${cells.toLocaleString('en-US')} cells, above Google Sheets' limit of ` +
          `${MAX_SPREADSHEET_CELLS.toLocaleString('en-US')}; nothing was written (trim the result or move the tab to another spreadsheet)`,
      );
    }
    return { plan, batches };
  }

  private async readMetadata(session: Session, sheetId: number): Promise<MetaInfo[]> {
    const keys = [COLUMN_KEY, FORMAT_KEY, ...(this.mode === 'append' ? [RUN_KEY] : [])];
    const found = await this.call(
      session,
      'read',
      'spreadsheets.developerMetadata.search',
      undefined,
      (options) =>
        session.api.spreadsheets.developerMetadata.search(
          {
            spreadsheetId: session.spreadsheetId,
            requestBody: {
              dataFilters: keys.map((metadataKey) => ({ developerMetadataLookup: { metadataKey } })),
            },
          },
          options,
        ),
    );
    const out: MetaInfo[] = [];
    for (const match of found.matchedDeveloperMetadata ?? []) {
      const m = match.developerMetadata;
      const range = m?.location?.dimensionRange;
      // proto3 JSON omits zeros: no sheetId means sheet 0, no startIndex means row/column 0.
      if (!m || !range || (range.sheetId ?? 0) !== sheetId || m.metadataId == null || !m.metadataKey)
        continue;
      if (range.dimension !== 'ROWS' && range.dimension !== 'COLUMNS') continue;
      out.push({
        metadataId: m.metadataId,
        key: m.metadataKey,
        value: m.metadataValue ?? '',
        dimension: range.dimension,
        index: range.startIndex ?? 0,
      });
    }
    return out;
  }

  /** Reads whole columns (header included) of the tab into state.columns, and row 0 when asked. */
  private async readColumns(
    session: Session,
    tab: TabInfo,
    columns: (number | undefined)[],
    state: ReadState,
    header: boolean,
  ): Promise<void> {
    const wanted = [...new Set(columns.filter((c): c is number => c !== undefined))].sort((a, b) => a - b);
    const runs: [number, number][] = [];
    for (const c of wanted) {
      const last = runs[runs.length - 1];
      if (last && last[1] === c) last[1] = c + 1;
      else runs.push([c, c + 1]);
    }
    const ranges = runs.map(([a, b]) => `${quoteTitle(tab.title)}!${columnLetter(a)}:${columnLetter(b - 1)}`);
    if (header) ranges.push(`${quoteTitle(tab.title)}!1:1`);
    if (ranges.length === 0) return;
    const results = await this.readRanges(session, ranges, 'COLUMNS');
    runs.forEach(([a, b], k) => {
      const cols = results[k] ?? [];
      for (let c = a; c < b; c++) state.columns.set(c, cols[c - a] ?? []);
    });
    if (header) state.header = (results[runs.length] ?? []).map((col) => readValue(col[0]));
  }

  /** values.batchGet, typed (UNFORMATTED_VALUE, dates as serial numbers). */
  private async readRanges(
    session: Session,
    ranges: string[],
    majorDimension: 'ROWS' | 'COLUMNS',
  ): Promise<SheetValue[][][]> {
    const res = await this.call(session, 'read', 'spreadsheets.values.batchGet', undefined, (options) =>
      session.api.spreadsheets.values.batchGet(
        {
          spreadsheetId: session.spreadsheetId,
          ranges,
          majorDimension,
          valueRenderOption: 'UNFORMATTED_VALUE',
          dateTimeRenderOption: 'SERIAL_NUMBER',
        },
        options,
      ),
    );
    return (res.valueRanges ?? []).map((vr) =>
      ((vr.values ?? []) as unknown[][]).map((line) => (line ?? []).map((v) => readValue(v))),
    );
  }

  // ---- writing -------------------------------------------------------------------------------

  private async batchUpdate(session: Session, batch: Batch): Promise<void> {
    const requestBody: sheets_v4.Schema$BatchUpdateSpreadsheetRequest = { requests: batch.requests };
    await this.call(
      session,
      'write',
      'spreadsheets.batchUpdate',
      requestBody,
      (options) =>
        session.api.spreadsheets.batchUpdate({ spreadsheetId: session.spreadsheetId, requestBody }, options),
      batch.structural,
    );
  }

  /**
   * One API call through the limiter and withRetry. 429 and 5xx are retried with backoff
   * (Retry-After honoured when sent); a 5xx or network failure of a structural write is not
   * retried here but surfaces as UnknownOutcome, so the caller re-reads and re-plans.
   */
  private async call<T>(
    session: Session,
    kind: 'read' | 'write',
    endpoint: string,
    body: unknown,
    send: (options: { signal?: AbortSignal }) => Promise<{ data: T }>,
    structural = false,
  ): Promise<T> {
    const { ctx } = session;
    const bytes = body === undefined ? 0 : Buffer.byteLength(JSON.stringify(body));
    return withRetry(async () => {
      await ctx.limiter.acquire(
        { key: `sheets:${kind}:${session.auth.credentialId}`, limit: PER_MINUTE, windowMs: 60_000 },
        ctx.signal,
      );
      session.calls++;
      session.bytes += bytes;
      ctx.observer?.apiCall('google_sheets');
      try {
        const res = await send(ctx.signal ? { signal: ctx.signal } : {});
        return res.data;
      } catch (error) {
        const failure = asHttpError(error, endpoint);
        if (
          structural &&
          (failure instanceof TypeError || (failure instanceof HttpError && failure.status >= 500))
        )
          throw new UnknownOutcome(failure);
        throw failure;
      }
    }, session.retry);
  }

  // ---- session and credentials ---------------------------------------------------------------

  private session(ctx: DestinationContext): Session {
    const env = this.options.env ?? ctx.env;
    let spreadsheetId: string;
    try {
      spreadsheetId = resolveSecret(this.definition.spreadsheetId, env);
    } catch (error) {
      throw new DestinationError(this.describe(), (error as Error).message);
    }
    const auth = this.auth(env);
    let rootUrl = this.options.rootUrl ?? env.STRATA_SHEETS_ROOT_URL ?? DEFAULT_ROOT_URL;
    if (!rootUrl.endsWith('/')) rootUrl += '/';
    const api = sheetsClient({
      version: 'v4',
      rootUrl,
      // The client library's auth types come from its own copy of google-auth-library.
      auth: auth.client as unknown as sheets_v4.Options['auth'],
      // Its built-in retry retries only some methods with tiny delays: withRetry owns backoff.
      retry: false,
      timeout: this.options.timeoutMs ?? 120_000,
    });
    const describe = this.describe();
    const retry: RetryOptions = {
      ...observedRetry(ctx, 'google_sheets'),
      onRetry: (info) => {
        const status = info.error instanceof HttpError ? info.error.status : undefined;
        ctx.log.warn('google_sheets: API call failed; retrying', {
          destination: describe,
          attempt: info.attempt,
          delayMs: info.delayMs,
          status,
        });
        ctx.retry.onRetry?.(info);
      },
    };
    return { api, auth, spreadsheetId, ctx, retry, calls: 0, bytes: 0 };
  }

  /** Bearer token (STRATA_GOOGLE_ACCESS_TOKEN) or service-account key file (STRATA_GOOGLE_CREDENTIALS). */
  private auth(env: NodeJS.ProcessEnv): Auth {
    const token = env.STRATA_GOOGLE_ACCESS_TOKEN;
    const keyFile = env.STRATA_GOOGLE_CREDENTIALS;
    const fingerprint = token ? `token:${hash(token)}` : keyFile ? `file:${keyFile}` : '';
    if (this.cachedAuth?.fingerprint === fingerprint) return this.cachedAuth;
    if (token) {
      const client = new OAuth2Client();
      client.setCredentials({ access_token: token });
      this.cachedAuth = { fingerprint, client, credentialId: hash(`token:${token}`) };
      return this.cachedAuth;
    }
    if (!keyFile) {
      throw new DestinationError(
        this.describe(),
        'no Google credentials: set STRATA_GOOGLE_CREDENTIALS (the path of a service account key file) ' +
          'or STRATA_GOOGLE_ACCESS_TOKEN (an OAuth access token)',
      );
    }
    let key: { client_email?: string; private_key?: string; private_key_id?: string; token_uri?: string };
    try {
      key = JSON.parse(readFileSync(keyFile, 'utf8'));
    } catch (error) {
      const reason = (error as NodeJS.ErrnoException).code ?? 'not valid JSON';
      throw new DestinationError(
        this.describe(),
        `cannot read the service account key file named by STRATA_GOOGLE_CREDENTIALS (${reason})`,
      );
    }
    if (!key.client_email || !key.private_key) {
      throw new DestinationError(
        this.describe(),
        'the file named by STRATA_GOOGLE_CREDENTIALS is not a service account key (client_email and private_key needed)',
      );
    }
    const client = new JWT({
      email: key.client_email,
      key: key.private_key,
      keyId: key.private_key_id,
      scopes: [SHEETS_SCOPE],
    });
    // The access tokens the key is exchanged for are credentials too: an echo of one is redacted.
    client.on('tokens', (tokens) => registerSecrets(tokens.access_token ? [tokens.access_token] : []));
    const tokenUri = key.token_uri;
    if (tokenUri && tokenUri !== GOOGLE_TOKEN_URL) {
      // google-auth-library always posts to Google's token URL; honour the key file's token_uri
      // (emulators, private token endpoints).
      client.transporter.interceptors.request.add({
        resolved: async (config) => {
          if (String(config.url) === GOOGLE_TOKEN_URL) config.url = new URL(tokenUri);
          return config;
        },
      });
    }
    this.cachedAuth = { fingerprint, client, credentialId: hash(`sa:${key.client_email}`) };
    return this.cachedAuth;
  }
}

function hash(text: string): string {
  return createHash('sha256').update(text).digest('hex').slice(0, 12);
}

function newSheetId(taken: number[]): number {
  const used = new Set(taken);
  for (;;) {
    const id = randomInt(1, 2 ** 31 - 1);
    if (!used.has(id)) return id;
  }
}

function callOf(batch: Batch): ApiCall {
  return {
    method: 'POST',
    endpoint: 'spreadsheets.batchUpdate',
    description: `${batch.summary} (${formatBytes(batch.bytes)})`,
  };
}

function formatBytes(n: number): string {
  return n < 1024
    ? `${n} B`
    : n < 1024 * 1024
      ? `${(n / 1024).toFixed(1)} KB`
      : `${(n / 1024 / 1024).toFixed(2)} MB`;
}

interface GaxiosLikeError {
  status?: number;
  code?: string | number;
  message?: string;
  name?: string;
  response?: { status?: number; data?: unknown; headers?: unknown };
}

/** The client's errors as HttpError (with Retry-After) or TypeError (no response: network). */
function asHttpError(error: unknown, endpoint: string): unknown {
  if (error instanceof HttpError || error instanceof DestinationError) return error;
  const e = (error ?? {}) as GaxiosLikeError;
  if (e.name === 'AbortError') return error;
  const status = e.response?.status ?? (typeof e.status === 'number' ? e.status : undefined);
  if (status === undefined) {
    return new TypeError(`Sheets API ${endpoint}: ${e.message ?? String(error)}`, { cause: error });
  }
  const data = e.response?.data as
    { error?: { message?: string } | string; error_description?: string } | undefined;
  const detail =
    typeof data?.error === 'object'
      ? data.error.message
      : typeof data?.error === 'string'
        ? `${data.error}${data.error_description ? `: ${data.error_description}` : ''}`
        : e.message;
  return new HttpError(status, `Sheets API ${endpoint}: ${status} ${detail ?? ''}`.trim(), retryAfterOf(e));
}

function retryAfterOf(e: GaxiosLikeError): number | undefined {
  const headers = e.response?.headers;
  if (!headers) return undefined;
  if (typeof (headers as Headers).get === 'function')
    return parseRetryAfter((headers as Headers).get('retry-after'));
  const value = (headers as Record<string, unknown>)['retry-after'];
  return typeof value === 'string' ? parseRetryAfter(value) : undefined;
}
