/**
 * Retries for third-party APIs: 429 and 5xx (and network errors) are retried with
 * exponential backoff and full jitter, honoring `Retry-After` when the API sends one;
 * anything else fails at once. The clock and randomness are injectable for tests.
 */
export class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
    /** Seconds or milliseconds the server asked us to wait, already converted to ms. */
    readonly retryAfterMs?: number,
  ) {
    super(message);
    this.name = 'HttpError';
  }
}

export interface RetryOptions {
  retries: number;
  baseDelayMs: number;
  maxDelayMs: number;
  sleep: (ms: number) => Promise<void>;
  random: () => number;
  /** Called before each retry: for logs and tests. */
  onRetry?: (info: { attempt: number; delayMs: number; error: unknown }) => void;
  /** Told of every failed attempt, retried or not (metrics count 429s and retries). */
  observer?: RetryObserver;
}

export interface RetryObserver {
  failed(info: { attempt: number; error: unknown; retrying: boolean }): void;
}

export const DEFAULT_RETRY: RetryOptions = {
  retries: 6,
  baseDelayMs: 500,
  maxDelayMs: 60_000,
  sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
  random: Math.random,
};

export function isRetryable(error: unknown): boolean {
  if (error instanceof HttpError) return error.status === 429 || error.status >= 500;
  // fetch network failures (ECONNRESET, socket hang up) surface as TypeError.
  return error instanceof TypeError;
}

/** `Retry-After` as milliseconds: delta-seconds or an HTTP date; undefined when absent or unreadable. */
export function parseRetryAfter(
  header: string | null | undefined,
  now: number = Date.now(),
): number | undefined {
  if (!header) return undefined;
  const seconds = Number(header);
  if (Number.isFinite(seconds) && seconds >= 0) return seconds * 1000;
  const date = Date.parse(header);
  return Number.isNaN(date) ? undefined : Math.max(0, date - now);
}

export function backoffDelay(attempt: number, options: RetryOptions, error: unknown): number {
  const asked = error instanceof HttpError ? error.retryAfterMs : undefined;
  if (asked !== undefined) return Math.min(asked, options.maxDelayMs);
  const ceiling = Math.min(options.maxDelayMs, options.baseDelayMs * 2 ** (attempt - 1));
  return Math.round(ceiling * options.random());
}

export async function withRetry<T>(call: () => Promise<T>, options: RetryOptions): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await call();
    } catch (error) {
      const retrying = attempt <= options.retries && isRetryable(error);
      options.observer?.failed({ attempt, error, retrying });
      if (!retrying) throw error;
      const delayMs = backoffDelay(attempt, options, error);
      options.onRetry?.({ attempt, delayMs, error });
      await options.sleep(delayMs);
    }
  }
}
