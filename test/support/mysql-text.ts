import type { DemoColumnType } from '../../src/demo/studio-data.js';

/**
 * The MySQL column type tests give text: compared byte by byte, without trailing-space
 * padding, as DuckDB, PostgreSQL ("C") and the oracle compare it (MySQL's default
 * collations ignore case; docs/dialects.md).
 */
export const MYSQL_TEXT = 'VARCHAR(255) CHARACTER SET utf8mb4 COLLATE utf8mb4_nopad_bin';

/** MariaDB column types for the demo's (src/demo/studio-data.ts): text compared byte by byte, as in DuckDB. */
export const MYSQL_DEMO_TYPES: Record<DemoColumnType, string> = {
  VARCHAR: MYSQL_TEXT,
  BIGINT: 'BIGINT',
  INTEGER: 'INTEGER',
  DOUBLE: 'DOUBLE',
  'DECIMAL(18,2)': 'DECIMAL(18,2)',
  BOOLEAN: 'BOOLEAN',
  DATE: 'DATE',
  TIMESTAMP: 'DATETIME(6)',
};
