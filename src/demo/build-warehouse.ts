/**
 * `strata demo` on the embedded default: the Studio demo data as Iceberg tables. Plain
 * tables get one append each; the raw CDC log is appended in log order over several
 * commits, like a pipeline would, so it has real history and several snapshots to compact.
 */
import type { DuckDBConnection } from '@duckdb/node-api';
import type { IcebergType } from '../warehouse/schema.js';
import type { Warehouse } from '../warehouse/table.js';
import { loadDemoTables } from './load-duckdb.js';
import {
  generateStudioData,
  type DemoColumnType,
  type DemoTable,
  type StudioDataOptions,
} from './studio-data.js';

const ICEBERG_TYPES: Record<DemoColumnType, IcebergType> = {
  VARCHAR: 'string',
  BIGINT: 'long',
  INTEGER: 'int',
  DOUBLE: 'double',
  'DECIMAL(18,2)': 'decimal(18, 2)',
  BOOLEAN: 'boolean',
  DATE: 'date',
  TIMESTAMP: 'timestamp',
};

/** Commits the raw change log is split into (in `_seq` order). */
const CDC_BATCHES = 6;

const quote = (name: string) => `"${name.replaceAll('"', '""')}"`;

export interface DemoWarehouseSummary {
  tables: number;
  rows: number;
  snapshots: number;
}

/**
 * Loads the generated tables into `staging` (a scratch DuckDB connection), then appends them
 * to Iceberg tables of the same names. Existing demo tables are dropped first.
 */
export async function buildDemoWarehouse(
  warehouse: Warehouse,
  staging: DuckDBConnection,
  options: StudioDataOptions & { onTable?: (done: number, total: number, table: string) => void } = {},
): Promise<DemoWarehouseSummary> {
  const tables = generateStudioData(options);
  await loadDemoTables(staging, tables);
  let snapshots = 0;
  for (const [i, table] of tables.entries()) {
    const id = { namespace: table.schema, name: table.name };
    options.onTable?.(i + 1, tables.length, `${table.schema}.${table.name}`);
    if (await warehouse.exists(id)) await warehouse.dropTable(id, { purge: true });
    await warehouse.createTable(
      id,
      table.columns.map((c) => ({ name: c.name, type: ICEBERG_TYPES[c.type] })),
    );
    for (const sql of appendBatches(table)) {
      await warehouse.appendQuery(id, sql);
      snapshots++;
    }
  }
  return { tables: tables.length, rows: tables.reduce((n, t) => n + t.rows.length, 0), snapshots };
}

function appendBatches(table: DemoTable): string[] {
  const from = `${quote(table.schema)}.${quote(table.name)}`;
  if (!table.columns.some((c) => c.name === '_seq')) return [`SELECT * FROM ${from}`];
  const size = Math.ceil(table.rows.length / CDC_BATCHES);
  return Array.from(
    { length: CDC_BATCHES },
    (_, i) => `SELECT * FROM ${from} WHERE _seq > ${i * size} AND _seq <= ${(i + 1) * size} ORDER BY _seq`,
  );
}
