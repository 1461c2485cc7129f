/** Where `strata serve` / `strata worker` find Redis. */
import { describe, expect, test } from 'vitest';
import { DEFAULT_REDIS_URL, redisUrl, serveHost } from '../../src/cli/service-commands.js';
import { UsageError } from '../../src/engines/open-engine.js';

describe('redisUrl', () => {
  const config = { redis: { url: 'redis://from-config:6379' } };
  const env = { REDIS_URL: 'redis://from-env:6379' };

  test('--redis, then strata.yaml redis.url, then REDIS_URL, then the local default', () => {
    expect(redisUrl('redis://from-flag:6379', config, env)).toBe('redis://from-flag:6379');
    expect(redisUrl(undefined, config, env)).toBe('redis://from-config:6379');
    expect(redisUrl(undefined, {}, env)).toBe('redis://from-env:6379');
    expect(redisUrl(undefined, {}, {})).toBe(DEFAULT_REDIS_URL);
  });

  test('a bad URL is bad usage, and its password is not printed', () => {
    expect(() => redisUrl('http://localhost:6379', {}, {})).toThrow(UsageError);
    expect(() => redisUrl('not a url//user:secret@', {}, {})).toThrow(UsageError);
    let message = '';
    try {
      redisUrl('redis://user:hunter2@ho st:6379', {}, {});
    } catch (e) {
      message = (e as Error).message;
    }
    expect(message).toMatch(/^invalid Redis URL/);
    expect(message).not.toContain('hunter2');
  });
});

describe('serveHost', () => {
  test('this machine only unless --host or STRATA_SERVE_HOST say otherwise', () => {
    expect(serveHost(undefined, {})).toBe('127.0.0.1');
    expect(serveHost(undefined, { STRATA_SERVE_HOST: '0.0.0.0' })).toBe('0.0.0.0');
    expect(serveHost('::', { STRATA_SERVE_HOST: '0.0.0.0' })).toBe('::');
  });
});
