/**
 * `strata sync` counts API rate limits where the workers do when Redis is configured, so a
 * sync beside running workers cannot exceed a destination's limit; else in its own process.
 */
import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { describe, expect, it } from 'vitest';
import { RedisRateLimiter } from '../../src/destinations/redis-limiter.js';
import { sharedLimits } from '../../src/trackers/shared-limits.js';

const REDIS_URL = process.env.STRATA_TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';

describe('the rate limits of strata sync', () => {
  it('are the workers own in Redis when Redis is configured', async () => {
    const limits = await sharedLimits({ redis: { url: REDIS_URL } }, {});
    const redis = new Redis(REDIS_URL);
    try {
      expect(limits.where).toBe('redis');
      const key = `airtable:test-${randomUUID()}`;
      // A penalty taken by the CLI (Airtable's lock after a 429) holds for the workers too.
      await limits.limiter.penalize(key, 60_000);
      expect(await redis.exists(`strata:limit:{${key}}:block`)).toBe(1);
      const worker = new RedisRateLimiter(redis, { prefix: 'strata:limit:' });
      await expect(
        worker.acquire({ key, limit: 5, windowMs: 1000 }, AbortSignal.timeout(300)),
      ).rejects.toThrow();
    } finally {
      await limits.close();
      await redis.quit();
    }
  });

  it('are counted in this process without Redis, or when it cannot be reached (said once)', async () => {
    expect((await sharedLimits({}, {})).where).toBe('this process');
    const warnings: string[] = [];
    const unreachable = await sharedLimits({}, { REDIS_URL: 'redis://127.0.0.1:1' }, (line) =>
      warnings.push(line),
    );
    expect(unreachable.where).toBe('this process');
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatch(/cannot reach Redis .*counted in this process only/);
  });
});
