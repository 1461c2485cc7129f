/** Real engines for tests: an in-memory DuckDB, and a private schema in the local PostgreSQL. */
import { DuckDbEngine } from '../../src/engines/duckdb.js';
import { MySqlEngine } from '../../src/engines/mysql.js';
import { PostgresEngine } from '../../src/engines/postgres.js';
import { MYSQL_TEXT } from './mysql-text.js';

export const POSTGRES_URL = process.env.STRATA_TEST_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

export async function memoryDuckDb(): Promise<DuckDbEngine> {
  return DuckDbEngine.open({ path: ':memory:' });
}

/** A connection whose schemas are dropped again by `drop()`. */
export async function postgres(): Promise<PostgresEngine> {
  return PostgresEngine.connect(POSTGRES_URL);
}

export function uniqueSchema(prefix: string): string {
  return `${prefix}_${process.pid}_${Math.floor(Math.random() * 1e6)}`;
}

export const MYSQL_URL = process.env.STRATA_TEST_MYSQL_URL ?? 'mysql://root@127.0.0.1:3306/test';

/** The local MariaDB (or MySQL 8); a test's databases (`uniqueSchema`) are dropped by the test. */
export async function mysql(): Promise<MySqlEngine> {
  return MySqlEngine.connect(MYSQL_URL);
}

/**
 * Test DDL written for DuckDB and PostgreSQL, in MySQL's spelling: text columns compare
 * byte by byte with no trailing-space padding (as the other engines and the oracle do:
 * MySQL's default collations ignore case), timestamps are DATETIME, names use backticks,
 * and date arithmetic uses INTERVAL.
 */
export function toMySqlDdl(sql: string): string {
  return sql
    .replace(/\bVARCHAR\b(?!\s*\()(\s+COLLATE\s+"C")?/g, MYSQL_TEXT)
    .replace(/\bDOUBLE PRECISION\b/g, 'DOUBLE')
    .replace(/\bTIMESTAMP\b(?!\s*')/g, 'DATETIME(6)')
    .replace(/"([^"]+)"/g, '`$1`')
    .replace(/\bcurrent_date ([+-]) (\d+)/g, 'UTC_DATE() $1 INTERVAL $2 DAY')
    .replace(/CAST\(now\(\) AS DATETIME\(6\)\)/g, 'UTC_TIMESTAMP(6)');
}
