import type mysql from 'mysql2/promise';
import type { DemoColumnType, DemoTable } from '../../src/demo/studio-data.js';

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

/** Creates the demo's tables (already renamed into their schemas) in MariaDB and fills them, 1,000 rows per INSERT. */
export async function loadDemoIntoMysql(
  admin: mysql.Connection,
  tables: readonly DemoTable[],
): Promise<void> {
  for (const table of tables) {
    const columns = table.columns.map((c) => `\`${c.name}\` ${MYSQL_DEMO_TYPES[c.type]}`).join(', ');
    await admin.query(`CREATE TABLE ${table.schema}.${table.name} (${columns})`);
    for (let i = 0; i < table.rows.length; i += 1000)
      await admin.query(`INSERT INTO ${table.schema}.${table.name} VALUES ?`, [
        table.rows.slice(i, i + 1000),
      ]);
  }
}
