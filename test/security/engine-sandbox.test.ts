/**
 * Defence in depth (issue 7 §1): even a statement that got past validation finds the
 * engines locked. DuckDB reaches only the warehouse (or the attached file), loads no
 * extension and cannot change that; PostgreSQL runs read-only, under a statement timeout and,
 * when configured, as a least-privileged role; Trino gets a query time limit. And a table
 * whose metadata is corrupt fails only the queries that read it, naming it and its file.
 */
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DuckDbEngine } from '../../src/engines/duckdb.js';
import { QueryError } from '../../src/engines/engine.js';
import { IcebergDuckDbEngine } from '../../src/engines/iceberg-duckdb.js';
import { openEngine } from '../../src/engines/open-engine.js';
import { PostgresEngine } from '../../src/engines/postgres.js';
import { fromUri } from '../../src/warehouse/index.js';
import { POSTGRES_URL, uniqueSchema } from '../support/databases.js';
import { startTrinoServer } from '../support/trino-server.js';
import { TestEnvironment } from '../warehouse/support.js';

const OUT = mkdtempSync(join(tmpdir(), 'strata-sandbox-'));
const outside = (name: string) => join(OUT, name).replaceAll("'", "''");

afterAll(() => rmSync(OUT, { recursive: true, force: true }));

/** Statements a breakout would try, and what a locked DuckDB answers. */
const DUCKDB_ATTEMPTS: readonly [string, RegExp][] = [
  [`COPY (SELECT 42 AS pwned) TO '${outside('pwned.csv')}'`, /disabled by configuration|Permission/],
  [`SELECT content FROM read_text('/etc/hostname')`, /disabled by configuration|Permission/],
  [`SELECT * FROM read_csv('/etc/passwd')`, /disabled by configuration|Permission/],
  [`SELECT * FROM '/etc/passwd'`, /disabled by configuration|Permission|Catalog/],
  [`ATTACH '${outside('other.db')}' AS other`, /disabled by configuration|Permission/],
  [`INSTALL httpfs`, /disabled by configuration|Permission/],
  [`LOAD httpfs`, /disabled through configuration|Permission/],
  [`SET enable_external_access = true`, /locked/],
  [`SET allowed_directories = ['/']`, /locked/],
  [`SET lock_configuration = false`, /locked/],
  [`RESET enable_external_access`, /locked/],
];

describe('a locked-down DuckDB', () => {
  let env: TestEnvironment;
  let engine: IcebergDuckDbEngine;

  beforeAll(async () => {
    env = await TestEnvironment.create();
    const warehouse = await env.warehouse();
    for (const name of ['movie', 'vendor']) {
      const id = { namespace: 'studio', name };
      await warehouse.createTable(id, [
        { name: 'id', type: 'long' },
        { name: 'name', type: 'string' },
      ]);
      await warehouse.appendRows(id, [{ id: 1, name: `${name} one` }]);
    }
    engine = await IcebergDuckDbEngine.open({ root: env.root, catalog: await env.catalog() });
  });

  afterAll(async () => {
    await engine?.close();
    await env?.dispose();
  });

  it('still reads the warehouse', async () => {
    expect((await engine.query('SELECT name FROM studio.movie')).rows).toEqual([['movie one']]);
  });

  it.each(DUCKDB_ATTEMPTS)('refuses %s', async (sql, answer) => {
    await expect(engine.execute(sql)).rejects.toThrow(answer);
  });

  it('left no file outside the warehouse and kept its settings', async () => {
    expect(readdirSync(OUT)).toEqual([]);
    const { rows } = await engine.query(
      `SELECT current_setting('enable_external_access'), current_setting('lock_configuration'), current_setting('autoload_known_extensions')`,
    );
    expect(rows).toEqual([[false, true, false]]);
  });

  it('fails only the queries that read a table whose metadata is corrupt, naming the table and file', async () => {
    const state = await (await env.warehouse()).load({ namespace: 'studio', name: 'vendor' });
    const file = fromUri(state.metadataLocation);
    writeFileSync(file, '{ not json');
    const fresh = await IcebergDuckDbEngine.open({ root: env.root, catalog: await env.catalog() });
    try {
      expect((await fresh.query('SELECT name FROM studio.movie')).rows).toEqual([['movie one']]);
      const failure = await fresh.query('SELECT name FROM studio.vendor').catch((e: unknown) => e);
      expect(failure).toBeInstanceOf(QueryError);
      expect((failure as Error).message).toContain('table studio.vendor cannot be read');
      expect((failure as Error).message).toContain(file);
    } finally {
      await fresh.close();
    }
  });
});

describe('a DuckDB database file opened for queries', () => {
  it('reads the file and nothing else', async () => {
    const path = join(mkdtempSync(join(tmpdir(), 'strata-file-')), 'data.duckdb');
    const writer = await DuckDbEngine.open({ path });
    await writer.execute('CREATE SCHEMA studio');
    await writer.execute(`CREATE TABLE studio.movie AS SELECT 'm1' AS id`);
    await writer.close();
    const engine = await openEngine('.', { database: path }, {});
    try {
      expect((await engine.query('SELECT id FROM studio.movie')).rows).toEqual([['m1']]);
      for (const [sql, answer] of DUCKDB_ATTEMPTS) await expect(engine.execute(sql)).rejects.toThrow(answer);
      expect(existsSync(join(OUT, 'pwned.csv'))).toBe(false);
    } finally {
      await engine.close();
      rmSync(path, { force: true });
    }
  });
});

describe('PostgreSQL sessions for queries', () => {
  const schema = uniqueSchema('sandbox');
  const role = `strata_reader_${process.pid}`;
  let admin: PostgresEngine;

  beforeAll(async () => {
    admin = await PostgresEngine.connect(POSTGRES_URL);
    await admin.execute(`CREATE SCHEMA ${schema}`);
    await admin.execute(`CREATE TABLE ${schema}.movie AS SELECT 'm1' AS id`);
    await admin.execute(`DROP ROLE IF EXISTS ${role}`);
    await admin.execute(`CREATE ROLE ${role} NOLOGIN`);
    await admin.execute(`GRANT USAGE ON SCHEMA ${schema} TO ${role}`);
    await admin.execute(`GRANT SELECT ON ALL TABLES IN SCHEMA ${schema} TO ${role}`);
  });

  afterAll(async () => {
    await admin?.execute(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
    await admin?.execute(`DROP ROLE IF EXISTS ${role}`);
    await admin?.close();
  });

  it('run read-only, as the configured role, under a statement timeout', async () => {
    const engine = await PostgresEngine.connect(POSTGRES_URL, {
      readOnly: true,
      role,
      statementTimeoutMs: 300,
      searchPath: schema,
    });
    try {
      expect((await engine.query('SELECT id FROM movie')).rows).toEqual([['m1']]);
      await expect(engine.execute('CREATE TABLE t (a int)')).rejects.toThrow(/read-only transaction/);
      await expect(engine.execute(`INSERT INTO movie VALUES ('m2')`)).rejects.toThrow(/read-only/);
      await expect(engine.query(`SELECT pg_read_file('/etc/hostname')`)).rejects.toThrow(/permission denied/);
      await expect(engine.execute(`COPY (SELECT 1) TO '${outside('pg.csv')}'`)).rejects.toThrow(
        /permission denied|must be superuser|pg_write_server_files|read-only/,
      );
      await expect(engine.query('SELECT pg_sleep(5)')).rejects.toThrow(/statement timeout/);
      expect(readdirSync(OUT)).toEqual([]);
    } finally {
      await engine.close();
    }
  });

  it('are what `openEngine` gives queries: read-only with the default 10-minute timeout', async () => {
    process.env.STRATA_SANDBOX_TEST_URL = POSTGRES_URL;
    const engine = await openEngine(
      '.',
      { engine: 'postgres' },
      { postgres: { connection: 'env:STRATA_SANDBOX_TEST_URL', schema } },
    );
    try {
      const { rows } = await engine.query(
        `SELECT current_setting('default_transaction_read_only'), current_setting('statement_timeout'), current_setting('search_path')`,
      );
      expect(rows).toEqual([['on', '10min', schema]]);
    } finally {
      await engine.close();
      delete process.env.STRATA_SANDBOX_TEST_URL;
    }
  });
});

describe('Trino sessions for queries', () => {
  it('carry query_max_execution_time (strata.yaml trino.statementTimeout)', async () => {
    const server = await startTrinoServer();
    try {
      const engine = await openEngine(
        '.',
        { engine: 'trino' },
        { trino: { server: server.url, user: 'strata', statementTimeout: '90s' } },
      );
      try {
        await engine.query('SELECT 1');
      } finally {
        await engine.close();
      }
      const posts = server.requests.filter((r) => r.method === 'POST');
      expect(posts.length).toBeGreaterThan(0);
      for (const post of posts)
        expect(post.headers['x-trino-session']).toBe('query_max_execution_time=90000ms');
    } finally {
      await server.close();
    }
  });
});
