/**
 * A thin typed client for the Airtable Web API records endpoints, on `fetch`.
 *
 * Every request, retries included, first takes a slot from the shared rate limiter
 * (`airtable:<baseId>`, 5 per second: Airtable's limit per base, whatever the token). A 429
 * locks the whole base for 30 seconds on Airtable's side, so it penalizes the limiter key for
 * that long: every worker writing to the base pauses, not only the one that got the 429.
 * 429 and 5xx are retried by `withRetry`; other errors surface Airtable's own message.
 * The token goes in the Authorization header only, never in a URL, log line or error.
 */
import { observedRetry, type DestinationContext } from '../destination.js';
import { HttpError, isRetryable, parseRetryAfter, withRetry, type RetryOptions } from '../http.js';
import type { RateLimit } from '../limiter.js';

export const AIRTABLE_ENDPOINT = 'https://api.airtable.com';
/** Airtable locks a base for 30 seconds after a 429. */
export const RATE_LIMIT_PENALTY_MS = 30_000;
/** Records per create, update or delete request. */
export const RECORDS_PER_REQUEST = 10;
/** Records per list page (Airtable's maximum). */
export const MAX_PAGE_SIZE = 100;
/** Airtable refuses URLs over 16,000 characters; longer list requests go through POST .../listRecords. */
const MAX_URL_LENGTH = 15_000;

/** What `write` returns when a retry found its request already applied by an earlier attempt. */
export const ALREADY_APPLIED = Symbol('already applied');

export interface AirtableRecord {
  id: string;
  createdTime?: string;
  /** Field name to value; empty fields (and unchecked checkboxes) are absent. */
  fields: Record<string, unknown>;
}

export interface RecordsResponse {
  records: AirtableRecord[];
  offset?: string;
  /** Upsert responses: which records were created and which updated. */
  createdRecords?: string[];
  updatedRecords?: string[];
}

export interface AirtableRequest {
  method: 'GET' | 'POST' | 'PATCH' | 'DELETE';
  /** `/v0/<baseId>/<table>` or `/v0/<baseId>/<table>/listRecords`. */
  path: string;
  query?: URLSearchParams;
  body?: unknown;
}

export interface SendOptions {
  /**
   * Before retrying after an ambiguous failure (5xx, network error, timeout: the request may
   * have been applied), checks whether it was; `true` skips the retry.
   */
  alreadyApplied?: () => Promise<boolean>;
  /** A DELETE retried after an ambiguous failure that now gets 404 was applied the first time. */
  notFoundMeansApplied?: boolean;
}

export interface ClientConfig {
  endpoint: string;
  token: string;
  baseId: string;
  fetch: typeof fetch;
  timeoutMs: number;
}

export class AirtableClient {
  /** Every request sent, retries and reads included. */
  apiCalls = 0;
  /** Request bytes sent: path and query plus body. */
  bytes = 0;
  /** List requests. */
  reads = 0;
  private warned429 = false;
  private readonly retry: RetryOptions;

  constructor(
    private readonly config: ClientConfig,
    private readonly ctx: DestinationContext,
  ) {
    this.retry = observedRetry(ctx, 'airtable');
  }

  get rateLimit(): RateLimit {
    // 5 per 1,050 ms, not 1,000: a request landing a few ms late must not make 6 in Airtable's second (a 429 costs 30 s).
    return { key: `airtable:${this.config.baseId}`, limit: 5, windowMs: 1050 };
  }

  tablePath(table: string): string {
    return `/v0/${encodeURIComponent(this.config.baseId)}/${encodeURIComponent(table)}`;
  }

  /**
   * All records of a table, page by page (one request per page: the next needs this one's
   * offset). Only `fields` are returned. A long request goes through POST .../listRecords.
   */
  async *pages(
    table: string,
    options: { fields: readonly string[]; filterByFormula?: string; pageSize?: number },
  ): AsyncGenerator<AirtableRecord[]> {
    const pageSize = Math.min(options.pageSize ?? MAX_PAGE_SIZE, MAX_PAGE_SIZE);
    let offset: string | undefined;
    do {
      const query = new URLSearchParams({ pageSize: String(pageSize) });
      for (const field of options.fields) query.append('fields[]', field);
      if (options.filterByFormula) query.set('filterByFormula', options.filterByFormula);
      if (offset) query.set('offset', offset);
      const path = this.tablePath(table);
      const long = this.config.endpoint.length + path.length + 1 + query.toString().length > MAX_URL_LENGTH;
      const request: AirtableRequest = long
        ? {
            method: 'POST',
            path: `${path}/listRecords`,
            body: {
              pageSize,
              fields: options.fields,
              ...(options.filterByFormula ? { filterByFormula: options.filterByFormula } : {}),
              ...(offset ? { offset } : {}),
            },
          }
        : { method: 'GET', path, query };
      this.reads++;
      const page = await this.request<RecordsResponse>(request);
      yield page.records ?? [];
      offset = page.offset;
    } while (offset);
  }

  /** Sends one request through the limiter, with retries. */
  async request<T>(request: AirtableRequest): Promise<T> {
    return withRetry(() => this.once<T>(request), this.retry);
  }

  /** A write request, with retries that first check whether an ambiguous failure was applied. */
  async write<T>(request: AirtableRequest, options: SendOptions = {}): Promise<T | typeof ALREADY_APPLIED> {
    let lastError: unknown;
    let attempt = 0;
    return withRetry<T | typeof ALREADY_APPLIED>(async () => {
      attempt++;
      const ambiguous =
        attempt > 1 &&
        isRetryable(lastError) &&
        !(lastError instanceof HttpError && lastError.status === 429);
      if (ambiguous && options.alreadyApplied && (await options.alreadyApplied())) return ALREADY_APPLIED;
      try {
        return await this.once<T>(request);
      } catch (error) {
        if (ambiguous && options.notFoundMeansApplied && error instanceof HttpError && error.status === 404) {
          return ALREADY_APPLIED;
        }
        lastError = error;
        throw error;
      }
    }, this.retry);
  }

  private async once<T>(request: AirtableRequest): Promise<T> {
    await this.ctx.limiter.acquire(this.rateLimit, this.ctx.signal);
    const query = request.query?.toString();
    const target = query ? `${request.path}?${query}` : request.path;
    const body = request.body === undefined ? undefined : JSON.stringify(request.body);
    this.apiCalls++;
    this.ctx.observer?.apiCall('airtable');
    this.bytes += Buffer.byteLength(target) + (body ? Buffer.byteLength(body) : 0);
    const timeout = new AbortController();
    const timer = setTimeout(() => timeout.abort(), this.config.timeoutMs);
    const onAbort = (): void => timeout.abort();
    this.ctx.signal?.addEventListener('abort', onAbort, { once: true });
    let response: Response;
    let text: string;
    try {
      response = await this.config.fetch(`${this.config.endpoint}${target}`, {
        method: request.method,
        headers: {
          Authorization: `Bearer ${this.config.token}`,
          ...(body ? { 'Content-Type': 'application/json' } : {}),
        },
        body,
        signal: timeout.signal,
      });
      text = await response.text();
    } catch (error) {
      this.ctx.signal?.throwIfAborted();
      if (timeout.signal.aborted) {
        // A TypeError, like other network failures, so that withRetry retries it.
        throw new TypeError(
          `Airtable ${request.method} ${request.path}: no response in ${this.config.timeoutMs} ms`,
        );
      }
      throw error;
    } finally {
      clearTimeout(timer);
      this.ctx.signal?.removeEventListener('abort', onAbort);
    }
    if (response.ok) return (text ? JSON.parse(text) : {}) as T;

    const message = `Airtable ${request.method} ${request.path} failed: ${response.status} ${describeError(text)}`;
    const retryAfter = parseRetryAfter(response.headers.get('retry-after'));
    if (response.status === 429) {
      const waitMs = retryAfter ?? RATE_LIMIT_PENALTY_MS;
      await this.ctx.limiter.penalize(this.rateLimit.key, waitMs);
      if (!this.warned429) {
        this.warned429 = true;
        this.ctx.log.warn('Airtable rate limit reached: the base is locked, waiting before retrying', {
          baseId: this.config.baseId,
          waitMs,
        });
      }
      throw new HttpError(429, message, waitMs);
    }
    throw new HttpError(response.status, message, response.status >= 500 ? retryAfter : undefined);
  }
}

/**
 * Airtable's error bodies: `{"error":{"type":"...","message":"..."}}`, sometimes
 * `{"error":"NOT_FOUND"}`, and for 429 `{"errors":[{"error":"RATE_LIMIT_REACHED","message":"..."}]}`.
 */
export function describeError(text: string): string {
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    return text.trim().slice(0, 300) || 'no error body';
  }
  const parts = (e: unknown): string | undefined => {
    if (typeof e === 'string') return e;
    if (e && typeof e === 'object') {
      const { type, error, message } = e as { type?: unknown; error?: unknown; message?: unknown };
      const code = typeof type === 'string' ? type : typeof error === 'string' ? error : undefined;
      const msg = typeof message === 'string' ? message : undefined;
      return [code, msg].filter(Boolean).join(': ') || undefined;
    }
    return undefined;
  };
  if (body && typeof body === 'object') {
    const { error, errors } = body as { error?: unknown; errors?: unknown };
    const described = Array.isArray(errors) ? errors.map(parts).filter(Boolean).join('; ') : parts(error);
    if (described) return described;
  }
  return text.slice(0, 300);
}
