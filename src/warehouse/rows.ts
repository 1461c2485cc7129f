/**
 * Literal rows into DuckDB for `appendRows`: staged through DuckDB's appender into a temporary
 * table of text columns (parsing a large VALUES list is ~50x slower); writing the data file
 * then casts each column to its Iceberg type, so decimals stay exact.
 */
import { randomUUID } from 'node:crypto';
import type { DuckDBConnection } from '@duckdb/node-api';
import { findField, quoteIdent, type IcebergField, type IcebergSchema } from './schema.js';

function isoDate(value: Date): string {
  return value.toISOString().slice(0, 10);
}

/** A JS value as the text DuckDB casts to the column's type. */
export function literalText(field: IcebergField, value: unknown): string {
  if (value instanceof Date) return field.type === 'date' ? isoDate(value) : value.toISOString();
  switch (typeof value) {
    case 'string':
      return value;
    case 'boolean':
      return value ? 'true' : 'false';
    case 'bigint':
      return value.toString();
    case 'number':
      if (Number.isNaN(value)) return 'NaN';
      if (!Number.isFinite(value)) return value > 0 ? 'Infinity' : '-Infinity';
      return String(value);
  }
  throw new Error(`column ${field.name}: cannot write a ${typeof value} value`);
}

/** The table column of each distinct row key (matched case-insensitively); unknown keys are an error. */
function fieldsOfKeys(
  rows: readonly Record<string, unknown>[],
  schema: IcebergSchema,
): Map<string, IcebergField> {
  const fieldOfKey = new Map<string, IcebergField>();
  for (const row of rows) {
    for (const key of Object.keys(row)) {
      if (fieldOfKey.has(key)) continue;
      const field = findField(schema, key);
      if (!field) throw new Error(`row key ${JSON.stringify(key)} is not a column of the table`);
      fieldOfKey.set(key, field);
    }
  }
  return fieldOfKey;
}

export interface StagedRows {
  /** A query over the staged rows, its columns named like the table's. */
  sql: string;
  drop(): Promise<void>;
}

export async function stageRows(
  connection: DuckDBConnection,
  rows: readonly Record<string, unknown>[],
  schema: IcebergSchema,
): Promise<StagedRows> {
  const fieldOfKey = fieldsOfKeys(rows, schema);
  const used = new Set(fieldOfKey.values());
  const fields = schema.fields.filter((f) => used.has(f));
  // A table needs a column: with no keys at all, stage the first one as all NULL.
  const columns = fields.length > 0 ? fields : schema.fields.slice(0, 1);
  const table = `strata_rows_${randomUUID().replaceAll('-', '')}`;
  const qualified = `temp.main.${quoteIdent(table)}`;
  await connection.run(
    `CREATE TEMP TABLE ${quoteIdent(table)} (${columns.map((f) => `${quoteIdent(f.name)} VARCHAR`).join(', ')})`,
  );
  const drop = async (): Promise<void> => {
    await connection.run(`DROP TABLE IF EXISTS ${qualified}`);
  };
  try {
    const position = new Map(columns.map((f, i) => [f, i]));
    const appender = await connection.createAppender(table, 'main', 'temp');
    for (const row of rows) {
      const cells: unknown[] = columns.map(() => null);
      for (const [key, value] of Object.entries(row)) {
        const field = fieldOfKey.get(key);
        if (field) cells[position.get(field) ?? 0] = value;
      }
      cells.forEach((value, i) => {
        if (value === null || value === undefined) appender.appendNull();
        else appender.appendVarchar(literalText(columns[i] as IcebergField, value));
      });
      appender.endRow();
    }
    appender.closeSync();
  } catch (error) {
    await drop();
    throw error;
  }
  return { sql: `SELECT * FROM ${qualified}`, drop };
}
