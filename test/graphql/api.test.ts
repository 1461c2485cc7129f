/**
 * The GraphQL API of a running `strata serve` over the demo warehouse, through clients nobody
 * here wrote: graphql-request for every call, and GraphQL Code Generator turning the served
 * schema into TypeScript types that a sample client is then type-checked against (issue 8).
 * Callers authenticate with API keys; what they see and get follows the example project's
 * access policies.
 */
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { codegen } from '@graphql-codegen/core';
import * as typescriptPlugin from '@graphql-codegen/typescript';
import * as operationsPlugin from '@graphql-codegen/typescript-operations';
import type { INestApplication } from '@nestjs/common';
import {
  buildClientSchema,
  getIntrospectionQuery,
  parse,
  printSchema,
  type IntrospectionQuery,
} from 'graphql';
import { ClientError, GraphQLClient, gql } from 'graphql-request';
import ts from 'typescript';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { demoCommand } from '../../src/cli/commands.js';
import { Compiler } from '../../src/core/compile.js';
import { DuckDbEngine } from '../../src/engines/duckdb.js';
import { collect } from '../../src/engines/engine.js';
import { SqliteCatalog } from '../../src/warehouse/catalog.js';
import { Warehouse } from '../../src/warehouse/table.js';
import { openEngine } from '../../src/engines/open-engine.js';
import { generateApiKey, hashApiKey } from '../../src/service/auth/api-keys.js';
import { createService } from '../../src/service/create-service.js';
import { loadProject } from '../../src/project/load-project.js';
import { REPO_ROOT } from '../support/example-project.js';
import { deleteKeys, REDIS_URL, silentLogger, uniquePrefix } from '../service/support.js';

const prefix = uniquePrefix('graphql');
const dir = mkdtempSync(join(tmpdir(), 'strata-api-'));
const keys = {
  finance: generateApiKey(),
  studio: generateApiKey(),
  vendor: generateApiKey(),
  otherVendor: generateApiKey(),
  nobody: generateApiKey(),
};
let app: INestApplication;
let url: string;

/** A new row in the demo's movie table: a new Iceberg snapshot, as any writer would commit it. */
async function appendMovie(row: Record<string, unknown>): Promise<void> {
  const duckdb = await DuckDbEngine.open({ path: ':memory:' });
  const catalog = SqliteCatalog.open(join(dir, '.strata', 'catalog.db'));
  try {
    const warehouse = new Warehouse({
      root: join(dir, '.strata', 'warehouse'),
      catalog,
      duckdb: duckdb.rawConnection,
    });
    await warehouse.appendRows({ namespace: 'studio', name: 'movie' }, [row]);
  } finally {
    await catalog.close();
    await duckdb.close();
  }
}

const client = (key?: string) => new GraphQLClient(url, { headers: key ? { 'X-Api-Key': key } : {} });

/** The HTTP status and GraphQL error codes of a failed request. */
async function failure(request: Promise<unknown>): Promise<{ status: number; codes: unknown[] }> {
  const error = await request.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(ClientError);
  const { response } = error as ClientError;
  return { status: response.status, codes: (response.errors ?? []).map((e) => e.extensions?.code) };
}

beforeAll(async () => {
  cpSync(join(REPO_ROOT, 'definitions'), join(dir, 'definitions'), { recursive: true });
  cpSync(join(REPO_ROOT, 'trackers'), join(dir, 'trackers'), { recursive: true });
  const entry = (id: string, key: string, roles: string[], attributes: Record<string, string> = {}) => ({
    id,
    hash: hashApiKey(key),
    roles,
    attributes,
  });
  writeFileSync(
    join(dir, 'keys.yaml'),
    JSON.stringify({
      keys: [
        entry('finance-app', keys.finance, ['finance', 'studio']),
        entry('studio-app', keys.studio, ['studio']),
        entry('vendor-portal', keys.vendor, ['vendor'], { vendor_id: 'VND-054' }),
        entry('other-vendor-portal', keys.otherVendor, ['vendor'], { vendor_id: 'VND-103' }),
        entry('nobody', keys.nobody, []),
      ],
    }),
  );
  writeFileSync(
    join(dir, 'strata.yaml'),
    JSON.stringify({ auth: { apiKeys: { file: 'keys.yaml' } }, graphql: { maxDepth: 6, maxStatements: 6 } }),
  );
  expect(await demoCommand(dir, {})).toBe(0);
  app = await createService({
    projectDir: dir,
    port: 0,
    host: '127.0.0.1',
    redisUrl: REDIS_URL,
    prefix,
    logger: silentLogger(),
    debounceMs: 50,
    reloadIntervalMs: 0,
  });
  url = `${await app.getUrl()}/graphql`.replace('[::1]', '127.0.0.1');
});

afterAll(async () => {
  await app?.close();
  await deleteKeys(prefix);
  rmSync(dir, { recursive: true, force: true });
});

const MOVIES = gql`
  query Movies($country: String!) {
    movie(where: { production: { country: { equals: $country } } }, orderBy: [{ field: title }], limit: 5) {
      movie_id
      title
      launch_date
      production(where: { country: { equals: $country } }) {
        production_id
        start_date
        production_count
      }
    }
  }
`;

interface MoviesResult {
  movie: {
    movie_id: string;
    title: string;
    launch_date: string | null;
    production: { production_id: string; start_date: string | null; production_count: number }[];
  }[];
}

describe('authentication', () => {
  it('a request without a credential is refused with 401', async () => {
    expect((await failure(client().request('{ inputs { name } }'))).status).toBe(401);
  });

  it('a request with an unknown key is refused with 401', async () => {
    expect((await failure(client(generateApiKey()).request('{ inputs { name } }'))).status).toBe(401);
  });
});

describe('the typed API', () => {
  it('answers what strata run answers for the same question', async () => {
    const data = await client(keys.studio).request<MoviesResult>(MOVIES, { country: 'ES' });
    expect(data.movie.length).toBeGreaterThan(0);
    const project = loadProject(dir);
    const compiler = new Compiler(project.model);
    const engine = await openEngine(dir, {}, project.config);
    try {
      const compiled = compiler.compile('movies_shooting_in_spain', { dialect: 'duckdb' });
      const titles = (await collect(engine.stream(compiled.sql))).map(
        (r) => r[compiled.columns.findIndex((c) => c.name === 'title')],
      );
      for (const movie of data.movie) {
        expect(titles).toContain(movie.title);
        expect(movie.production.length).toBeGreaterThan(0);
        expect(movie.production.every((p) => p.production_count === 1)).toBe(true);
      }
    } finally {
      await engine.close();
    }
  });

  it('a vendor sees only its own purchase orders', async () => {
    const data = await client(keys.vendor).request<{ purchase_order: { vendor_id: string }[] }>(
      '{ purchase_order(limit: 500) { po_id vendor_id amount_usd } }',
    );
    expect(data.purchase_order.length).toBeGreaterThan(0);
    expect(new Set(data.purchase_order.map((p) => p.vendor_id))).toEqual(new Set(['VND-054']));
  });

  it('callers whose row filters differ never share a cached answer', async () => {
    const query =
      '{ run(query: { from: "purchase_order", fields: [{ field: "purchase_order.po_count" }] }) { rows cached } }';
    type Result = { run: { rows: { po_count: number }[]; cached: boolean } };
    const first = await client(keys.vendor).request<Result>(query);
    expect((await client(keys.vendor).request<Result>(query)).run.cached).toBe(true);
    const other = await client(keys.otherVendor).request<Result>(query);
    expect(other.run.cached).toBe(false);
    expect(other.run.rows).not.toEqual(first.run.rows);
  });

  it('a field the caller may not read is not in their schema: the query is refused', async () => {
    const refused = await failure(client(keys.studio).request('{ movie(limit: 1) { title budget_usd } }'));
    expect(refused.status).toBe(400);
    const allowed = await client(keys.finance).request<{ movie: { budget_usd: string }[] }>(
      '{ movie(limit: 1, where: { budget_usd: { is_null: false } }) { title budget_usd } }',
    );
    expect(typeof allowed.movie[0]!.budget_usd).toBe('string');
  });

  it('introspection shows a caller only what they may read', async () => {
    const fieldsOf = async (key: string) => {
      const data = await client(key).request<IntrospectionQuery>(getIntrospectionQuery());
      const movie = data.__schema.types.find((t) => t.name === 'Movie');
      return movie && 'fields' in movie ? (movie.fields ?? []).map((f) => f.name) : [];
    };
    expect(await fieldsOf(keys.finance)).toContain('total_budget');
    expect(await fieldsOf(keys.studio)).not.toContain('total_budget');
    const nobody = await client(keys.nobody).request<IntrospectionQuery>(getIntrospectionQuery());
    expect(nobody.__schema.types.some((t) => t.name === 'PurchaseOrder')).toBe(false);
  });

  it('refuses queries deeper or costlier than the limits, before running anything', async () => {
    const deep = await failure(
      client(keys.studio).request(
        '{ production { movie { production { movie { production { movie { production { country } } } } } } } }',
      ),
    );
    expect(deep).toEqual({ status: 400, codes: ['QUERY_TOO_DEEP'] });
    const costly = await failure(
      client(keys.studio).request(
        '{ a: movie { title } b: movie { title } c: movie { title } d: movie { title } e: movie { title } f: movie { title } g: movie { title } }',
      ),
    );
    expect(costly).toEqual({ status: 400, codes: ['QUERY_TOO_COSTLY'] });
  });
});

describe('the generic API', () => {
  it('runs a semantic query, and serves the same answer from the cache until a table changes', async () => {
    const query = gql`
      query {
        run(
          query: {
            from: "movie"
            fields: [{ field: "movie.genre" }, { field: "movie.movie_count" }]
            sort: [{ field: "movie.genre" }]
          }
        ) {
          rows
          cached
          columns {
            name
            type
          }
        }
      }
    `;
    type Result = { run: { rows: { genre: string; movie_count: number }[]; cached: boolean } };
    const first = await client(keys.studio).request<Result>(query);
    const second = await client(keys.studio).request<Result>(query);
    expect(second.run.rows).toEqual(first.run.rows);
    expect(second.run.cached).toBe(true);
    await appendMovie({
      movie_id: 'MOV-CACHE',
      title: 'Cache Buster',
      genre: 'Zz Test',
      status: 'active',
      is_test: false,
    });
    const third = await client(keys.studio).request<Result>(query);
    expect(third.run.cached).toBe(false);
    expect(third.run.rows).toContainEqual({ genre: 'Zz Test', movie_count: 1 });
  });

  it('refuses a denied measure with 403 and the reason', async () => {
    const refused = await failure(
      client(keys.studio).request('{ run(query: { input: "budget_by_production_country" }) { rows } }'),
    );
    expect(refused).toEqual({ status: 403, codes: ['FORBIDDEN'] });
  });

  it('lists the catalog the caller may read', async () => {
    const data = await client(keys.nobody).request<{
      dataSources: { name: string }[];
      inputs: { name: string }[];
    }>('{ dataSources { name } inputs { name } }');
    expect(data.dataSources.map((s) => s.name)).not.toContain('purchase_order');
    expect(data.inputs.map((i) => i.name)).not.toContain('top_vendors_by_spend');
    expect(data.inputs.map((i) => i.name)).toContain('movie_cast');
    expect(data.inputs.map((i) => i.name)).not.toContain('movie_catalog'); // it shows budgets
  });

  it('compiles for another dialect, and plans a tracker without writing', async () => {
    const data = await client(keys.studio).request<{
      compile: { sql: string; dialect: string };
      syncTracker: { status: string; rows: number; destinations: { status: string }[] };
    }>(
      `mutation { syncTracker(name: "shoot-days-extract", dryRun: true) { status rows destinations { status } } }`,
    );
    expect(data.syncTracker.status).toBe('dry_run');
    expect(data.syncTracker.rows).toBeGreaterThan(0);
    const compiled = await client(keys.studio).request<{ compile: { sql: string; dialect: string } }>(
      '{ compile(query: { input: "movies_in_production", params: { country: "ES" } }, dialect: trino) { sql dialect } }',
    );
    expect(compiled.compile.dialect).toBe('trino');
    expect(compiled.compile.sql).toContain("'ES'");
    // The generic query takes the filter trees of input files: not, all inside any.
    const tree = await client(keys.studio).request<{ compile: { sql: string } }>(
      `{ compile(query: { from: "movie", fields: [{ field: "movie.title" }], filters: [
          { not: { field: "movie.title", op: starts_with, value: "Untitled" } },
          { any: [{ all: [{ field: "movie.status", op: equals, value: "active" }, { field: "movie.genre", op: equals, value: "Drama" }] },
                  { field: "movie.status", op: is_null }] }] }) { sql } }`,
    );
    expect(tree.compile.sql).toContain("NOT (lower(title) LIKE lower('Untitled%') ESCAPE '!')");
    expect(tree.compile.sql).toContain("((status = 'active' AND genre = 'Drama') OR status IS NULL)");
  });

  it("tells each tracker's freshness", async () => {
    const data = await client(keys.studio).request<{
      trackers: {
        name: string;
        schedule: string | null;
        freshness: { state: string; reason: string; staleAfter: number };
      }[];
    }>('{ trackers { name schedule freshness { state reason staleAfter } } }');
    expect(data.trackers.length).toBeGreaterThan(0);
    for (const t of data.trackers) {
      // No successful run yet here: scheduled ones wait for their first, the others are on demand.
      expect(t.freshness.state).toBe(t.schedule ? 'pending' : 'unscheduled');
      expect(t.freshness.reason).not.toBe('');
      expect(t.freshness.staleAfter).toBe(2);
    }
  });
});

describe('definitions reloading', () => {
  it('a new field is served without a restart', async () => {
    const path = join(dir, 'definitions', 'sources', 'vendor.yaml');
    const before = readFileSync(path, 'utf8');
    const added = '  - { name: shouting_name, type: string, sql: upper(name) }\n';
    writeFileSync(path, before.replace(/^fields:\n/m, `fields:\n${added}`));
    try {
      const query = '{ vendor(limit: 1, orderBy: [{ field: vendor_id }]) { name shouting_name } }';
      type Result = { vendor: { name: string; shouting_name: string }[] };
      let answer: Result | undefined;
      for (let attempt = 0; attempt < 100 && !answer; attempt++) {
        answer = await client(keys.studio)
          .request<Result>(query)
          .catch(() => undefined);
        if (!answer) await new Promise((r) => setTimeout(r, 100));
      }
      expect(answer!.vendor[0]!.shouting_name).toBe(answer!.vendor[0]!.name.toUpperCase());
    } finally {
      writeFileSync(path, before);
    }
  });
});

describe('GraphQL Code Generator', () => {
  it('types the served schema, and a sample client type-checks against them', async () => {
    const introspection = await client(keys.studio).request<IntrospectionQuery>(getIntrospectionQuery());
    const schema = buildClientSchema(introspection);
    const output = await codegen({
      schema: parse(printSchema(schema)),
      documents: [{ document: parse(MOVIES) }],
      filename: 'api.ts',
      config: {
        scalars: { Date: 'string', Timestamp: 'string', Decimal: 'string', Long: 'number', JSON: 'unknown' },
      },
      plugins: [{ typescript: {} }, { typescriptOperations: {} }],
      pluginMap: { typescript: typescriptPlugin, typescriptOperations: operationsPlugin },
    });
    const work = mkdtempSync(join(tmpdir(), 'strata-codegen-'));
    try {
      writeFileSync(join(work, 'api.ts'), output);
      // A client that uses the generated types: a wrong field or type must not compile.
      const good = `import type { MoviesQuery, MoviesQueryVariables } from './api';
export function titles(data: MoviesQuery, vars: MoviesQueryVariables): string[] {
  const country: string = vars.country;
  return data.movie.map((m) => \`\${m.title} \${country} \${m.production.map((p) => p.production_count ?? 0).join()}\`);
}
`;
      const bad = `import type { MoviesQuery } from './api';
export const budget = (data: MoviesQuery): number => data.movie[0]!.budget_usd;
`;
      const check = (source: string) => {
        writeFileSync(join(work, 'client.ts'), source);
        const program = ts.createProgram([join(work, 'client.ts')], {
          strict: true,
          noEmit: true,
          skipLibCheck: true,
        });
        return ts
          .getPreEmitDiagnostics(program)
          .map((d) => ts.flattenDiagnosticMessageText(d.messageText, '\n'));
      };
      expect(check(good)).toEqual([]);
      expect(check(bad).join('\n')).toMatch(/budget_usd/);
      expect(readFileSync(join(work, 'api.ts'), 'utf8')).toContain('production_count');
    } finally {
      rmSync(work, { recursive: true, force: true });
    }
  });
});
