/** DuckDB SQL reading a table's data files by field id. */
import type { DataFile } from './manifest.js';
import { duckDbType, quoteIdent, quoteString, type IcebergSchema } from './schema.js';

/**
 * A query (a SELECT, for a view body or a parenthesized subquery) reading `files` as `schema`:
 * `SELECT * FROM read_parquet([...], schema = MAP {...})` matches columns by Iceberg field id,
 * so renamed columns keep their data and columns added after a file was written read as NULL.
 * With no files it is a typed, empty SELECT (read_parquet needs at least one file).
 */
export function readParquetSql(files: readonly Pick<DataFile, 'path'>[], schema: IcebergSchema): string {
  if (files.length === 0) {
    const columns = schema.fields.map((f) => `CAST(NULL AS ${duckDbType(f.type)}) AS ${quoteIdent(f.name)}`);
    return `SELECT ${columns.join(', ')} WHERE false`;
  }
  const paths = files.map((f) => quoteString(f.path)).join(', ');
  const columns = schema.fields
    .map(
      (f) =>
        `${f.id}: { name: ${quoteString(f.name)}, type: ${quoteString(duckDbType(f.type))}, default_value: NULL }`,
    )
    .join(', ');
  return `SELECT * FROM read_parquet([${paths}], schema = MAP { ${columns} })`;
}
