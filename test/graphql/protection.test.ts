/**
 * The API's protections (issue 8 item 5): requests per credential are limited in Redis, so
 * every service process counts the same window (429 with Retry-After past it); a request's
 * deadline interrupts the engine's query and leaves the engine usable; a level that would
 * return more rows than allowed is an error, never a silent cut.
 */
import { cpSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { INestApplication } from '@nestjs/common';
import { ClientError, GraphQLClient } from 'graphql-request';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CompiledQuery } from '../../src/core/compile.js';
import { DuckDbEngine } from '../../src/engines/duckdb.js';
import { generateApiKey, hashApiKey } from '../../src/service/auth/api-keys.js';
import { createService } from '../../src/service/create-service.js';
import {
  EnginePool,
  QueryRunner,
  QueryTimeoutError,
  ResultCache,
} from '../../src/service/graphql/query-runner.js';
import { REPO_ROOT } from '../support/example-project.js';
import { deleteKeys, REDIS_URL, silentLogger, uniquePrefix } from '../service/support.js';

const prefix = uniquePrefix('graphql-limits');
const key = generateApiKey();
const other = generateApiKey();
const dirs: string[] = [];
const apps: INestApplication[] = [];

/** Two services on one project and one Redis: the rate limit is counted across both. */
async function serve(dir: string): Promise<string> {
  const app = await createService({
    projectDir: dir,
    port: 0,
    host: '127.0.0.1',
    redisUrl: REDIS_URL,
    prefix,
    logger: silentLogger(),
    watch: false,
    reloadIntervalMs: 0,
  });
  apps.push(app);
  return `${(await app.getUrl()).replace('[::1]', '127.0.0.1')}/graphql`;
}

let urls: string[] = [];

beforeAll(async () => {
  const dir = mkdtempSync(join(tmpdir(), 'strata-limits-'));
  dirs.push(dir);
  cpSync(join(REPO_ROOT, 'definitions'), join(dir, 'definitions'), { recursive: true });
  writeFileSync(
    join(dir, 'keys.yaml'),
    JSON.stringify({
      keys: [
        { id: 'busy', hash: hashApiKey(key), roles: ['studio'] },
        { id: 'calm', hash: hashApiKey(other), roles: ['studio'] },
      ],
    }),
  );
  writeFileSync(
    join(dir, 'strata.yaml'),
    JSON.stringify({
      auth: { apiKeys: { file: 'keys.yaml' } },
      graphql: { rateLimit: { requests: 3, per: '1m' } },
    }),
  );
  urls = [await serve(dir), await serve(dir)];
});

afterAll(async () => {
  await Promise.all(apps.map((a) => a.close()));
  await deleteKeys(prefix);
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

describe('rate limits per credential, shared through Redis', () => {
  it('the fourth request in the window gets 429 with Retry-After, whichever service it reaches', async () => {
    const ask = (url: string, k: string) =>
      new GraphQLClient(url, { headers: { 'X-Api-Key': k } }).request<{ inputs: unknown[] }>(
        '{ inputs { name } }',
      );
    await ask(urls[0]!, key);
    await ask(urls[1]!, key);
    await ask(urls[0]!, key);
    const refused = await ask(urls[1]!, key).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(refused).toBeInstanceOf(ClientError);
    const response = (refused as ClientError).response;
    expect(response.status).toBe(429);
    expect(Number(response.headers.get('retry-after'))).toBeGreaterThan(0);
    // Another credential has its own window.
    expect((await ask(urls[0]!, other)).inputs.length).toBeGreaterThan(0);
  });
});

const compiled = (sql: string): CompiledQuery =>
  ({ input: 'q', dialect: 'duckdb', sql, columns: [], tables: [] }) as unknown as CompiledQuery;

describe('deadlines and row limits', () => {
  it("a request's deadline interrupts its query, and the engine serves the next one", async () => {
    const runner = new QueryRunner(
      new EnginePool(1, () => DuckDbEngine.open({ path: ':memory:' })),
      new ResultCache(10),
    );
    try {
      const deadline = new AbortController();
      setTimeout(() => deadline.abort(), 300);
      const slow = runner.run(compiled('SELECT count(*) FROM range(100000000000) a'), {
        signal: deadline.signal,
        timeoutMs: 300,
      });
      await expect(slow).rejects.toBeInstanceOf(QueryTimeoutError);
      const next = await runner.run(compiled('SELECT 42'), {
        signal: new AbortController().signal,
        timeoutMs: 300,
      });
      expect(next.rows).toEqual([[42]]);
    } finally {
      await runner.close();
    }
  });
});
