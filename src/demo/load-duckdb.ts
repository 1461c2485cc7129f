/**
 * Loads demo tables into DuckDB: one schema per table schema, one
 * `CREATE OR REPLACE TABLE` per table, rows through the appender (typed values,
 * no SQL text built from data).
 */
import {
  DuckDBAppender,
  DuckDBConnection,
  DuckDBDateValue,
  DuckDBDecimalValue,
  DuckDBTimestampValue,
} from '@duckdb/node-api';
import {
  generateStudioData,
  type DemoColumnType,
  type DemoTable,
  type DemoValue,
  type StudioDataOptions,
} from './studio-data.js';
import { DuckDbEngine } from '../engines/duckdb.js';

export function quoteIdentifier(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}

function qualifiedName(table: DemoTable): string {
  return `${quoteIdentifier(table.schema)}.${quoteIdentifier(table.name)}`;
}

function createTableSql(table: DemoTable): string {
  const columns = table.columns.map((column) => `  ${quoteIdentifier(column.name)} ${column.type}`);
  return `CREATE OR REPLACE TABLE ${qualifiedName(table)} (\n${columns.join(',\n')}\n)`;
}

/**
 * Creates the schemas and tables and appends every row. Runs in one transaction,
 * so a failed load leaves the previous tables as they were.
 */
export async function loadDemoTables(connection: DuckDBConnection, tables: DemoTable[]): Promise<void> {
  await connection.run('BEGIN TRANSACTION');
  try {
    for (const schema of new Set(tables.map((table) => table.schema))) {
      await connection.run(`CREATE SCHEMA IF NOT EXISTS ${quoteIdentifier(schema)}`);
    }
    for (const table of tables) {
      await connection.run(createTableSql(table));
      await appendRows(connection, table);
    }
    await connection.run('COMMIT');
  } catch (error) {
    await connection.run('ROLLBACK');
    throw error;
  }
}

async function appendRows(connection: DuckDBConnection, table: DemoTable): Promise<void> {
  const appender = await connection.createAppender(table.name, table.schema);
  try {
    table.rows.forEach((row, rowIndex) => {
      if (row.length !== table.columns.length) {
        throw new Error(
          `${table.schema}.${table.name} row ${rowIndex}: ${row.length} values for ${table.columns.length} columns`,
        );
      }
      table.columns.forEach((column, columnIndex) => {
        const where = `${table.schema}.${table.name} row ${rowIndex} column ${column.name}`;
        appendValue(appender, column.type, row[columnIndex] ?? null, where);
      });
      appender.endRow();
    });
    appender.flushSync();
  } finally {
    appender.closeSync();
  }
}

function appendValue(appender: DuckDBAppender, type: DemoColumnType, value: DemoValue, where: string): void {
  if (value === null) {
    appender.appendNull();
    return;
  }
  switch (type) {
    case 'VARCHAR':
      appender.appendVarchar(expectString(value, where));
      return;
    case 'BIGINT':
      appender.appendBigInt(BigInt(expectInteger(value, where)));
      return;
    case 'INTEGER':
      appender.appendInteger(expectInteger(value, where));
      return;
    case 'DOUBLE':
      appender.appendDouble(expectNumber(value, where));
      return;
    case 'DECIMAL(18,2)':
      // Scaled integer, so 0.1 + 0.2 style binary noise never reaches the table.
      appender.appendDecimal(
        new DuckDBDecimalValue(BigInt(Math.round(expectNumber(value, where) * 100)), 18, 2),
      );
      return;
    case 'BOOLEAN':
      appender.appendBoolean(expectBoolean(value, where));
      return;
    case 'DATE':
      appender.appendDate(DuckDBDateValue.fromParts(parseDate(expectString(value, where), where)));
      return;
    case 'TIMESTAMP':
      appender.appendTimestamp(parseTimestamp(expectString(value, where), where));
      return;
  }
}

function expectString(value: DemoValue, where: string): string {
  if (typeof value !== 'string') throw new Error(`${where}: expected a string, got ${JSON.stringify(value)}`);
  return value;
}

function expectNumber(value: DemoValue, where: string): number {
  if (typeof value !== 'number' || !Number.isFinite(value)) {
    throw new Error(`${where}: expected a finite number, got ${JSON.stringify(value)}`);
  }
  return value;
}

function expectInteger(value: DemoValue, where: string): number {
  const number = expectNumber(value, where);
  if (!Number.isSafeInteger(number)) throw new Error(`${where}: expected an integer, got ${number}`);
  return number;
}

function expectBoolean(value: DemoValue, where: string): boolean {
  if (typeof value !== 'boolean')
    throw new Error(`${where}: expected a boolean, got ${JSON.stringify(value)}`);
  return value;
}

const DATE_PATTERN = /^(\d{4})-(\d{2})-(\d{2})$/;
const TIMESTAMP_PATTERN = /^(\d{4})-(\d{2})-(\d{2}) (\d{2}):(\d{2}):(\d{2})$/;

function parseDate(text: string, where: string): { year: number; month: number; day: number } {
  const match = DATE_PATTERN.exec(text);
  if (!match) throw new Error(`${where}: expected YYYY-MM-DD, got ${JSON.stringify(text)}`);
  return { year: Number(match[1]), month: Number(match[2]), day: Number(match[3]) };
}

function parseTimestamp(text: string, where: string): DuckDBTimestampValue {
  const match = TIMESTAMP_PATTERN.exec(text);
  if (!match) throw new Error(`${where}: expected YYYY-MM-DD HH:MM:SS, got ${JSON.stringify(text)}`);
  return DuckDBTimestampValue.fromParts({
    date: { year: Number(match[1]), month: Number(match[2]), day: Number(match[3]) },
    time: { hour: Number(match[4]), min: Number(match[5]), sec: Number(match[6]), micros: 0 },
  });
}

/**
 * DuckDB names the catalog after the file, so `studio.duckdb` next to schema
 * `studio` makes `studio.movie` ambiguous (see STACK.md). Refuse such paths.
 */

/** Generates the demo studio data and writes it into the DuckDB file at `path` (created if missing). */
export async function buildDemoDatabase(
  path: string,
  options: StudioDataOptions = {},
): Promise<{ tables: number; rows: number }> {
  const tables = generateStudioData(options);
  // Opened like every other DuckDB database (attached under a fixed catalog name), so any
  // file name works, `studio.duckdb` included.
  const engine = await DuckDbEngine.open({ path, readOnly: false });
  try {
    await loadDemoTables(engine.rawConnection, tables);
  } finally {
    await engine.close();
  }
  return { tables: tables.length, rows: tables.reduce((sum, table) => sum + table.rows.length, 0) };
}
