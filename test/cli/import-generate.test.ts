/**
 * Issue 12, "your own data": `strata import` loads CSV, Parquet and JSON into the embedded
 * warehouse; `strata generate source` drafts a source that validates at once and runs.
 * Commands are called in-process (the CLI process itself is not what is tested here).
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { DuckDBInstance } from '@duckdb/node-api';
import { validateCommand, runCommand } from '../../src/cli/commands.js';
import { generateSourceCommand } from '../../src/cli/generate-command.js';
import { importCommand, importFiles } from '../../src/cli/import-command.js';
import { mysql, MYSQL_URL, postgres, POSTGRES_URL, uniqueSchema } from '../support/databases.js';
import { strataInProcess } from '../support/in-process-cli.js';

let dir: string;

/** A minimal project: an empty strata.yaml and the definition folders. */
function newProject(name: string): string {
  const project = join(dir, name);
  for (const sub of ['definitions/sources', 'definitions/inputs', 'trackers'])
    mkdirSync(join(project, sub), { recursive: true });
  writeFileSync(join(project, 'strata.yaml'), '');
  return project;
}

/** What a command printed on stdout, and what it returned. */
async function captured<T>(body: () => Promise<T> | T): Promise<{ value: T; out: string }> {
  const chunks: string[] = [];
  const spy = vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
    chunks.push(String(chunk));
    return true;
  });
  try {
    const value = await body();
    return { value, out: chunks.join('') };
  } finally {
    spy.mockRestore();
  }
}

/** Writes small input files with DuckDB COPY. */
async function makeFiles(): Promise<void> {
  const instance = await DuckDBInstance.create(':memory:');
  const c = await instance.connect();
  const rows = `SELECT * FROM (VALUES (1, 'Ada', 12.50::DECIMAL(10,2), DATE '2026-01-03'), (2, 'Grace', 7.25, DATE '2026-01-04'), (3, 'Linus', 100.00, DATE '2026-02-10')) v(order_id, customer, amount, ordered_on)`;
  const lit = (p: string) => `'${p.replaceAll("'", "''")}'`;
  await c.run(`COPY (${rows}) TO ${lit(join(dir, 'orders.csv'))} (FORMAT csv, HEADER)`);
  await c.run(`COPY (${rows}) TO ${lit(join(dir, 'orders.parquet'))} (FORMAT parquet)`);
  await c.run(`COPY (${rows}) TO ${lit(join(dir, 'orders.json'))} (FORMAT json)`);
  await c.run(
    `COPY (SELECT 4 AS order_id, 'Edsger' AS customer, 'n/a' AS amount) TO ${lit(join(dir, 'bad.csv'))} (FORMAT csv, HEADER)`,
  );
  mkdirSync(join(dir, 'parts'));
  await c.run(
    `COPY (${rows} WHERE order_id < 3) TO ${lit(join(dir, 'parts', 'part-1.csv'))} (FORMAT csv, HEADER)`,
  );
  await c.run(
    `COPY (${rows} WHERE order_id = 3) TO ${lit(join(dir, 'parts', 'part-2.csv'))} (FORMAT csv, HEADER)`,
  );
  c.closeSync();
  instance.closeSync();
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'strata-import-'));
  await makeFiles();
  writeFileSync(join(dir, 'orders.xlsx'), 'not really');
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));
afterEach(() => vi.restoreAllMocks());

const INPUT = `name: all_orders
from: orders
fields: [orders.order_id, orders.customer, orders.amount, orders.ordered_on]
sort: [{ field: orders.order_id, direction: asc }]
`;

describe('strata import', () => {
  it('imports a CSV, shows the typed columns, and a generated source runs with its rows', async () => {
    const project = newProject('csv');
    const imported = await captured(() =>
      importCommand(project, join(dir, 'orders.csv'), { table: 'app.orders' }),
    );
    expect(imported.value).toBe(0);
    expect(imported.out).toMatch(/orders\.csv \(csv\): 4 columns/);
    expect(imported.out).toMatch(/order_id\s+long/);
    expect(imported.out).toMatch(/ordered_on\s+date/);
    expect(imported.out).toContain('app.orders: created, appended 3 rows');

    const generated = await captured(() => generateSourceCommand(project, 'app.orders', {}));
    expect(generated.value).toBe(0);
    const yaml = readFileSync(join(project, 'definitions/sources/orders.yaml'), 'utf8');
    expect(yaml).toContain('table: app.orders');
    expect(yaml).toMatch(/primaryKey:\n\s+- order_id/);
    expect(yaml).toContain('label: Ordered On');
    expect(yaml).toMatch(/name: amount\n\s+type: number/);

    writeFileSync(join(project, 'definitions/inputs/all_orders.yaml'), INPUT);
    expect((await captured(() => validateCommand(project))).value).toBe(0);
    const run = await captured(() => runCommand(project, 'all_orders', { format: 'csv' }));
    expect(run.out.trim().split('\n')).toEqual([
      'order_id,customer,amount,ordered_on',
      '1,Ada,12.5,2026-01-03',
      '2,Grace,7.25,2026-01-04',
      '3,Linus,100,2026-02-10',
    ]);

    // generate refuses to overwrite the draft without --force
    await expect(generateSourceCommand(project, 'app.orders', {})).rejects.toThrow(/--force/);
  });

  it('imports Parquet and JSON, appends, replaces, and refuses a type conflict', async () => {
    const project = newProject('formats');
    const parquet = await captured(() =>
      importFiles(project, join(dir, 'orders.parquet'), { table: 'app.orders' }),
    );
    expect(parquet.out).toMatch(/amount\s+decimal\(10, 2\)/);
    expect(await rowCount(project, 'app.orders')).toBe(3);

    const again = await captured(() =>
      importFiles(project, join(dir, 'orders.parquet'), { table: 'app.orders' }),
    );
    expect(again.value).toMatchObject({ rows: 3, created: false, mode: 'append' });
    expect(await rowCount(project, 'app.orders')).toBe(6);

    const replaced = await captured(() =>
      importFiles(project, join(dir, 'orders.parquet'), { table: 'app.orders', mode: 'replace' }),
    );
    expect(replaced.value).toMatchObject({ rows: 3, mode: 'replace' });
    expect(await rowCount(project, 'app.orders')).toBe(3);

    // JSON numbers are read as doubles
    const json = await captured(() =>
      importFiles(project, join(dir, 'orders.json'), { table: 'app.json_orders' }),
    );
    expect(json.out).toMatch(/amount\s+double/);
    expect(await rowCount(project, 'app.json_orders')).toBe(3);

    // a text amount cannot go into decimal(10, 2): one clear error, nothing committed
    await expect(
      captured(() => importFiles(project, join(dir, 'bad.csv'), { table: 'app.orders' })),
    ).rejects.toThrow(
      'cannot append to app.orders: column amount is decimal(10, 2) in the table but string in the file (use --mode replace to recreate the table)',
    );
    expect(await rowCount(project, 'app.orders')).toBe(3);

    // replace with other types recreates the table with the file's columns
    const recreated = await captured(() =>
      importFiles(project, join(dir, 'bad.csv'), { table: 'app.orders', mode: 'replace' }),
    );
    expect(recreated.value).toMatchObject({ rows: 1, created: true });
    expect(await query(project, 'SELECT order_id, amount FROM app.orders')).toEqual([[4, 'n/a']]);
  });

  it('loads every file a glob matches in one snapshot', async () => {
    const project = newProject('glob');
    const out = await captured(() =>
      importCommand(project, join(dir, 'parts', 'part-*.csv'), { table: 'app.orders' }),
    );
    expect(out.out).toContain('2 files (csv): 4 columns');
    expect(out.out).toContain('app.orders: created, appended 3 rows');
    expect(await query(project, 'SELECT order_id FROM app.orders ORDER BY 1')).toEqual([[1], [2], [3]]);
  });

  it('says what is wrong with the file or the flags', async () => {
    const project = newProject('errors');
    await expect(importFiles(project, join(dir, 'missing.csv'), { table: 'app.t' })).rejects.toThrow(
      /^no such file: .*missing\.csv$/,
    );
    await expect(importFiles(project, join(dir, 'orders.xlsx'), { table: 'app.t' })).rejects.toThrow(
      /cannot tell the format of .*orders\.xlsx from its extension: pass --format csv\|parquet\|json/,
    );
    await expect(
      importFiles(project, join(dir, 'orders.csv'), { table: 'app.t', format: 'parquet' }),
    ).rejects.toThrow(/^cannot read .*orders\.csv as parquet: /);
    await expect(importFiles(project, join(dir, 'orders.csv'), { table: 'orders' })).rejects.toThrow(
      /--table expects schema\.table/,
    );
    await expect(importFiles(project, join(dir, 'nothing-*.csv'), { table: 'app.t' })).rejects.toThrow(
      /no file matches/,
    );
  });

  it('reports each failure as one stderr line with the exit code of SPEC §10', async () => {
    const project = newProject('exit-codes');
    const outcome = async (file: string, flags: { table: string; format?: string }) => {
      const format = flags.format ? ['--format', flags.format] : [];
      const r = await strataInProcess([
        'import',
        join(dir, file),
        '--table',
        flags.table,
        ...format,
        '--project',
        project,
      ]);
      return { code: r.status, stderr: r.stderr };
    };
    expect(await outcome('missing.csv', { table: 'app.t' })).toMatchObject({ code: 2 });
    expect(await outcome('orders.xlsx', { table: 'app.t' })).toMatchObject({ code: 2 });
    await outcome('orders.parquet', { table: 'app.t' });
    const conflict = await outcome('bad.csv', { table: 'app.t' });
    expect(conflict.code).toBe(1);
    expect(conflict.stderr.trim().split('\n')).toEqual([
      'error: cannot append to app.t: column amount is decimal(10, 2) in the table but string in the file (use --mode replace to recreate the table)',
    ]);
    const unreadable = await outcome('orders.csv', { table: 'app.t', format: 'json' });
    expect(unreadable.code).toBe(1);
    expect(unreadable.stderr.trim().split('\n')).toHaveLength(1);
  });

  it('--cdc makes a raw CDC table: _op, _op_ts, _seq continuing across imports', async () => {
    const project = newProject('cdc');
    await captured(() => importFiles(project, join(dir, 'orders.csv'), { table: 'raw.orders', cdc: true }));
    await captured(() => importFiles(project, join(dir, 'orders.csv'), { table: 'raw.orders', cdc: true }));
    const rows = await query(project, 'SELECT _op, _seq FROM raw.orders ORDER BY _seq');
    expect(rows).toEqual([
      ['r', 1],
      ['r', 2],
      ['r', 3],
      ['c', 4],
      ['c', 5],
      ['c', 6],
    ]);
    await expect(importFiles(project, join(dir, 'orders.csv'), { table: 'raw.orders' })).rejects.toThrow(
      /raw CDC table .*--cdc/,
    );
  });
});

describe('strata generate source', () => {
  it('drafts a source from a PostgreSQL table that validates at once', async () => {
    const schema = uniqueSchema('gen');
    const pg = await postgres();
    try {
      await pg.execute(`CREATE SCHEMA ${schema}`);
      await pg.execute(
        `CREATE TABLE ${schema}.line_items (line_item_id integer PRIMARY KEY, "OrderRef" text, unit_price numeric(10,2), qty smallint, shipped_at timestamptz, gift boolean, weight real)`,
      );
      await pg.execute(`INSERT INTO ${schema}.line_items VALUES (1, 'a', 1.5, 2, now(), true, 0.5)`);
      const project = newProject('pg');
      writeFileSync(
        join(project, 'strata.yaml'),
        'engine: postgres\npostgres:\n  connection: env:GEN_TEST_PG\n',
      );
      process.env.GEN_TEST_PG = POSTGRES_URL;
      const out = await captured(() => generateSourceCommand(project, `${schema}.line_items`, { out: '-' }));
      expect(out.value).toBe(0);
      expect(out.out).toContain(`table: ${schema}.line_items`);
      expect(out.out).toMatch(/primaryKey:\n\s+- line_item_id/);
      expect(out.out).toMatch(/name: order_ref\n\s+type: string\n\s+label: Order Ref\n\s+sql: '"OrderRef"'/);
      expect(out.out).toMatch(/name: unit_price\n\s+type: decimal/);
      expect(out.out).toMatch(/name: qty\n\s+type: integer/);
      expect(out.out).toMatch(/name: shipped_at\n\s+type: timestamp/);
      expect(out.out).toMatch(/name: gift\n\s+type: boolean/);
      expect(out.out).toMatch(/name: weight\n\s+type: number/);
      writeFileSync(join(project, 'definitions/sources/line_items.yaml'), out.out);
      expect((await captured(() => validateCommand(project))).value).toBe(0);
    } finally {
      await pg.execute(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
      await pg.close();
    }
  });
});

describe('strata generate source from MySQL', () => {
  it('reads information_schema of the configured MySQL/MariaDB database', async () => {
    const database = uniqueSchema('gen');
    const maria = await mysql();
    try {
      await maria.execute(`CREATE DATABASE ${database}`);
      await maria.execute(
        `CREATE TABLE ${database}.categories (category_id INT NOT NULL, name VARCHAR(40), price DECIMAL(8,2), active TINYINT(1), created_at DATETIME)`,
      );
      await maria.execute(`INSERT INTO ${database}.categories VALUES (1, 'a', 1.5, 1, NOW())`);
      const project = newProject('mysql');
      const out = await captured(() =>
        generateSourceCommand(project, `${database}.categories`, {
          engine: 'mysql',
          database: MYSQL_URL,
          out: '-',
        }),
      );
      expect(out.out).toMatch(/primaryKey:\n\s+- category_id/);
      expect(out.out).toMatch(/name: price\n\s+type: decimal/);
      expect(out.out).toMatch(/name: created_at\n\s+type: timestamp/);
      expect(out.out).toMatch(/name: category_id\n\s+type: integer/);
      expect(out.out).toMatch(/name: active\n\s+type: boolean/);
    } finally {
      await maria.execute(`DROP DATABASE IF EXISTS ${database}`);
      await maria.close();
    }
  });
});

describe('strata generate source from a DuckDB file', () => {
  it('reads information_schema, and guesses no key when the id column is not unique', async () => {
    const file = join(dir, 'shop.db');
    const instance = await DuckDBInstance.create(file);
    const c = await instance.connect();
    await c.run(
      'CREATE SCHEMA app; CREATE TABLE app.customers (customer_id INTEGER, signed_up TIMESTAMP, balance DECIMAL(12,2)); INSERT INTO app.customers VALUES (1, now(), 1.5), (2, now(), 2)',
    );
    await c.run(
      "CREATE TABLE app.visits (id INTEGER, page VARCHAR); INSERT INTO app.visits VALUES (1, '/'), (1, '/a')",
    );
    c.closeSync();
    instance.closeSync();
    const project = newProject('duckdb-file');
    const customers = await captured(() =>
      generateSourceCommand(project, 'app.customers', { database: file, out: '-' }),
    );
    expect(customers.out).toMatch(/primaryKey:\n\s+- customer_id/);
    expect(customers.out).toMatch(/name: signed_up\n\s+type: timestamp\n\s+label: Signed Up/);
    expect(customers.out).toMatch(/name: balance\n\s+type: decimal/);
    expect(customers.out).toMatch(/measures:\n\s+- name: customers_count\n\s+aggregate: count/);
    const visits = await captured(() =>
      generateSourceCommand(project, 'app.visits', { database: file, out: '-' }),
    );
    expect(visits.out).not.toMatch(/^primaryKey:/m);
    expect(visits.out).not.toMatch(/^measures:/m);
    expect(visits.out).toContain('# No primary key guessed');
  });
});

/** Rows of a query over the project's warehouse, as `strata run` reads it. */
async function query(project: string, sql: string): Promise<unknown[][]> {
  const { openEngine } = await import('../../src/engines/open-engine.js');
  const { loadProject } = await import('../../src/project/load-project.js');
  const engine = await openEngine(project, {}, loadProject(project).config);
  try {
    return (await engine.query(sql)).rows;
  } finally {
    await engine.close();
  }
}

async function rowCount(project: string, table: string): Promise<number> {
  const rows = await query(project, `SELECT count(*) FROM ${table}`);
  return Number(rows[0]?.[0]);
}
