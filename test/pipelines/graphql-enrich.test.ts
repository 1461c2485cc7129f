/**
 * `graphql_enrich` against real GraphQL servers (issue 9 item 3): a graphql-js service the
 * test controls (per-key batching, the cache and its TTL, retries with backoff, HTTP and
 * GraphQL errors, timeouts, dead letters that lose nothing, headers from env: that never leak),
 * and Strata's own `serve` API.
 *
 * Every run commits on `commitEvents` only (`commitInterval: 1h`), so the batches the processor
 * sees are fixed by the script, whatever the machine's speed.
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
const LABEL = 'processors[0] (graphql_enrich)';
const TOKEN = 'Bearer s3cret-edge-token';

/** One fewer call to go for `id`; true when this call is one of them. */
function take(counts: Map<string, number>, id: string): boolean {
  const left = counts.get(id) ?? 0;
  if (left > 0) counts.set(id, left - 1);
  return left > 0;
}

/** A GraphQL service of movie facts, counting calls per id, failing or stalling on demand. */
class MovieEdge {
  readonly calls = new Map<string, number>();
  /** The Authorization header each resolver call found in its context. */
  readonly authorization: string[] = [];
  /** id -> how many more calls the resolver fails (a GraphQL error). */
  readonly failing = new Map<string, number>();
  /**
   * id -> how many more calls a proxy in front refuses with HTTP 500 and an HTML page that
   * echoes the request's Authorization header (some do).
   */
  readonly refusing = new Map<string, number>();
  /** id -> how long the resolver takes (ms). */
  readonly slow = new Map<string, number>();
  /** ids whose resolver stalls (until the server stops, or 5 s). */
  readonly stalling = new Set<string>();
  private server: Server | undefined;
  private release: () => void = () => undefined;
  private readonly released = new Promise<void>((done) => (this.release = done));
  url = '';

  private readonly schema = buildSchema(`
    type Movie { genre: String, runtime: Int }
    type Query { movie(id: ID!): Movie }
  `);

  private count(id: string): void {
    this.calls.set(id, (this.calls.get(id) ?? 0) + 1);
  }

  private movie = async ({ id }: { id: string }, context: { authorization: string | undefined }) => {
    this.count(id);
    this.authorization.push(String(context.authorization));
    // Answers after 5 s at the latest: a lookup that ignored its timeout shows as an answer.
    if (this.stalling.has(id))
      await Promise.race([this.released, new Promise((done) => setTimeout(done, 5_000).unref())]);
    const delay = this.slow.get(id);
    if (delay) await new Promise((done) => setTimeout(done, delay));
    if (take(this.failing, id)) throw new Error(`movie ${id} is unavailable`);
    return { genre: `genre of ${id}`, runtime: 90 + id.length };
  };

  async start(): Promise<void> {
    this.server = createServer((req, res) => {
      let body = '';
      req.on('data', (chunk: Buffer) => (body += chunk.toString()));
      req.on('end', () => {
        const { query, variables } = JSON.parse(body) as {
          query: string;
          variables: { id: string };
        };
        if (take(this.refusing, variables.id)) {
          this.count(variables.id);
          res.writeHead(500, { 'content-type': 'text/html' });
          // The credential straddles the first 120 characters of the page.
          res.end(`<p>proxy error ${'.'.repeat(77)} authorization=${req.headers.authorization}</p>`);
          return;
        }
        void graphql({
          schema: this.schema,
          source: query,
          variableValues: variables,
          rootValue: { movie: this.movie },
          contextValue: { authorization: req.headers.authorization },
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
    this.release();
    this.server?.closeAllConnections();
    await new Promise((done) => this.server?.close(done));
  }
}

function project(enrich: string, commitEvents: number): Project {
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
sink: { type: iceberg, namespace: raw, commitEvents: ${commitEvents}, commitInterval: 1h }
`,
    },
  ]);
}

describe('graphql_enrich against a GraphQL service', () => {
  let env: PipelineEnvironment | undefined;
  let edge: MovieEdge | undefined;
  afterEach(async () => {
    await env?.dispose();
    await edge?.stop();
    env = undefined;
    edge = undefined;
  });

  async function setUp(): Promise<{ env: PipelineEnvironment; edge: MovieEdge }> {
    env = await PipelineEnvironment.create();
    edge = new MovieEdge();
    await edge.start();
    return { env, edge };
  }

  async function run(p: Project, script: EventScript, backoffMs: (attempt: number) => number = () => 10) {
    return runPipeline({
      pipeline: p.pipeline,
      compiler: p.compiler,
      warehouse: env!.warehouse,
      duckdb: env!.duckdb,
      source: new ScriptedSource(script.events, { batch: 10 }),
      store: env!.store,
      enrich: { env: { EDGE_URL: edge!.url, EDGE_TOKEN: TOKEN }, backoffMs },
    });
  }

  it('adds typed columns, asking once per distinct key of a batch and caching across batches; deletes are not looked up', async () => {
    const { env, edge } = await setUp();
    edge.failing.set('gone', 100); // were it looked up, its delete would be a dead letter
    const script = new EventScript().schema(SCHEMA);
    // Two batches of 36, each with every one of 12 keys (more than the 8 requests in flight) 3 times.
    for (let i = 0; i < 72; i++)
      script.change('public.movie', i < 12 ? 'c' : 'u', { movie_id: `m${i % 12}`, title: `t${i}` });
    script.change('public.movie', 'd', { movie_id: 'gone' });
    script.change('public.movie', 'd', { movie_id: 'm0' });
    expect(await run(project('    cacheTtl: 5m', 36), script)).toEqual({ kind: 'ended' });

    expect(Object.fromEntries(edge.calls)).toEqual(
      Object.fromEntries(Array.from({ length: 12 }, (_, i) => [`m${i}`, 1])),
    );
    // The header from env: reached the resolver with every call.
    expect(edge.authorization).toEqual(Array.from({ length: 12 }, () => TOKEN));

    const rows = await env.rows(RAW);
    expect(rows).toHaveLength(74);
    for (const row of rows.slice(0, 72))
      expect(row).toMatchObject({
        genre: `genre of ${String(row.movie_id)}`,
        runtime: 90 + String(row.movie_id).length,
      });
    expect(rows.find((r) => r.title === 't52')).toMatchObject({
      _op: 'u',
      movie_id: 'm4',
      genre: 'genre of m4',
      runtime: 92,
    });
    // The deletes pass through without outputs.
    expect(rows.slice(72)).toEqual([
      expect.objectContaining({ _op: 'd', movie_id: 'gone', genre: null, runtime: null }),
      expect.objectContaining({ _op: 'd', movie_id: 'm0', genre: null, runtime: null }),
    ]);
    // The outputs are columns of their types: a string, and an integer (long) by { path, type }.
    const fields = (await env.warehouse.load(RAW)).schema.fields;
    expect(fields.find((f) => f.name === 'genre')?.type).toBe('string');
    expect(fields.find((f) => f.name === 'runtime')?.type).toBe('long');
    expect(await env.rows(DEAD)).toEqual([]);
    expect((await env.store.get('edge'))?.deadLetters).toBe(0);
  });

  it('with cacheTtl 0s asks again in every batch, and every event of the batch gets its answer', async () => {
    const { env, edge } = await setUp();
    // m2 answers late: m1's answer is older than the batch's end, still its events' answer.
    edge.slow.set('m2', 50);
    const script = new EventScript().schema(SCHEMA);
    for (let i = 0; i < 8; i++)
      script.change('public.movie', 'u', { movie_id: i % 2 ? 'm2' : 'm1', title: `t${i}` });
    expect(await run(project('    cacheTtl: 0s', 4), script)).toEqual({ kind: 'ended' });
    expect(Object.fromEntries(edge.calls)).toEqual({ m1: 2, m2: 2 });
    const rows = await env.rows(RAW);
    expect(rows.map((r) => [r.title, r.genre])).toEqual(
      Array.from({ length: 8 }, (_, i) => [`t${i}`, `genre of ${i % 2 ? 'm2' : 'm1'}`]),
    );
    expect(await env.rows(DEAD)).toEqual([]);
  });

  it('retries a failing lookup with backoff; when the retries run out the events are dead letters, the rest committed', async () => {
    const { env, edge } = await setUp();
    edge.failing.set('m1', 2); // a GraphQL error twice, then an answer on the third attempt
    edge.refusing.set('m4', 1); // HTTP 500 once, then an answer
    edge.failing.set('m2', 100); // never
    edge.refusing.set('m5', 100); // never, and the page echoes the token
    const script = new EventScript()
      .schema(SCHEMA)
      .change('public.movie', 'c', { movie_id: 'm1', title: 'recovers' })
      .change('public.movie', 'c', { movie_id: 'm2', title: 'parked' })
      .change('public.movie', 'c', { movie_id: 'm3', title: 'fine' })
      .change('public.movie', 'u', { movie_id: 'm2', title: 'parked again' })
      .change('public.movie', 'c', { movie_id: 'm4', title: 'recovers from a 500' })
      .change('public.movie', 'c', { movie_id: 'm5', title: 'refused' });
    const waits: number[] = [];
    const backoff = (attempt: number) => {
      waits.push(attempt);
      return 10;
    };
    expect(await run(project('    retries: 2', 100), script, backoff)).toEqual({ kind: 'ended' });

    // Each key asked once per attempt (m2's two events share their lookups).
    expect(Object.fromEntries(edge.calls)).toEqual({ m1: 3, m2: 3, m3: 1, m4: 2, m5: 3 });
    // A wait before every retry, longer with each attempt: m1, m2 and m5 twice, m4 once.
    expect(waits.sort()).toEqual([0, 0, 0, 0, 1, 1, 1]);

    const rows = await env.rows(RAW);
    expect(rows.map((r) => [r.movie_id, r.title, r.genre, r.runtime])).toEqual([
      ['m1', 'recovers', 'genre of m1', 92],
      ['m3', 'fine', 'genre of m3', 92],
      ['m4', 'recovers from a 500', 'genre of m4', 92],
    ]);

    const dead = await env.rows(DEAD);
    expect(dead.map((d) => [d.upstream_table, d.op, d._seq, d.processor, d.attempts])).toEqual([
      ['public.movie', 'c', 3, LABEL, 3],
      ['public.movie', 'u', 5, LABEL, 3],
      ['public.movie', 'c', 7, LABEL, 3],
    ]);
    expect(dead.map((d) => JSON.parse(String(d.row_json)) as unknown)).toEqual([
      { movie_id: 'm2', title: 'parked' },
      { movie_id: 'm2', title: 'parked again' },
      { movie_id: 'm5', title: 'refused' },
    ]);
    expect(String(dead[0]!.error)).toBe('GraphQL errors: movie m2 is unavailable');
    expect(String(dead[2]!.error)).toMatch(/^HTTP 500: the answer is not JSON \(<p>proxy error \.+ /);
    for (const d of dead) expect(d.failed_at).toBeTruthy();
    // The token the page echoed is masked, all of it, though the page was cut short.
    expect(String(dead[2]!.error)).toContain('authorization=[redacted]');
    expect(JSON.stringify(dead)).not.toMatch(/s3cret|Bearer/);
    expect((await env.store.get('edge'))?.deadLetters).toBe(3);
  });

  it('a lookup past its timeout is a failure too', async () => {
    const { env, edge } = await setUp();
    edge.stalling.add('m9');
    const script = new EventScript()
      .schema(SCHEMA)
      .change('public.movie', 'c', { movie_id: 'm9', title: 'stalls' })
      .change('public.movie', 'c', { movie_id: 'm3', title: 'fine' });
    expect(await run(project('    timeout: 400ms\n    retries: 1', 100), script)).toEqual({ kind: 'ended' });
    expect(edge.calls.get('m9')).toBe(2);
    expect((await env.rows(RAW)).map((r) => [r.movie_id, r.genre])).toEqual([['m3', 'genre of m3']]);
    const dead = await env.rows(DEAD);
    expect(dead.map((d) => [JSON.parse(String(d.row_json)) as unknown, d.attempts])).toEqual([
      [{ movie_id: 'm9', title: 'stalls' }, 2],
    ]);
    expect(String(dead[0]!.error)).toMatch(/request failed: .*timeout/);
    expect((await env.store.get('edge'))?.deadLetters).toBe(1);
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

  function studio(name: string): Project {
    return projectOf([
      {
        path: `pipelines/${name}.yaml`,
        kind: 'pipeline',
        text: `name: ${name}
source: { type: postgres, connection: env:DB, tables: [public.movie] }
processors:
  - type: graphql_enrich
    endpoint: env:STRATA_URL
    query: "query($id: String!) { movie(where: { movie_id: { equals: $id } }, limit: 1) { genre status } }"
    variables: { id: movie_id }
    outputs: { genre: movie.genre, status: movie.status }
    headers: { X-Api-Key: env:STRATA_KEY }
    retries: 0
sink: { type: iceberg, namespace: ${name} }
`,
      },
    ]);
  }

  async function run(p: Project, ids: string[], apiKey: string): Promise<void> {
    const script = new EventScript().schema(SCHEMA);
    for (const id of ids) script.change('public.movie', 'u', { movie_id: id, title: 'x' });
    await runPipeline({
      pipeline: p.pipeline,
      compiler: p.compiler,
      warehouse: env.warehouse,
      duckdb: env.duckdb,
      source: new ScriptedSource(script.events),
      store: env.store,
      enrich: { env: { STRATA_URL: url, STRATA_KEY: apiKey }, backoffMs: () => 10 },
    });
  }

  it('looks each movie up by its key, with an API key from env:', async () => {
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
    for (const m of movies) expect(m.genre && m.status).toBeTruthy();

    await run(studio('studio'), [...movies.map((m) => m.movie_id), movies[0]!.movie_id], key);
    const rows = await env.rows({ namespace: 'studio', name: 'movie' });
    expect(rows.map((r) => [r.movie_id, r.genre, r.status])).toEqual(
      [...movies, movies[0]!].map((m) => [m.movie_id, m.genre, m.status]),
    );
    expect(await env.rows({ namespace: 'studio', name: 'studio__dead_letters' })).toEqual([]);
  });

  it('an API key the service refuses parks the events, the key masked', async () => {
    const wrong = generateApiKey();
    await run(studio('stranger'), ['m-1', 'm-2'], wrong);
    expect(await env.rows({ namespace: 'stranger', name: 'movie' })).toEqual([]);
    const dead = await env.rows({ namespace: 'stranger', name: 'stranger__dead_letters' });
    expect(dead.map((d) => [JSON.parse(String(d.row_json)) as unknown, d.attempts])).toEqual([
      [{ movie_id: 'm-1', title: 'x' }, 1],
      [{ movie_id: 'm-2', title: 'x' }, 1],
    ]);
    expect(String(dead[0]!.error)).toMatch(/^HTTP 401/);
    expect(JSON.stringify(dead)).not.toContain(wrong);
    expect((await env.store.get('stranger'))?.deadLetters).toBe(2);
  });
});
