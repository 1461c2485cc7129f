/**
 * The rate limiter every worker process shares (spec §7: sync respects each API's limits,
 * however many workers run). One atomic Lua script per request: a sliding-window log (a
 * ZSET of grant times per key, trimmed to the window) takes a slot when fewer than `limit`
 * grants fall in the window, and otherwise answers how long until the oldest one leaves it.
 * Times come from the Redis server (`TIME`), so workers on machines whose clocks disagree
 * still agree on the window. `penalize` sets a block key with a TTL that `acquire` honors.
 */
import { randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';
import type { RateLimit, RateLimiter } from './limiter.js';

/** KEYS: window, block. ARGV: limit, window ms, member. Returns 0 (granted) or ms to wait. */
const ACQUIRE = `
if redis.replicate_commands then redis.replicate_commands() end
local blocked = redis.call('PTTL', KEYS[2])
if blocked > 0 then return blocked end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local limit = tonumber(ARGV[1])
local window = tonumber(ARGV[2])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
if redis.call('ZCARD', KEYS[1]) < limit then
  redis.call('ZADD', KEYS[1], now, now .. ':' .. ARGV[3])
  redis.call('PEXPIRE', KEYS[1], window + 1000)
  return 0
end
local oldest = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
return math.max(1, tonumber(oldest[2]) + window - now)
`;

/** KEYS: block. ARGV: ms. Extends the block, never shortens it. */
const PENALIZE = `
local ms = tonumber(ARGV[1])
if redis.call('PTTL', KEYS[1]) < ms then redis.call('SET', KEYS[1], '1', 'PX', ms) end
return 0
`;

export interface RedisRateLimiterOptions {
  /** Prepended to every key (default `strata:limit:`). */
  prefix?: string;
}

export class RedisRateLimiter implements RateLimiter {
  private readonly prefix: string;

  constructor(
    private readonly redis: Redis,
    options: RedisRateLimiterOptions = {},
  ) {
    this.prefix = options.prefix ?? 'strata:limit:';
  }

  /** `{key}` is a hash tag: both keys of one limit live in one slot of a Redis Cluster. */
  private keys(key: string): { window: string; block: string } {
    return { window: `${this.prefix}{${key}}:window`, block: `${this.prefix}{${key}}:block` };
  }

  async acquire(limit: RateLimit, signal?: AbortSignal): Promise<void> {
    for (;;) {
      signal?.throwIfAborted();
      const wait = await this.tryAcquire(limit);
      if (wait <= 0) return;
      await sleep(wait, signal);
    }
  }

  /** Takes a slot now if there is one (0), or answers how many ms until there is: for callers that refuse rather than wait. */
  async tryAcquire(limit: RateLimit): Promise<number> {
    if (!(limit.limit >= 1) || !(limit.windowMs > 0))
      throw new Error(`invalid rate limit for ${limit.key}: ${limit.limit} per ${limit.windowMs} ms`);
    const { window, block } = this.keys(limit.key);
    return Number(
      await this.redis.eval(ACQUIRE, 2, window, block, limit.limit, limit.windowMs, randomUUID()),
    );
  }

  async penalize(key: string, ms: number): Promise<void> {
    if (!(ms > 0)) return;
    await this.redis.eval(PENALIZE, 1, this.keys(key).block, Math.ceil(ms));
  }
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal!.reason);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
