/**
 * `npm run bench:graphql`: POST /graphql of `strata serve` over the demo warehouse on the
 * embedded DuckDB engine, each figure against a baseline measured in the same run.
 *  1. API overhead: sequential latency of a small typed query and of the equivalent generic
 *     `run` through HTTP with the result cache off, vs the same compiled SQL run directly on an
 *     engine opened the way the service opens it (issue 8's target: p50 overhead <= 3 ms); and
 *     where the difference goes (the service without HTTP, and its steps one by one);
 *  2. throughput with 50 concurrent clients (autocannon in a worker thread, loopback) of a
 *     request served from the result cache and of the same request with the cache off;
 *  3. cache hit speed-up: a cached request vs the same request uncached (medians).
 * Two services run in this process over one warehouse: one with the result cache, one without.
 * BENCH_DURATION (s per load run, default 10), BENCH_SAMPLES (sequential samples per case,
 * default 300) and BENCH_CONNECTIONS (default 50) make a quick run possible.
 */
import { cpSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { Agent, request } from 'node:http';
import { availableParallelism, cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import type { INestApplication } from '@nestjs/common';
import autocannon from 'autocannon';
import { parse, specifiedRules, validate } from 'graphql';
import { Redis } from 'ioredis';
import { demoCommand } from '../src/cli/commands.js';
import { Compiler, type CompiledQuery } from '../src/core/compile.js';
import { RedisRateLimiter } from '../src/destinations/redis-limiter.js';
import { collect, type Engine } from '../src/engines/engine.js';
import { openEngine } from '../src/engines/open-engine.js';
import { depthLimit, statementLimit } from '../src/graphql/limits.js';
import { apiInput } from '../src/graphql/run-input.js';
import { buildApiSchema } from '../src/graphql/schema.js';
import { loadProject } from '../src/project/load-project.js';
import { generateApiKey, hashApiKey } from '../src/service/auth/api-keys.js';
import { createService } from '../src/service/create-service.js';
import { GraphqlService, type RequestPrincipal } from '../src/service/graphql/graphql.service.js';
import { deleteKeys, REDIS_URL, silentLogger, uniquePrefix } from '../test/service/support.js';

const DURATION_S = Number(process.env.BENCH_DURATION ?? 10);
const SAMPLES = Number(process.env.BENCH_SAMPLES ?? 300);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 50);
const WARMUP_ROUNDS = 30;
const TARGET_OVERHEAD_MS = 3;
const ROLES = ['studio'];
const CALLER = { roles: ROLES, attributes: {} };
const REPO_ROOT = join(import.meta.dirname, '..');

const TYPED = '{ movie(where: { genre: { equals: "Drama" } }, limit: 20) { title launch_date } }';
const SEMANTIC_QUERY =
  '{ from: "movie", fields: [{ field: "movie.title" }, { field: "movie.launch_date" }], filters: [{ field: "movie.genre", op: equals, value: "Drama" }], limit: 20 }';
const GENERIC = `{ run(query: ${SEMANTIC_QUERY}) { rows durationMs } }`;
const GENERIC_SQL = `{ compile(query: ${SEMANTIC_QUERY}) { sql } }`;
/** Authentication, rate limit, parse, validate and execute, but no query: the API's floor. */
const EMPTY = '{ __typename }';
/** The input the typed API builds for TYPED (src/graphql/resolve-typed.ts `levelDefinition`). */
const TYPED_DEFINITION = {
  name: 'graphql',
  from: 'movie',
  fields: [
    { field: 'movie.title', as: 'c0' },
    { field: 'movie.launch_date', as: 'c1' },
  ],
  filters: [{ field: 'movie.genre', op: 'equals', value: 'Drama' }],
};
const TYPED_OPTIONS = { dialect: 'duckdb', limit: 20, caller: CALLER } as const;

const root = mkdtempSync(join(tmpdir(), 'strata-bench-graphql-'));
const prefix = uniquePrefix('bench-graphql');
const apiKey = generateApiKey();

// ---- set-up ------------------------------------------------------------------------------------

/** A project folder: the repo's definitions, one API key, and strata.yaml from `config`. */
function writeProject(dir: string, config: { graphql?: object; warehouse?: object }): void {
  cpSync(join(REPO_ROOT, 'definitions'), join(dir, 'definitions'), { recursive: true });
  const keys = { keys: [{ id: 'bench', hash: hashApiKey(apiKey), roles: ROLES, attributes: {} }] };
  writeFileSync(join(dir, 'keys.yaml'), JSON.stringify(keys));
  const graphql = { rateLimit: { requests: 100_000_000, per: '1m' }, ...config.graphql };
  writeFileSync(
    join(dir, 'strata.yaml'),
    JSON.stringify({ ...config, auth: { apiKeys: { file: 'keys.yaml' } }, graphql }),
  );
}

/** The demo warehouse in `cachedDir`; `uncachedDir` reads the same warehouse with the cache off. */
async function buildProjects(cachedDir: string, uncachedDir: string): Promise<void> {
  writeProject(cachedDir, {});
  if ((await demoCommand(cachedDir, {})) !== 0) throw new Error('strata demo failed');
  const warehouse = {
    root: join(cachedDir, '.strata', 'warehouse'),
    path: join(cachedDir, '.strata', 'catalog.db'),
  };
  writeProject(uncachedDir, { warehouse, graphql: { cacheEntries: 0 } });
}

interface Service {
  app: INestApplication;
  url: string;
  graphql: GraphqlService;
}

async function startService(projectDir: string): Promise<Service> {
  const app = await createService({
    projectDir,
    port: 0,
    host: '127.0.0.1',
    redisUrl: REDIS_URL,
    prefix,
    logger: silentLogger(),
    watch: false,
    reloadIntervalMs: 0,
  });
  const url = `${(await app.getUrl()).replace('[::1]', '127.0.0.1')}/graphql`;
  return { app, url, graphql: app.get(GraphqlService) };
}

// ---- an HTTP client: one keep-alive connection, no library in the way ---------------------------

const agent = new Agent({ keepAlive: true, maxSockets: 1 });

function post(url: string, query: string): Promise<{ status: number; body: string }> {
  const payload = JSON.stringify({ query });
  const headers = {
    'Content-Type': 'application/json',
    'Content-Length': Buffer.byteLength(payload),
    'X-Api-Key': apiKey,
  };
  return new Promise((resolve, reject) => {
    const req = request(url, { method: 'POST', agent, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString() }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(payload);
  });
}

/** A request's data, parsed as a client would; an error status or a GraphQL error stops the run. */
async function graphql<T>(url: string, query: string): Promise<T> {
  const { status, body } = await post(url, query);
  const parsed = JSON.parse(body) as { data?: T; errors?: unknown[] };
  if (status !== 200 || parsed.errors || !parsed.data)
    throw new Error(`${query}: HTTP ${status} ${body.slice(0, 500)}`);
  return parsed.data;
}

/** The service without HTTP (no Nest, no auth guard): what POST /graphql calls. */
async function handle(service: Service, query: string): Promise<void> {
  const principal: RequestPrincipal = { caller: CALLER, subject: 'bench:in-process' };
  const response = await service.graphql.handle({ query }, principal);
  if (response.status !== 200 || (response.body.errors ?? []).length > 0)
    throw new Error(`${query}: ${JSON.stringify(response.body).slice(0, 500)}`);
}

// ---- sequential latency ------------------------------------------------------------------------

interface Case {
  name: string;
  run: () => Promise<unknown>;
}

type Samples = Map<string, number[]>;

/** Every case once per round, the order rotated each round: drift and warm-up hit all alike. */
async function sampleInterleaved(cases: Case[], samples: number): Promise<Samples> {
  const times: Samples = new Map(cases.map((c) => [c.name, []]));
  for (let round = 0; round < WARMUP_ROUNDS + samples; round++) {
    for (let i = 0; i < cases.length; i++) {
      const c = cases[(round + i) % cases.length]!;
      const start = performance.now();
      await c.run();
      const elapsed = performance.now() - start;
      if (round >= WARMUP_ROUNDS) times.get(c.name)!.push(elapsed);
    }
  }
  return times;
}

function percentile(values: readonly number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
}

const ms = (t: number) => `${t.toFixed(2)} ms`;

interface Compiled {
  typed: CompiledQuery;
  genericSql: string;
}

/** The SQL both APIs run: the typed one compiled as its resolver does, the generic one as served. */
async function compiledQueries(compiler: Compiler, uncached: Service): Promise<Compiled> {
  const typed = compiler.compile(apiInput(TYPED_DEFINITION), TYPED_OPTIONS);
  const generic = await graphql<{ compile: { sql: string } }>(uncached.url, GENERIC_SQL);
  return { typed, genericSql: generic.compile.sql };
}

/** The API answers what the engine answers for that SQL: the comparison is like for like. */
async function checkSameAnswer(engine: Engine, compiled: Compiled, uncached: Service): Promise<number> {
  const direct = JSON.stringify((await collect(engine.stream(compiled.typed.sql))).map((row) => row[0]));
  const typed = await graphql<{ movie: { title: string }[] }>(uncached.url, TYPED);
  const generic = await graphql<{ run: { rows: { title: string }[] } }>(uncached.url, GENERIC);
  const titles = [typed.movie, generic.run.rows].map((rows) => JSON.stringify(rows.map((r) => r.title)));
  if (direct === '[]' || titles.some((t) => t !== direct))
    throw new Error('the API and the engine give different answers');
  return typed.movie.length;
}

const CASES = {
  engineTyped: 'engine: typed SQL',
  engineGeneric: 'engine: generic SQL',
  httpTyped: 'HTTP typed, cache off',
  httpGeneric: 'HTTP generic run, cache off',
  cachedTyped: 'HTTP typed, cached',
  cachedGeneric: 'HTTP generic run, cached',
  floor: 'HTTP { __typename } (no query)',
  handleTyped: 'service.handle() typed, cache off',
  handleFloor: 'service.handle() { __typename }',
  rateLimit: 'step: rate limit (1 Redis EVAL)',
  validate: 'step: parse + validate typed',
  compile: 'step: compile typed',
  fingerprint: 'step: table versions (2 per miss)',
} as const;

interface Fixture {
  engine: Engine;
  compiler: Compiler;
  compiled: Compiled;
  cached: Service;
  uncached: Service;
  limiter: RedisRateLimiter;
}

/** The generic run's own `durationMs`: table versions and the query, measured inside the service. */
const serverRunMs: number[] = [];

async function genericRun(url: string): Promise<void> {
  serverRunMs.push((await graphql<{ run: { durationMs: number } }>(url, GENERIC)).run.durationMs);
}

function latencyCases(f: Fixture): Case[] {
  const schema = buildApiSchema(f.compiler.model, ROLES);
  const rules = [...specifiedRules, depthLimit(10), statementLimit(20)];
  const rateLimit = { key: 'bench', limit: 100_000_000, windowMs: 60_000 };
  return [
    { name: CASES.engineTyped, run: () => collect(f.engine.stream(f.compiled.typed.sql)) },
    { name: CASES.engineGeneric, run: () => collect(f.engine.stream(f.compiled.genericSql)) },
    { name: CASES.httpTyped, run: () => graphql(f.uncached.url, TYPED) },
    { name: CASES.httpGeneric, run: () => genericRun(f.uncached.url) },
    { name: CASES.cachedTyped, run: () => graphql(f.cached.url, TYPED) },
    { name: CASES.cachedGeneric, run: () => graphql(f.cached.url, GENERIC) },
    { name: CASES.floor, run: () => graphql(f.uncached.url, EMPTY) },
    { name: CASES.handleTyped, run: () => handle(f.uncached, TYPED) },
    { name: CASES.handleFloor, run: () => handle(f.uncached, EMPTY) },
    { name: CASES.rateLimit, run: () => f.limiter.tryAcquire(rateLimit) },
    { name: CASES.validate, run: async () => validate(schema, parse(TYPED), rules) },
    { name: CASES.compile, run: async () => f.compiler.compile(apiInput(TYPED_DEFINITION), TYPED_OPTIONS) },
    { name: CASES.fingerprint, run: async () => f.engine.tableVersions?.(f.compiled.typed.tables) },
  ];
}

function printLatencies(times: Samples): void {
  console.log('| sequential, one connection | p50 | p90 | p99 |');
  console.log('| --- | --- | --- | --- |');
  for (const [name, values] of times)
    console.log(
      `| ${name} | ${ms(percentile(values, 50))} | ${ms(percentile(values, 90))} | ${ms(percentile(values, 99))} |`,
    );
}

function printOverhead(times: Samples): void {
  const p50 = (name: string) => percentile(times.get(name)!, 50);
  const overheads = [
    ['typed', p50(CASES.httpTyped) - p50(CASES.engineTyped)],
    ['generic run', p50(CASES.httpGeneric) - p50(CASES.engineGeneric)],
  ] as const;
  for (const [api, overhead] of overheads)
    console.log(
      `1. overhead, ${api}: ${ms(overhead)} (p50 HTTP, cache off - p50 engine); target <= ${TARGET_OVERHEAD_MS} ms: ${overhead <= TARGET_OVERHEAD_MS ? 'met' : 'NOT met'}`,
    );
  console.log(
    `   typed, without HTTP (service.handle() - engine): ${ms(p50(CASES.handleTyped) - p50(CASES.engineTyped))}; HTTP, Nest and the auth guard add ${ms(p50(CASES.floor) - p50(CASES.handleFloor))} (HTTP - handle() for { __typename })`,
  );
  console.log(
    `   the generic run's own durationMs (table versions + query, inside the service): p50 ${ms(percentile(serverRunMs.slice(WARMUP_ROUNDS), 50))}`,
  );
  for (const [api, uncached, cached] of [
    ['typed', CASES.httpTyped, CASES.cachedTyped],
    ['generic run', CASES.httpGeneric, CASES.cachedGeneric],
  ] as const)
    console.log(
      `3. cache hit speed-up, ${api}: ${ms(p50(uncached))} uncached / ${ms(p50(cached))} cached = ${(p50(uncached) / p50(cached)).toFixed(1)}x`,
    );
}

// ---- throughput ----------------------------------------------------------------------------------

interface Load {
  name: string;
  perSecond: number;
  p50: number;
  p99: number;
  errors: number;
  non2xx: number;
  graphqlErrors: number;
}

/** Counts the answers of a service that are not a clean 200 (a 200 can carry GraphQL errors). */
function countBadAnswers(service: Service): () => number {
  const graphqlService = service.graphql;
  const original = graphqlService.handle.bind(graphqlService);
  let bad = 0;
  graphqlService.handle = async (body, principal) => {
    const response = await original(body, principal);
    if (response.status !== 200 || (response.body.errors ?? []).length > 0) bad++;
    return response;
  };
  return () => bad;
}

/** CONNECTIONS clients sending `query` for DURATION_S from a worker thread (off the service's event loop). */
async function load(name: string, service: Service, query: string): Promise<Load> {
  const badAnswers = countBadAnswers(service);
  const result = await autocannon({
    url: service.url,
    connections: CONNECTIONS,
    duration: DURATION_S,
    workers: 1,
    method: 'POST',
    headers: { 'Content-Type': 'application/json', 'X-Api-Key': apiKey },
    body: JSON.stringify({ query }),
  });
  return {
    name,
    perSecond: result.requests.total / DURATION_S,
    p50: result.latency.p50,
    p99: result.latency.p99,
    errors: result.errors,
    non2xx: result.non2xx,
    graphqlErrors: badAnswers(),
  };
}

function printLoads(loads: [Load, Load]): void {
  console.log(
    `| ${CONNECTIONS} clients, ${DURATION_S} s | requests/s | p50 | p99 | errors / non-2xx / GraphQL errors |`,
  );
  console.log('| --- | --- | --- | --- | --- |');
  for (const l of loads)
    console.log(
      `| ${l.name} | ${Math.round(l.perSecond).toLocaleString('en')} | ${l.p50} ms | ${l.p99} ms | ${l.errors} / ${l.non2xx} / ${l.graphqlErrors} |`,
    );
  const [cached, uncached] = loads;
  console.log(`2. throughput, cached vs cache off: ${(cached.perSecond / uncached.perSecond).toFixed(1)}x`);
  if (loads.some((l) => l.errors + l.non2xx + l.graphqlErrors > 0)) {
    process.exitCode = 1;
    console.log('FAILED: some requests failed under load');
  }
}

// ---- the run -------------------------------------------------------------------------------------

async function run(cached: Service, uncached: Service, engine: Engine, compiler: Compiler): Promise<void> {
  const redis = new Redis(REDIS_URL);
  try {
    const compiled = await compiledQueries(compiler, uncached);
    const rows = await checkSameAnswer(engine, compiled, uncached);
    const limiter = new RedisRateLimiter(redis, { prefix: `${prefix}:bench-limit:` });
    console.log(
      `node ${process.version}; ${availableParallelism()} cores (${cpus()[0]?.model ?? 'unknown'}); demo warehouse, embedded DuckDB; ${rows} rows per answer; ${SAMPLES} sequential samples per case after ${WARMUP_ROUNDS} warm-up rounds\n`,
    );
    console.log(`typed:   ${TYPED}\ngeneric: ${GENERIC}\n`);
    const times = await sampleInterleaved(
      latencyCases({ engine, compiler, compiled, cached, uncached, limiter }),
      SAMPLES,
    );
    printLatencies(times);
    console.log();
    printOverhead(times);
    console.log();
    printLoads([await load('typed, cached', cached, TYPED), await load('typed, cache off', uncached, TYPED)]);
    console.log(`\npeak RSS ${(process.resourceUsage().maxRSS / 1024).toFixed(0)} MB`);
  } finally {
    redis.disconnect();
  }
}

async function main(): Promise<void> {
  const cachedDir = join(root, 'cached');
  const uncachedDir = join(root, 'uncached');
  const services: Service[] = [];
  let engine: Engine | undefined;
  try {
    await buildProjects(cachedDir, uncachedDir);
    services.push(await startService(cachedDir), await startService(uncachedDir));
    const project = loadProject(cachedDir);
    engine = await openEngine(cachedDir, {}, project.config);
    await run(services[0]!, services[1]!, engine, new Compiler(project.model));
  } finally {
    agent.destroy();
    await engine?.close();
    for (const service of services) await service.app.close();
    await deleteKeys(prefix);
    rmSync(root, { recursive: true, force: true });
  }
}

await main();
