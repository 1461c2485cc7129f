/** RedisRateLimiter: the window is shared by every instance (every worker process). */
import { Redis } from 'ioredis';
import { afterAll, describe, expect, test } from 'vitest';
import { RedisRateLimiter } from '../../src/destinations/redis-limiter.js';
import { deleteKeys, REDIS_URL, uniquePrefix } from './support.js';

const prefix = uniquePrefix('limiter');
// Two connections, as two worker processes would have.
const connections = [new Redis(REDIS_URL), new Redis(REDIS_URL)];
const [a, b] = connections.map((redis) => new RedisRateLimiter(redis, { prefix: `${prefix}:` })) as [
  RedisRateLimiter,
  RedisRateLimiter,
];

afterAll(async () => {
  await deleteKeys(prefix);
  for (const c of connections) c.disconnect();
});

describe('RedisRateLimiter', () => {
  test('two instances together never exceed the limit in any window', async () => {
    const limit = { key: 'api:window', limit: 5, windowMs: 300 };
    const granted: number[] = [];
    const started = Date.now();
    // Each "worker" runs three request loops at once: 2 x 3 x 4 = 24 requests.
    const loop = async (limiter: RedisRateLimiter) => {
      for (let i = 0; i < 4; i++) {
        await limiter.acquire(limit);
        granted.push(Date.now());
      }
    };
    await Promise.all([a, b].flatMap((limiter) => [loop(limiter), loop(limiter), loop(limiter)]));
    const elapsed = Date.now() - started;
    granted.sort((x, y) => x - y);
    expect(granted).toHaveLength(24);
    // Any `limit + 1` grants span at least one window (less a little for the trip back from Redis).
    const slack = 25;
    for (let i = 0; i + limit.limit < granted.length; i++) {
      expect(granted[i + limit.limit]! - granted[i]!).toBeGreaterThanOrEqual(limit.windowMs - slack);
    }
    // 24 requests at 5 per 300 ms need 4 more windows after the first; no needless waiting either.
    expect(elapsed).toBeGreaterThanOrEqual(4 * limit.windowMs - slack);
    // An upper bound loose enough for a busy machine, tight enough to catch a whole extra wait.
    expect(elapsed).toBeLessThan(4 * limit.windowMs + 4000);
  });

  test('penalize blocks the key for every instance', async () => {
    const limit = { key: 'api:penalty', limit: 100, windowMs: 1000 };
    await a.acquire(limit);
    const before = Date.now();
    await a.penalize(limit.key, 400);
    // A shorter penalty never shortens a longer one.
    await b.penalize(limit.key, 50);
    const waited = await Promise.all(
      [a, b].map(async (limiter) => {
        await limiter.acquire(limit);
        return Date.now() - before;
      }),
    );
    for (const ms of waited) expect(ms).toBeGreaterThanOrEqual(390);
    // Other keys are not blocked, even while this one is for a long time.
    await a.penalize(limit.key, 10_000);
    const other = Date.now();
    await b.acquire({ ...limit, key: 'api:other' });
    expect(Date.now() - other).toBeLessThan(5_000);
  });

  test('a wait can be aborted', async () => {
    const limit = { key: 'api:abort', limit: 1, windowMs: 10_000 };
    await a.acquire(limit);
    const controller = new AbortController();
    const waiting = b.acquire(limit, controller.signal);
    setTimeout(() => controller.abort(new Error('stop')), 50);
    await expect(waiting).rejects.toThrow('stop');
  });
});
