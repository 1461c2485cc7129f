/**
 * Rate limits per API and credential: `acquire` resolves when one more request fits in the
 * window. The in-memory limiter serves one process; the Redis limiter (redis-limiter.ts)
 * shares the same windows between every worker.
 */
export interface RateLimit {
  /** e.g. `sheets:write:<credential hash>` or `airtable:<baseId>`. */
  key: string;
  limit: number;
  windowMs: number;
}

export interface RateLimiter {
  acquire(limit: RateLimit, signal?: AbortSignal): Promise<void>;
  /** Blocks `key` for `ms` (e.g. Airtable's 30-second penalty after a 429). */
  penalize(key: string, ms: number): Promise<void>;
}

/** Sliding-window log per key, in this process. */
export class InMemoryRateLimiter implements RateLimiter {
  private readonly log = new Map<string, number[]>();
  private readonly blockedUntil = new Map<string, number>();

  constructor(
    private readonly now: () => number = Date.now,
    private readonly sleep: (ms: number) => Promise<void> = (ms) => new Promise((r) => setTimeout(r, ms)),
  ) {}

  async acquire(limit: RateLimit, signal?: AbortSignal): Promise<void> {
    for (;;) {
      signal?.throwIfAborted();
      const wait = this.reserve(limit);
      if (wait === 0) return;
      await this.sleep(wait);
    }
  }

  /** Takes a slot and returns 0, or returns how long to wait for one. */
  private reserve(limit: RateLimit): number {
    const now = this.now();
    const blocked = (this.blockedUntil.get(limit.key) ?? 0) - now;
    if (blocked > 0) return blocked;
    const recent = (this.log.get(limit.key) ?? []).filter((t) => t > now - limit.windowMs);
    if (recent.length < limit.limit) {
      recent.push(now);
      this.log.set(limit.key, recent);
      return 0;
    }
    this.log.set(limit.key, recent);
    return Math.max(1, recent[0]! + limit.windowMs - now);
  }

  async penalize(key: string, ms: number): Promise<void> {
    this.blockedUntil.set(key, Math.max(this.blockedUntil.get(key) ?? 0, this.now() + ms));
  }
}
