/**
 * Every SQL dialect, registered once. Adding one: write its class beside these, add its
 * name to DIALECTS (definitions/schema.ts), register it here, and review its golden SQL
 * (`UPDATE_GOLDEN=1 npx vitest run test/golden.test.ts`).
 */
import type { Dialect } from '../../definitions/schema.js';
import type { SqlDialect } from '../dialect.js';
import { DuckDbDialect } from './duckdb.js';
import { MySqlDialect } from './mysql.js';
import { PostgresDialect } from './postgres.js';
import { TrinoDialect } from './trino.js';

const REGISTRY: Record<Dialect, () => SqlDialect> = {
  duckdb: () => new DuckDbDialect(),
  postgres: () => new PostgresDialect(),
  trino: () => new TrinoDialect(),
  mysql: () => new MySqlDialect(),
};

export function dialectFor(name: Dialect): SqlDialect {
  return REGISTRY[name]();
}

export { SqlDialect } from '../dialect.js';
export { DuckDbDialect, MySqlDialect, PostgresDialect, TrinoDialect };
