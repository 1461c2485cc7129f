/**
 * The API rate limits `strata sync` counts against: the workers' own, in Redis, when Redis is
 * configured (strata.yaml `redis.url` or `REDIS_URL`), so a sync from the CLI beside running
 * workers cannot exceed a destination's limit (Airtable: 5 requests per second per base);
 * otherwise, or when that Redis cannot be reached (said on stderr), this process's own.
 */
import { Redis } from 'ioredis';
import type { ProjectConfig } from '../core/definitions/schema.js';
import { InMemoryRateLimiter, type RateLimiter } from '../destinations/limiter.js';
import { RedisRateLimiter } from '../destinations/redis-limiter.js';
import { redact } from '../engines/secrets.js';
import { configuredRedisUrl, DEFAULT_QUEUE_PREFIX } from './scheduler.js';

export interface SharedLimits {
  limiter: RateLimiter;
  /** Where the limits are counted, for the user: `redis` or `this process`. */
  where: 'redis' | 'this process';
  close(): Promise<void>;
}

export async function sharedLimits(
  config: ProjectConfig,
  env: NodeJS.ProcessEnv = process.env,
  warn: (line: string) => void = (line) => process.stderr.write(`${line}\n`),
): Promise<SharedLimits> {
  const url = configuredRedisUrl(config, env);
  const local: SharedLimits = {
    limiter: new InMemoryRateLimiter(),
    where: 'this process',
    close: async () => undefined,
  };
  if (!url) return local;
  const redis = new Redis(url, { lazyConnect: true, connectTimeout: 2000, maxRetriesPerRequest: 1 });
  redis.on('error', () => undefined);
  try {
    await redis.connect();
  } catch (e) {
    redis.disconnect();
    warn(
      `warning: cannot reach Redis (${redact((e as Error).message)}): rate limits are counted in this process only, not shared with the workers`,
    );
    return local;
  }
  return {
    limiter: new RedisRateLimiter(redis, { prefix: `${DEFAULT_QUEUE_PREFIX}:limit:` }),
    where: 'redis',
    close: async () => {
      await redis.quit().catch(() => redis.disconnect());
    },
  };
}
