/**
 * `graphql_enrich` against real GraphQL servers (issue 9 item 3): a graphql-js service the
 * test controls (per-key batching, the cache and its TTL, retries with backoff, timeouts,
 * dead letters that lose nothing, headers from env:), and Strata's own `serve` API.
 */
import { cpSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { INestApplication } from '@nestjs/common';
import { buildSchema, graphql } from 'graphql';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { demoCommand } from '../../src/cli/commands.js';
import type { TableSchema } from '../../src/pipelines/events.js';
import { runPipeline } from '../../src/pipelines/runner.js';
import { generateApiKey, hashApiKey } from '../../src/service/auth/api-keys.js';
import { createService } from '../../src/service/create-service.js';
import { REPO_ROOT } from '../support/example-project.js';
import { deleteKeys, REDIS_URL, silentLogger, uniquePrefix } from '../service/support.js';
import { EventScript, PipelineEnvironment, ScriptedSource, projectOf, type Project } from './support.js';

const SCHEMA: TableSchema = {
  table: 'public.movie',
  columns: [
    { name: 'movie_id', type: 'string' },
    { name: 'title', type: 'string' },
  ],
  primaryKey: ['movie_id'],
};
const RAW = { namespace: 'raw', name: 'movie' };
const DEAD = { namespace: 'raw', name: 'edge__dead_letters' };
const TOKEN = 'Bearer s3cret-edge-token';

/** A GraphQL service of movie facts, counting calls per id, failing or stalling on demand. */
class MovieEdge {
  readonly calls = new Map<string, number>();
  readonly authorization: string[] = [];
  /** id -> how many more calls fail. */
  readonly failing = new Map<string, number>();
  readonly stalling = new Set<string>();
  private server: Server | undefined;
  url = '';

  private readonly schema = buildSchema(`
    type Movie { genre: String, runtime: Int }
    type Query { movie(id: ID!): Movie }
  `);

  private movie = async ({ id }: { id: string }) => {
    this.calls.set(id, (this.calls.get(id) ?? 0) + 1);
    if (this.stalling.has(id)) await new Promise((r) => setTimeout(r, 2_000));
    const left = this.failing.get(id) ?? 0;
    if (left > 0) {
      this.failing.set(id, left - 1);
      throw new Error(`movie ${id} is unavailable`);
    }
    return { genre: `genre of ${id}`, runtime: 90 + id.length };
  };

  async start(): Promise<void> {
    this.server = createServer((req, res) => {
      let body = '';
      req.on('data', (chunk: Buffer) => (body += chunk.toString()));
      req.on('end', () => {
        this.authorization.push(String(req.headers.authorization));
        const { query, variables } = JSON.parse(body) as {
          query: string;
          variables: Record<string, unknown>;
        };
        void graphql({
          schema: this.schema,
          source: query,
          variableValues: variables,
          rootValue: { movie: this.movie },
        }).then((result) => {
          res.writeHead(200, { 'content-type': 'application/json' });
          res.end(JSON.stringify(result));
        });
      });
    });
    await new Promise<void>((done) => this.server!.listen(0, '127.0.0.1', done));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}/graphql`;
  }

  async stop(): Promise<void> {
    this.server?.closeAllConnections();
    await new Promise((done) => this.server?.close(done));
  }
}

function project(enrich: string, commitEvents = 1000): Project {
  return projectOf([
    {
      path: 'pipelines/edge.yaml',
      kind: 'pipeline',
      text: `name: edge
source: { type: postgres, connection: env:DB, tables: [public.movie] }
processors:
  - type: graphql_enrich
    endpoint: env:EDGE_URL
    query: "query($id: ID!) { movie(id: $id) { genre runtime } }"
    variables: { id: movie_id }
    outputs:
      genre: movie.genre
      runtime: { path: movie.runtime, type: integer }
    headers: { Authorization: env:EDGE_TOKEN }
${enrich}
sink: { type: iceberg, namespace: raw, commitEvents: ${commitEvents}, commitInterval: 10ms }
`,
    },
  ]);
}

describe('graphql_enrich against a GraphQL service', () => {
  let env: PipelineEnvironment;
  let edge: MovieEdge;
  afterEach(async () => {
    await env?.dispose();
    await edge?.stop();
  });

  async function run(p: Project, script: EventScript, batch = 100) {
    return runPipeline({
      pipeline: p.pipeline,
      compiler: p.compiler,
      warehouse: env.warehouse,
      duckdb: env.duckdb,
      source: new ScriptedSource(script.events, { batch }),
      store: env.store,
      enrich: { env: { EDGE_URL: edge.url, EDGE_TOKEN: TOKEN }, backoffMs: () => 5 },
    });
  }

  async function setUp(): Promise<void> {
    env = await PipelineEnvironment.create();
    edge = new MovieEdge();
    await edge.start();
  }

  it('adds typed columns, asking once per distinct key of a batch and caching across batches', async () => {
    await setUp();
    const script = new EventScript().schema(SCHEMA);
    for (let i = 0; i < 30; i++)
      script.change('public.movie', i < 3 ? 'c' : 'u', { movie_id: `m${i % 3}`, title: `t${i}` });
    script.change('public.movie', 'd', { movie_id: 'm0' });
    // Two batches: the second finds every key in the cache.
    expect(await run(project('    cacheTtl: 5m', 16), script, 16)).toEqual({ kind: 'ended' });
    expect(Object.fromEntries(edge.calls)).toEqual({ m0: 1, m1: 1, m2: 1 });
    expect(new Set(edge.authorization)).toEqual(new Set([TOKEN]));
    const rows = await env.rows(RAW);
    expect(rows).toHaveLength(31);
    expect(rows.find((r) => r.title === 't4')).toMatchObject({
      movie_id: 'm1',
      genre: 'genre of m1',
      runtime: 92,
    });
    // The delete was not looked up, and carries no outputs.
    expect(rows.at(-1)).toMatchObject({ _op: 'd', movie_id: 'm0', genre: null });
  });

  it('with cacheTtl 0s asks again in every batch', async () => {
    await setUp();
    const script = new EventScript().schema(SCHEMA);
    for (let i = 0; i < 4; i++) script.change('public.movie', 'u', { movie_id: 'm1', title: `t${i}` });
    await run(project('    cacheTtl: 0s', 2), script, 2);
    expect(edge.calls.get('m1')).toBe(2);
  });

  it('retries a failing lookup with backoff; when the retries run out the event is a dead letter, the rest committed', async () => {
    await setUp();
    edge.failing.set('m1', 2); // recovers on the third attempt
    edge.failing.set('m2', 100); // never
    const script = new EventScript()
      .schema(SCHEMA)
      .change('public.movie', 'c', { movie_id: 'm1', title: 'recovers' })
      .change('public.movie', 'c', { movie_id: 'm2', title: 'parked' })
      .change('public.movie', 'c', { movie_id: 'm3', title: 'fine' });
    expect(await run(project('    retries: 2'), script)).toEqual({ kind: 'ended' });
    expect(Object.fromEntries(edge.calls)).toEqual({ m1: 3, m2: 3, m3: 1 });
    const rows = await env.rows(RAW);
    expect(rows.map((r) => [r.movie_id, r.genre])).toEqual([
      ['m1', 'genre of m1'],
      ['m3', 'genre of m3'],
    ]);
    const dead = await env.rows(DEAD);
    expect(dead).toHaveLength(1);
    expect(dead[0]).toMatchObject({ upstream_table: 'public.movie', op: 'c', attempts: 3 });
    expect(String(dead[0]!.processor)).toMatch(/graphql_enrich/);
    expect(String(dead[0]!.error)).toMatch(/movie m2 is unavailable/);
    expect(JSON.parse(String(dead[0]!.row_json))).toEqual({ movie_id: 'm2', title: 'parked' });
    expect(JSON.stringify(dead)).not.toContain('s3cret');
    expect((await env.store.get('edge'))?.deadLetters).toBe(1);
  });

  it('a lookup past its timeout is a failure too', async () => {
    await setUp();
    edge.stalling.add('m9');
    const script = new EventScript()
      .schema(SCHEMA)
      .change('public.movie', 'c', { movie_id: 'm9', title: 'slow' });
    await run(project('    timeout: 100ms\n    retries: 1'), script);
    expect(await env.rows(RAW)).toHaveLength(0);
    const dead = await env.rows(DEAD);
    expect(dead).toHaveLength(1);
    expect(String(dead[0]!.error)).toMatch(/request failed/);
    expect(dead[0]!.attempts).toBe(2);
  });
});

describe("graphql_enrich against Strata's own serve API", () => {
  const prefix = uniquePrefix('enrich');
  const dir = mkdtempSync(join(tmpdir(), 'strata-enrich-'));
  const key = generateApiKey();
  let app: INestApplication;
  let url = '';
  let env: PipelineEnvironment;

  beforeAll(async () => {
    cpSync(join(REPO_ROOT, 'definitions'), join(dir, 'definitions'), { recursive: true });
    writeFileSync(
      join(dir, 'keys.yaml'),
      JSON.stringify({
        keys: [{ id: 'pipeline', hash: hashApiKey(key), roles: ['studio'], attributes: {} }],
      }),
    );
    writeFileSync(join(dir, 'strata.yaml'), JSON.stringify({ auth: { apiKeys: { file: 'keys.yaml' } } }));
    expect(await demoCommand(dir, {})).toBe(0);
    app = await createService({
      projectDir: dir,
      port: 0,
      host: '127.0.0.1',
      redisUrl: REDIS_URL,
      prefix,
      logger: silentLogger(),
      reloadIntervalMs: 0,
    });
    url = `${await app.getUrl()}/graphql`.replace('[::1]', '127.0.0.1');
    env = await PipelineEnvironment.create();
  });

  afterAll(async () => {
    await env?.dispose();
    await app?.close();
    await deleteKeys(prefix);
    rmSync(dir, { recursive: true, force: true });
  });

  it('looks each movie up by its key, with an API key from env:', async () => {
    const p = projectOf([
      {
        path: 'pipelines/studio.yaml',
        kind: 'pipeline',
        text: `name: studio
source: { type: postgres, connection: env:DB, tables: [public.movie] }
processors:
  - type: graphql_enrich
    endpoint: env:STRATA_URL
    query: "query($id: String!) { movie(where: { movie_id: { equals: $id } }, limit: 1) { genre status } }"
    variables: { id: movie_id }
    outputs: { genre: movie.genre, status: movie.status }
    headers: { X-Api-Key: env:STRATA_KEY }
sink: { type: iceberg, namespace: raw }
`,
      },
    ]);
    // The service's own answers, asked directly.
    const direct = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-api-key': key },
      body: JSON.stringify({
        query: '{ movie(orderBy: [{ field: movie_id }], limit: 3) { movie_id genre status } }',
      }),
    });
    const movies = (
      (await direct.json()) as { data: { movie: { movie_id: string; genre: string; status: string }[] } }
    ).data.movie;
    expect(movies).toHaveLength(3);
    const script = new EventScript().schema(SCHEMA);
    for (const movie of movies) script.change('public.movie', 'u', { movie_id: movie.movie_id, title: 'x' });
    await runPipeline({
      pipeline: p.pipeline,
      compiler: p.compiler,
      warehouse: env.warehouse,
      duckdb: env.duckdb,
      source: new ScriptedSource(script.events),
      store: env.store,
      enrich: { env: { STRATA_URL: url, STRATA_KEY: key }, backoffMs: () => 5 },
    });
    const rows = await env.rows(RAW);
    expect(rows.map((r) => [r.movie_id, r.genre, r.status])).toEqual(
      movies.map((m) => [m.movie_id, m.genre, m.status]),
    );
  });
});
