/**
 * Escape attempts against every kind of SQL fragment a definition holds (spec §2; issue 7
 * §1): statement breakouts, comments, quoting tricks, dollar quoting, file, network and
 * settings functions, ATTACH / SET / COPY / INSTALL / LOAD. Each is refused by validation,
 * at the position of the fragment, whatever dialect it is written for; the few that are
 * valid SQL (a payload inside a string or a quoted name) are data: they run on DuckDB and
 * PostgreSQL and change nothing. The engines' own lockdown is tested in engine-sandbox.test.ts.
 */
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Compiler } from '../../src/core/compile.js';
import { formatDiagnostic } from '../../src/core/diagnostics.js';
import { buildModel, type DefinitionFile } from '../../src/core/model/build.js';
import { DuckDbEngine } from '../../src/engines/duckdb.js';
import { collect, type Engine } from '../../src/engines/engine.js';
import { MySqlEngine } from '../../src/engines/mysql.js';
import { PostgresEngine } from '../../src/engines/postgres.js';
import { MYSQL_URL, POSTGRES_URL, toMySqlDdl, uniqueSchema } from '../support/databases.js';

const toDdl = (engine: Engine, sql: string) => (engine.dialect === 'mysql' ? toMySqlDdl(sql) : sql);

const OUT = mkdtempSync(join(tmpdir(), 'strata-escape-'));
const target = (name: string) => join(OUT, name).replaceAll("'", "''");

/** Attempts that must be refused, whatever fragment they are put in. */
const REFUSED: readonly { name: string; sql: string }[] = [
  {
    name: 'statement breakout from a cast (the reported exploit)',
    sql: `name) AS VARCHAR) AS x FROM studio.vendor) SELECT 1 AS a; COPY (SELECT 42 AS pwned) TO '${target('pwned.csv')}'; WITH vendor AS (SELECT name, CAST((name`,
  },
  { name: 'second statement', sql: `title; DROP TABLE studio.movie` },
  { name: 'trailing semicolon', sql: `title;` },
  { name: 'line comment swallowing the rest', sql: `title --` },
  { name: 'block comment swallowing the rest', sql: `title /*` },
  { name: 'closing a block comment', sql: `title */ ) ; COPY x TO 'y' /*` },
  { name: 'unbalanced quote', sql: `title' || (SELECT 1) || '` },
  { name: 'unbalanced quoted identifier', sql: `"title` },
  { name: 'unbalanced parenthesis', sql: `(title` },
  { name: 'extra closing parenthesis', sql: `title)` },
  { name: 'dollar-quoted string', sql: `$$; COPY (SELECT 1) TO '${target('dollar.csv')}'; $$` },
  { name: 'tagged dollar quote', sql: `$x$ a $x$` },
  { name: 'positional parameter', sql: `$1` },
  { name: 'escape-string literal', sql: `E'\\'; COPY (SELECT 1) TO ''x''; --'` },
  { name: 'unicode-escape literal', sql: `U&'\\0041'` },
  { name: 'scalar subquery reading a file', sql: `(SELECT content FROM read_text('/etc/hostname'))` },
  { name: 'subquery reading a table', sql: `(SELECT max(name) FROM studio.vendor)` },
  { name: 'EXISTS subquery', sql: `EXISTS (SELECT 1)` },
  { name: 'IN subquery', sql: `title IN (SELECT name FROM studio.vendor)` },
  { name: 'read_text', sql: `read_text('/etc/hostname')` },
  { name: 'read_csv_auto', sql: `read_csv_auto('/etc/passwd')` },
  { name: 'read_blob', sql: `read_blob('/etc/hostname')` },
  { name: 'glob', sql: `glob('/etc/*')` },
  { name: 'pg_read_file', sql: `pg_read_file('/etc/passwd')` },
  { name: 'pg_ls_dir', sql: `pg_ls_dir('.')` },
  { name: 'pg_sleep', sql: `pg_sleep(60)` },
  { name: 'MySQL load_file', sql: `load_file('/etc/passwd')` },
  { name: 'MySQL sleep', sql: `sleep(60)` },
  { name: 'MySQL benchmark', sql: `benchmark(100000000, md5('x'))` },
  { name: 'MySQL get_lock', sql: `get_lock('strata', 60)` },
  { name: 'lo_import', sql: `lo_import('/etc/passwd')` },
  { name: 'lo_export', sql: `lo_export(1, '${target('lo.bin')}')` },
  { name: 'schema-qualified function', sql: `pg_catalog.pg_read_file('/etc/passwd')` },
  { name: 'query() runs SQL text', sql: `query('SELECT 1')` },
  { name: 'query_to_xml runs SQL text', sql: `query_to_xml('SELECT 1', true, true, '')` },
  { name: 'json_execute_serialized_sql', sql: `json_execute_serialized_sql('{}')` },
  { name: 'set_config', sql: `set_config('default_transaction_read_only', 'off', false)` },
  { name: 'current_setting', sql: `current_setting('allowed_directories')` },
  { name: 'getenv', sql: `getenv('HOME')` },
  { name: 'nextval', sql: `nextval('seq')` },
  { name: 'dblink', sql: `dblink('host=example.com', 'SELECT 1')` },
  { name: 'http table function', sql: `httpfs_get('http://example.com/')` },
  { name: 'ATTACH', sql: `ATTACH '${target('x.db')}' AS x` },
  { name: 'DETACH', sql: `DETACH strata_warehouse` },
  { name: 'SET', sql: `SET enable_external_access = true` },
  { name: 'SET after a value', sql: `1; SET lock_configuration = false` },
  { name: 'COPY', sql: `COPY (SELECT 42) TO '${target('copy.csv')}'` },
  { name: 'COPY as a call', sql: `COPY(SELECT 42)` },
  { name: 'INSTALL', sql: `INSTALL httpfs` },
  { name: 'LOAD', sql: `LOAD httpfs` },
  { name: 'PRAGMA', sql: `PRAGMA enable_profiling` },
  { name: 'CALL', sql: `CALL checkpoint()` },
  { name: 'window function', sql: `row_number() OVER ()` },
  { name: 'aggregate', sql: `max(title)` },
  { name: 'another table by name', sql: `studio.vendor.name` },
  { name: 'a lookalike semicolon (Greek question mark)', sql: `title\u037E DROP TABLE x` },
  { name: 'a NUL character', sql: `title\u0000` },
  { name: 'a stray question mark', sql: `title = ?` },
  { name: 'an unclosed placeholder', sql: `{title` },
  { name: 'empty', sql: ` ` },
];

/** Valid SQL whose payload is data (a string, a quoted name): accepted, printed escaped, harmless. */
const CONTAINED: readonly { name: string; sql: string }[] = [
  { name: 'payload inside a string', sql: `'x''); COPY (SELECT 1) TO ''${target('string.csv')}''; --'` },
  { name: 'a backslash at the end of a string', sql: `'\\' || title` },
  { name: 'payload inside a quoted name', sql: `"title""; COPY (SELECT 1) TO '${target('ident.csv')}'; --"` },
  { name: 'a backtick inside a quoted name', sql: '"title`; DROP TABLE movie; --"' },
  { name: 'a backslash before a quote', sql: `'\\''' || title` },
];

/** Where a fragment can sit: a source file with the payload on one known line. */
interface FragmentSite {
  name: string;
  /** The YAML of a source with `@@` where the payload goes (as a YAML string). */
  template: string;
  /** Whether the spot can also be written per dialect (`{ duckdb: ... }`). */
  perDialect: boolean;
}

const SITES: readonly FragmentSite[] = [
  {
    name: "a field's sql",
    perDialect: true,
    template: `name: movie
table: studio.movie
primaryKey: movie_id
fields:
  - { name: movie_id, type: string }
  - name: shown_title
    type: string
    sql: @@
`,
  },
  {
    name: "a measure's sql",
    perDialect: true,
    template: `name: movie
table: studio.movie
primaryKey: movie_id
fields:
  - { name: movie_id, type: string }
measures:
  - name: longest_title
    aggregate: max
    sql: @@
`,
  },
  {
    name: "a measure's filter",
    perDialect: true,
    template: `name: movie
table: studio.movie
primaryKey: movie_id
fields:
  - { name: movie_id, type: string }
measures:
  - name: some_movies
    aggregate: count
    filter: @@
`,
  },
  {
    name: 'a derived expression',
    perDialect: false,
    template: `name: movie
table: studio.movie
primaryKey: movie_id
fields:
  - { name: movie_id, type: string }
measures:
  - { name: movie_count, aggregate: count }
  - name: derived
    expression: @@
`,
  },
  {
    name: 'cdc.deletedWhen',
    perDialect: false,
    template: `name: movie
table: studio.movie
primaryKey: movie_id
cdc:
  orderBy: [_seq]
  deletedWhen: @@
fields:
  - { name: movie_id, type: string }
`,
  },
  {
    name: 'a row filter',
    perDialect: false,
    template: `name: movie
table: studio.movie
primaryKey: movie_id
fields:
  - { name: movie_id, type: string }
access:
  rowFilters:
    - role: vendor
      filter: @@
`,
  },
];

/** A source's `sql:`: the statement-level attempts, embedded in otherwise valid SELECTs. */
const QUERY_ATTEMPTS: readonly { name: string; sql: string }[] = [
  { name: 'second statement', sql: `SELECT * FROM studio.movie; COPY (SELECT 1) TO '${target('q1.csv')}'` },
  { name: 'trailing semicolon', sql: `SELECT * FROM studio.movie;` },
  { name: 'comment', sql: `SELECT * FROM studio.movie -- all of them` },
  { name: 'not a SELECT: COPY', sql: `COPY studio.movie TO '${target('q2.csv')}'` },
  { name: 'not a SELECT: ATTACH', sql: `ATTACH '${target('q.db')}'` },
  { name: 'not a SELECT: SET', sql: `SET enable_external_access = true` },
  { name: 'not a SELECT: INSTALL', sql: `INSTALL httpfs` },
  { name: 'not a SELECT: LOAD', sql: `LOAD httpfs` },
  { name: 'not a SELECT: CREATE', sql: `CREATE TABLE x AS SELECT 1` },
  { name: 'DuckDB FROM-first', sql: `FROM studio.movie` },
  { name: 'SELECT INTO', sql: `SELECT * INTO copy_of_movie FROM studio.movie` },
  { name: 'FOR UPDATE', sql: `SELECT * FROM studio.movie FOR UPDATE` },
  { name: 'data-modifying CTE', sql: `WITH d AS (DELETE FROM studio.movie RETURNING *) SELECT * FROM d` },
  { name: 'read_csv table function', sql: `SELECT * FROM read_csv('/etc/passwd')` },
  { name: 'read_text table function', sql: `SELECT * FROM read_text('/etc/hostname')` },
  { name: 'read_parquet table function', sql: `SELECT * FROM read_parquet('/tmp/*.parquet')` },
  { name: 'a file path as a table', sql: `SELECT * FROM '/etc/passwd'` },
  { name: 'query table function', sql: `SELECT * FROM query('SELECT 1')` },
  { name: 'postgres_scan', sql: `SELECT * FROM postgres_scan('host=x', 'public', 't')` },
  { name: 'pg_read_file in a column', sql: `SELECT pg_read_file('/etc/passwd') AS x FROM studio.movie` },
  { name: 'dollar quoting', sql: `SELECT $$x$$ AS y FROM studio.movie` },
  {
    name: 'set_config in a WHERE',
    sql: `SELECT * FROM studio.movie WHERE set_config('a.b', 'c', false) IS NOT NULL`,
  },
];

const yamlString = (text: string) => JSON.stringify(text);
const lineOf = (template: string) => template.split('\n').findIndex((l) => l.includes('@@')) + 1;

function diagnose(files: DefinitionFile[]) {
  return buildModel(files).diagnostics.filter((d) => d.severity === 'error');
}

function expectRefusedAt(files: DefinitionFile[], file: string, line: number): void {
  const errors = diagnose(files);
  expect(errors.length, 'no error reported').toBeGreaterThan(0);
  expect(
    errors.some((d) => d.location?.file === file && d.location.line === line),
    errors.map(formatDiagnostic).join('\n'),
  ).toBe(true);
}

describe('escape attempts are refused by validation, at their position', () => {
  for (const site of SITES) {
    describe(site.name, () => {
      it.each(REFUSED.map((a) => [a.name, a.sql]))('%s', (_name, sql) => {
        const line = lineOf(site.template);
        const text = site.template.replace('@@', yamlString(sql));
        expectRefusedAt([{ path: 'movie.yaml', kind: 'source', text }], 'movie.yaml', line);
        if (!site.perDialect) return;
        for (const dialect of ['duckdb', 'postgres', 'trino']) {
          const perDialect = site.template.replace('@@', `{ ${dialect}: ${yamlString(sql)} }`);
          expectRefusedAt([{ path: 'movie.yaml', kind: 'source', text: perDialect }], 'movie.yaml', line);
        }
      });
    });
  }

  describe("a source's sql", () => {
    const template = `name: movie\nsql: @@\nprimaryKey: movie_id\nfields:\n  - { name: movie_id, type: string }\n`;
    // Every expression attempt too, except the one that is a valid query in this place.
    const attempts = [...QUERY_ATTEMPTS, ...REFUSED.filter((a) => a.name !== 'subquery reading a table')];
    it.each(attempts.map((a) => [a.name, a.sql]))('%s', (_name, sql) => {
      const text = template.replace('@@', yamlString(sql));
      expectRefusedAt([{ path: 'movie.yaml', kind: 'source', text }], 'movie.yaml', 2);
    });
  });

  it('an error points at the offending character inside the YAML string', () => {
    const text = SITES[0]!.template.replace('@@', '"upper(title); DROP TABLE x"');
    const [d] = diagnose([{ path: 'movie.yaml', kind: 'source', text }]);
    // `    sql: "upper(title)` -> the ';' is column 10 + 1 (quote) + 12
    expect(`${d!.location!.line}:${d!.location!.col}`).toBe(`${lineOf(SITES[0]!.template)}:23`);
  });

  it('a source whose SQL is refused is left out of the model, and inputs using it stay quiet', () => {
    const text = SITES[0]!.template.replace('@@', yamlString('read_text(1)'));
    const { model, diagnostics } = buildModel([
      { path: 'movie.yaml', kind: 'source', text },
      { path: 'i.yaml', kind: 'input', text: 'name: i\nfrom: movie\nfields: [movie.shown_title]\n' },
    ]);
    expect(model.sources.has('movie')).toBe(false);
    expect(model.broken.has('movie')).toBe(true);
    expect(diagnostics.map((d) => d.code)).toEqual(['sql_not_allowed']);
  });
});

describe('payloads that are valid SQL stay data', () => {
  const schema = uniqueSchema('escape');
  const source = (sql: string) => `name: movie
table: ${schema}.movie
primaryKey: movie_id
fields:
  - { name: movie_id, type: string }
  - { name: title, type: string }
  - name: shown_title
    type: string
    sql: ${yamlString(sql)}
`;
  const input = 'name: shown\nfrom: movie\nfields: [movie.movie_id, movie.shown_title]\n';
  let duckdb: DuckDbEngine;
  let pg: PostgresEngine;
  let pgAdmin: PostgresEngine;
  let maria: MySqlEngine;
  let mariaAdmin: MySqlEngine;

  beforeAll(async () => {
    duckdb = await DuckDbEngine.open({ path: ':memory:' });
    pgAdmin = await PostgresEngine.connect(POSTGRES_URL);
    mariaAdmin = await MySqlEngine.connect(MYSQL_URL);
    for (const engine of [duckdb, pgAdmin, mariaAdmin]) {
      await engine.execute(`CREATE SCHEMA ${schema}`);
      await engine.execute(toDdl(engine, `CREATE TABLE ${schema}.movie (movie_id VARCHAR, title VARCHAR)`));
      await engine.execute(`INSERT INTO ${schema}.movie VALUES ('m1', 'It''s here')`);
    }
    await duckdb.lockDown({ directories: [] });
    pg = await PostgresEngine.connect(POSTGRES_URL, { readOnly: true });
    maria = await MySqlEngine.connect(MYSQL_URL, { readOnly: true });
  });

  afterAll(async () => {
    await duckdb?.close();
    await pg?.close();
    await maria?.close();
    await pgAdmin?.execute(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
    await pgAdmin?.close();
    await mariaAdmin?.execute(`DROP DATABASE IF EXISTS ${schema}`);
    await mariaAdmin?.close();
    rmSync(OUT, { recursive: true, force: true });
  });

  it.each(CONTAINED.map((c) => [c.name, c.sql]))('%s', async (_name, sql) => {
    const { model, diagnostics } = buildModel([
      { path: 'movie.yaml', kind: 'source', text: source(sql) },
      { path: 'shown.yaml', kind: 'input', text: input },
    ]);
    expect(diagnostics.map(formatDiagnostic)).toEqual([]);
    const compiler = new Compiler(model);
    const engines: Engine[] = [duckdb, pg, maria];
    for (const engine of engines) {
      const compiled = compiler.compile('shown', { dialect: engine.dialect });
      // A string payload comes back as the text it is; a quoted name is an unknown column.
      const outcome = await collect(engine.stream(compiled.sql)).then(
        (rows) => ({ rows }),
        (e: Error) => ({ error: e.message }),
      );
      if ('rows' in outcome) expect(outcome.rows).toHaveLength(1);
      else expect(outcome.error).toMatch(/column|Referenced|not found|does not exist/i);
    }
    expect(readdirSync(OUT)).toEqual([]);
  });

  it('left no file behind and changed no setting', async () => {
    expect(existsSync(join(OUT, 'pwned.csv'))).toBe(false);
    const { rows } = await duckdb.query(`SELECT current_setting('enable_external_access')`);
    expect(rows).toEqual([[false]]);
    const readOnly = await pg.query(`SHOW default_transaction_read_only`);
    expect(readOnly.rows).toEqual([['on']]);
    expect((await maria.query('SELECT @@session.tx_read_only')).rows).toEqual([[1]]);
  });
});
