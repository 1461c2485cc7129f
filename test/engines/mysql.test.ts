/**
 * The MySQL/MariaDB engine against the local MariaDB: values arrive as Cells, rows stream
 * in batches, sessions for definitions' queries are read-only under a time limit, and a
 * missing or wrong connection says what to do.
 */
import mysql from 'mysql2/promise';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dialectFor } from '../../src/core/sql/dialects/index.js';
import { collect } from '../../src/engines/engine.js';
import { MySqlEngine } from '../../src/engines/mysql.js';
import { openEngine } from '../../src/engines/open-engine.js';
import { MYSQL_URL, uniqueSchema } from '../support/databases.js';
import { exampleProject } from '../support/example-project.js';

/** MariaDB's own parser, through a prepared statement: a syntax error is ER_PARSE_ERROR. */
describe("every example input's MySQL SQL is valid syntax for MariaDB itself", () => {
  const { project, compiler } = exampleProject();
  let connection: mysql.Connection;
  beforeAll(async () => {
    connection = await mysql.createConnection(MYSQL_URL);
  });
  afterAll(() => connection.end());
  it.each([...project.model.inputs.keys()])('%s', async (name) => {
    const sql = compiler.compile(name, { dialect: 'mysql' }).sql;
    // The example tables do not exist here: what must not happen is a parse error.
    const code = await connection.prepare(sql).then(
      (statement) => (statement.close(), 'prepared'),
      (e: { code?: string; message: string }) => `${e.code}: ${e.message}`,
    );
    expect(code, sql).toMatch(/^(prepared|ER_NO_SUCH_TABLE|ER_BAD_DB_ERROR)/);
  });
});

describe('MySQL engine on MariaDB', () => {
  const schema = uniqueSchema('engine');
  let admin: MySqlEngine;
  beforeAll(async () => {
    admin = await MySqlEngine.connect(MYSQL_URL);
    await admin.execute(`CREATE DATABASE ${schema}`);
    await admin.execute(
      `CREATE TABLE ${schema}.t (id BIGINT, big BIGINT, price DECIMAL(12, 2), ratio DOUBLE, flag BOOLEAN, day DATE, at DATETIME(6), name VARCHAR(20))`,
    );
    await admin.execute(
      `INSERT INTO ${schema}.t VALUES (1, 9007199254740991, 12.50, 0.25, TRUE, '2026-01-31', '2026-01-31 12:34:56.5', 'a'), (2, NULL, NULL, NULL, NULL, NULL, NULL, NULL)`,
    );
  });
  afterAll(async () => {
    await admin.execute(`DROP DATABASE IF EXISTS ${schema}`);
    await admin.close();
  });

  it('hands over Cells: exact numbers as numbers, dates as text, timestamps as ISO UTC, booleans', async () => {
    const { rows, columns } = await admin.query(`SELECT * FROM ${schema}.t ORDER BY id`);
    expect(columns.map((c) => c.name)).toEqual(['id', 'big', 'price', 'ratio', 'flag', 'day', 'at', 'name']);
    expect(rows).toEqual([
      [1, 9007199254740991, 12.5, 0.25, true, '2026-01-31', '2026-01-31T12:34:56.500Z', 'a'],
      [2, null, null, null, null, null, null, null],
    ]);
  });

  it("knows today's date in a named time zone (the server's time zone tables, loaded by .ci/run)", async () => {
    const zone = 'Pacific/Kiritimati';
    const sql = `SELECT ${dialectFor('mysql').relativeTime('today', null, 1, zone)}`;
    const expected = new Intl.DateTimeFormat('en-CA', { timeZone: zone }).format(new Date());
    expect((await admin.query(sql)).rows).toEqual([[expected]]);
  });

  it('streams large results in batches', async () => {
    const digits =
      '(SELECT 0 AS d UNION ALL SELECT 1 UNION ALL SELECT 2 UNION ALL SELECT 3 UNION ALL SELECT 4 UNION ALL SELECT 5 UNION ALL SELECT 6 UNION ALL SELECT 7 UNION ALL SELECT 8 UNION ALL SELECT 9)';
    const sql = `SELECT a.d + 10 * b.d + 100 * c.d + 1000 * e.d AS i FROM ${digits} a, ${digits} b, ${digits} c, ${digits} e WHERE a.d + 10 * b.d + 100 * c.d + 1000 * e.d < 4500`;
    const batches: number[] = [];
    for await (const batch of admin.stream(sql)) batches.push(batch.length);
    expect(batches).toEqual([2000, 2000, 500]);
    await expect(collect(admin.stream('SELECT * FROM no_such_table'))).rejects.toThrow(
      /mysql: .*no_such_table/,
    );
  });

  it('runs queries read-only, in UTC, under a statement timeout', async () => {
    const engine = await MySqlEngine.connect(MYSQL_URL, { readOnly: true, statementTimeoutMs: 300 });
    try {
      expect((await engine.query(`SELECT count(*) FROM ${schema}.t`)).rows).toEqual([[2]]);
      await expect(engine.execute(`INSERT INTO ${schema}.t (id) VALUES (3)`)).rejects.toThrow(/READ ONLY/i);
      await expect(engine.query(`SELECT SLEEP(5) FROM ${schema}.t`)).rejects.toThrow(
        /max_statement_time|interrupted/i,
      );
      const { rows } = await engine.query('SELECT @@session.time_zone, @@session.sql_mode');
      expect(rows[0]![0]).toBe('+00:00');
      expect(String(rows[0]![1])).not.toMatch(/NO_BACKSLASH_ESCAPES|ANSI_QUOTES/);
    } finally {
      await engine.close();
    }
  });

  it('interrupt stops the running statement', async () => {
    const engine = await MySqlEngine.connect(MYSQL_URL);
    try {
      const running = engine.query('SELECT SLEEP(30)');
      await new Promise((resolve) => setTimeout(resolve, 300));
      await engine.interrupt();
      // MariaDB ends an interrupted SLEEP early, returning 1 or an "interrupted" error.
      const outcome = await running.then(
        (r) => r.rows,
        (e: Error) => e.message,
      );
      expect(outcome).toEqual(expect.anything());
    } finally {
      await engine.close();
    }
  }, 20_000);

  it('is what strata.yaml `engine: mysql` opens: read-only, 10-minute limit, connection from the environment', async () => {
    process.env.STRATA_MYSQL_TEST_URL = MYSQL_URL;
    try {
      const engine = await openEngine(
        '.',
        {},
        { engine: 'mysql', mysql: { connection: 'env:STRATA_MYSQL_TEST_URL' } },
      );
      try {
        const { rows } = await engine.query('SELECT @@session.tx_read_only, @@session.max_statement_time');
        expect(rows).toEqual([[1, 600]]);
        expect(engine.dialect).toBe('mysql');
      } finally {
        await engine.close();
      }
    } finally {
      delete process.env.STRATA_MYSQL_TEST_URL;
    }
  });

  it('says what to do when no connection is configured, and why one fails', async () => {
    const saved = process.env.MYSQL_URL;
    delete process.env.MYSQL_URL;
    try {
      await expect(openEngine('.', { engine: 'mysql' }, {})).rejects.toThrow(/mysql.connection: env:NAME/);
    } finally {
      if (saved !== undefined) process.env.MYSQL_URL = saved;
    }
    await expect(MySqlEngine.connect('mysql://root@127.0.0.1:1/test')).rejects.toThrow(
      /mysql: cannot connect: .*ECONNREFUSED/,
    );
  });
});
