/** Real engines for tests: an in-memory DuckDB, and a private schema in the local PostgreSQL. */
import { DuckDbEngine } from '../../src/engines/duckdb.js';
import { PostgresEngine } from '../../src/engines/postgres.js';

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
