/**
 * Data files: Parquet written by DuckDB with Iceberg field ids, and DuckDB's write statistics
 * turned into the column metrics of a manifest entry.
 */
import { mkdir } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { DuckDBConnection } from '@duckdb/node-api';
import { boundFromStat } from './bounds.js';
import { removeQuietly } from './files.js';
import type { DataFile } from './manifest.js';
import {
  duckDbType,
  findField,
  quoteIdent,
  quoteString,
  sanitizeName,
  schemaToJson,
  type IcebergField,
  type IcebergSchema,
} from './schema.js';

/** One row of `COPY ... RETURN_STATS`, in DuckDB's JSON rendering. */
interface CopyStatsRow {
  filename: string;
  count: string;
  file_size_bytes: string;
  column_statistics: { key: string; value: { key: string; value: string }[] }[] | null;
}

type ColumnStats = Record<string, string>;

/** A caller's query as a subquery: trailing semicolons dropped, and on its own lines so a final `--` comment cannot swallow the rest. */
function subquery(sql: string): string {
  return `(\n${sql.trim().replace(/;+\s*$/, '')}\n) AS q`;
}

/** The column names a query produces (planned, not run). */
export async function queryColumns(connection: DuckDBConnection, sql: string): Promise<string[]> {
  const reader = await connection.runAndReadAll(`SELECT * FROM ${subquery(sql)} LIMIT 0`);
  return reader.columnNames();
}

/**
 * The select list writing `sql`'s columns in table order: each cast to the column's type and
 * named like the Parquet column; absent optional columns as typed NULLs.
 */
function projection(schema: IcebergSchema, columns: string[]): string {
  const used = new Set<IcebergField>();
  for (const column of columns) {
    const field = findField(schema, column);
    if (!field) {
      throw new Error(
        `query column ${JSON.stringify(column)} is not a column of the table (${schema.fields.map((f) => f.name).join(', ')})`,
      );
    }
    used.add(field);
  }
  return schema.fields
    .map((field) => {
      const source = columns.find((c) => findField(schema, c) === field);
      if (source === undefined && field.required) {
        throw new Error(`required column ${JSON.stringify(field.name)} is missing from the query`);
      }
      const value = source === undefined ? 'NULL' : `q.${quoteIdent(source)}`;
      return `CAST(${value} AS ${duckDbType(field.type)}) AS ${quoteIdent(sanitizeName(field.name))}`;
    })
    .join(', ');
}

function copyOptions(schema: IcebergSchema): string {
  const fieldIds = schema.fields.map((f) => `${quoteIdent(sanitizeName(f.name))}: ${f.id}`).join(', ');
  // Iceberg writers put the write schema in the footer; name-based readers (icebird) need it.
  const icebergSchema = quoteString(JSON.stringify(schemaToJson(schema)));
  return `FORMAT parquet, FIELD_IDS {${fieldIds}}, KV_METADATA {'iceberg.schema': ${icebergSchema}}, RETURN_STATS`;
}

/** DuckDB reports column names quoted (`"a"`); undo that. */
function unquote(name: string): string {
  return name.startsWith('"') && name.endsWith('"') ? name.slice(1, -1).replaceAll('""', '"') : name;
}

function statsByColumn(row: CopyStatsRow): Map<string, ColumnStats> {
  const byColumn = new Map<string, ColumnStats>();
  for (const column of row.column_statistics ?? []) {
    byColumn.set(unquote(column.key), Object.fromEntries(column.value.map((kv) => [kv.key, kv.value])));
  }
  return byColumn;
}

/** Manifest metrics of one written file, keyed by field id. */
function dataFileFromStats(path: string, row: CopyStatsRow, schema: IcebergSchema): DataFile {
  const file: DataFile = {
    path,
    recordCount: Number(row.count),
    fileSizeInBytes: Number(row.file_size_bytes),
    columnSizes: {},
    valueCounts: {},
    nullValueCounts: {},
    nanValueCounts: {},
    lowerBounds: {},
    upperBounds: {},
  };
  const stats = statsByColumn(row);
  for (const field of schema.fields) {
    const column = stats.get(sanitizeName(field.name));
    if (!column) continue;
    if (column.column_size_bytes !== undefined) file.columnSizes[field.id] = Number(column.column_size_bytes);
    if (column.num_values !== undefined) file.valueCounts[field.id] = Number(column.num_values);
    if (column.null_count !== undefined) file.nullValueCounts[field.id] = Number(column.null_count);
    // DuckDB only says whether there is a NaN, so the NaN count is known only when there is none.
    if (column.has_nan === 'false') file.nanValueCounts[field.id] = 0;
    const lower = boundFromStat(field.type, column.min, 'lower');
    const upper = boundFromStat(field.type, column.max, 'upper');
    if (lower) file.lowerBounds[field.id] = lower;
    if (upper) file.upperBounds[field.id] = upper;
  }
  return file;
}

function requiredNullViolations(file: DataFile, schema: IcebergSchema): string[] {
  return schema.fields.filter((f) => f.required && (file.nullValueCounts[f.id] ?? 0) > 0).map((f) => f.name);
}

/**
 * Writes the rows of `sql` to a new Parquet file at `path` (columns matched to the table by
 * name, case-insensitively) and returns it with its metrics.
 */
export async function writeDataFile(
  connection: DuckDBConnection,
  options: { sql: string; schema: IcebergSchema; path: string },
): Promise<DataFile> {
  const { sql, schema, path } = options;
  const select = projection(schema, await queryColumns(connection, sql));
  await mkdir(dirname(path), { recursive: true });
  let file: DataFile;
  try {
    const reader = await connection.runAndReadAll(
      `COPY (SELECT ${select} FROM ${subquery(sql)}) TO ${quoteString(path)} (${copyOptions(schema)})`,
    );
    const rows = reader.getRowObjectsJson() as unknown as CopyStatsRow[];
    const row = rows[0];
    if (rows.length !== 1 || !row)
      throw new Error(`expected one written file, DuckDB reported ${rows.length}`);
    file = dataFileFromStats(path, row, schema);
  } catch (error) {
    await removeQuietly([path]);
    throw error;
  }
  const violations = requiredNullViolations(file, schema);
  if (violations.length > 0) {
    await removeQuietly([path]);
    throw new Error(`NULL values in required column(s) ${violations.join(', ')}`);
  }
  return file;
}
