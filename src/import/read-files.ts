/**
 * Reading the files `strata import` loads: CSV, Parquet or JSON through a DuckDB of its own.
 * The warehouse's DuckDB is locked down to the warehouse directory (definition SQL runs
 * there), so the user's files are read here and staged as one Parquet file inside the
 * warehouse, which the warehouse then commits from.
 */
import { existsSync, statSync } from 'node:fs';
import { extname, resolve } from 'node:path';
import { DuckDBInstance, type DuckDBConnection } from '@duckdb/node-api';
import { icebergTypeForDuckDb, type InferredColumn } from '../core/import/column-types.js';
import { UsageError } from '../engines/open-engine.js';
import { quoteIdent, quoteString } from '../warehouse/schema.js';
import { ImportError } from './import-error.js';

export const IMPORT_FORMATS = ['csv', 'parquet', 'json'] as const;
export type ImportFormat = (typeof IMPORT_FORMATS)[number];

const EXTENSIONS: Record<string, ImportFormat> = {
  '.csv': 'csv',
  '.tsv': 'csv',
  '.txt': 'csv',
  '.parquet': 'parquet',
  '.pq': 'parquet',
  '.json': 'json',
  '.jsonl': 'json',
  '.ndjson': 'json',
};

/** Files this large get a progress line on a terminal. */
export const PROGRESS_MIN_BYTES = 64 * 1024 * 1024;

/** The format from `--format`, else from the (first) file's extension (`.gz` looked through). */
export function formatOf(path: string, flag: string | undefined): ImportFormat {
  if (flag !== undefined) {
    if (!(IMPORT_FORMATS as readonly string[]).includes(flag))
      throw new UsageError(`unknown format '${flag}' (expected ${IMPORT_FORMATS.join(', ')})`);
    return flag as ImportFormat;
  }
  const bare = path.toLowerCase().replace(/\.(gz|zst)$/, '');
  const format = EXTENSIONS[extname(bare)];
  if (!format)
    throw new UsageError(
      `cannot tell the format of ${path} from its extension: pass --format ${IMPORT_FORMATS.join('|')}`,
    );
  return format;
}

const GLOB = /[*?[]/;

/** A DuckDB of the import's own, unrestricted: it reads the user's files, nothing from definitions. */
export class ImportReader {
  private constructor(
    private readonly instance: DuckDBInstance,
    readonly connection: DuckDBConnection,
  ) {}

  static async open(): Promise<ImportReader> {
    const instance = await DuckDBInstance.create(':memory:');
    const connection = await instance.connect();
    // Progress is only tracked with the progress bar on; printing it is ours to do.
    await connection.run('SET enable_progress_bar = true');
    await connection.run('SET enable_progress_bar_print = false');
    return new ImportReader(instance, connection);
  }

  /** The files a path or glob names, absolute; a clear error when there are none. */
  async expand(pattern: string): Promise<string[]> {
    if (!GLOB.test(pattern)) {
      if (!existsSync(pattern)) throw new UsageError(`no such file: ${pattern}`);
      if (statSync(pattern).isDirectory())
        throw new UsageError(`${pattern} is a directory: name files, or a glob such as ${pattern}/*.csv`);
      return [resolve(pattern)];
    }
    const reader = await this.connection.runAndReadAll(
      `SELECT file FROM glob(${quoteString(resolve(pattern))}) ORDER BY file`,
    );
    const files = reader.getRows().map((row) => String(row[0]));
    if (files.length === 0) throw new UsageError(`no file matches ${pattern}`);
    return files;
  }

  /** The typed columns DuckDB infers for the files; an unreadable file is a one-line error. */
  async describe(files: readonly string[], format: ImportFormat): Promise<InferredColumn[]> {
    let rows: unknown[][];
    try {
      const reader = await this.connection.runAndReadAll(
        `DESCRIBE SELECT * FROM ${readerSql(files, format)}`,
      );
      rows = reader.getRows();
    } catch (e) {
      throw new ImportError(
        `cannot read ${files.length === 1 ? files[0] : `${files.length} files`} as ${format}: ${firstLine(e)}`,
      );
    }
    return rows.map((row) => {
      const duckdbType = String(row[1]);
      return { name: String(row[0]), duckdbType, ...icebergTypeForDuckDb(duckdbType) };
    });
  }

  /**
   * Writes the files' rows (plus `extra` computed columns) as one Parquet file at `target`,
   * printing progress through `onProgress` while it runs; returns the row count.
   */
  async stage(
    files: readonly string[],
    format: ImportFormat,
    columns: readonly InferredColumn[],
    target: string,
    options: { extra?: readonly string[]; onProgress?: (percentage: number) => void } = {},
  ): Promise<number> {
    const select = [...columns.map(stagedColumn), ...(options.extra ?? [])].join(', ');
    const copy = `COPY (SELECT ${select} FROM ${readerSql(files, format)}) TO ${quoteString(target)} (FORMAT parquet)`;
    const timer =
      options.onProgress &&
      setInterval(() => {
        const { percentage } = this.connection.progress;
        if (percentage >= 0) options.onProgress?.(percentage);
      }, 500);
    try {
      const reader = await this.connection.runAndReadAll(copy);
      return Number(reader.getRows()[0]?.[0] ?? 0);
    } catch (e) {
      throw new ImportError(`cannot read the ${format} input: ${firstLine(e)}`);
    } finally {
      if (timer) clearInterval(timer);
    }
  }

  close(): void {
    this.connection.closeSync();
    this.instance.closeSync();
  }
}

/** The table function reading the files; paths go in as string literals. */
export function readerSql(files: readonly string[], format: ImportFormat): string {
  const list = `[${files.map(quoteString).join(', ')}]`;
  switch (format) {
    case 'csv':
      return `read_csv_auto(${list}, union_by_name = true)`;
    case 'parquet':
      return `read_parquet(${list}, union_by_name = true)`;
    case 'json':
      return `read_json_auto(${list}, union_by_name = true)`;
  }
}

/** A column as staged: as it is, or as text (JSON text for nested values) when Strata has no such type. */
function stagedColumn(column: InferredColumn): string {
  const id = quoteIdent(column.name);
  if (!column.asText) return id;
  const nested = /^(STRUCT|MAP|UNION|JSON)|\[\]$|\[\d+\]$/i.test(column.duckdbType);
  return `${nested ? `CAST(to_json(${id}) AS VARCHAR)` : `CAST(${id} AS VARCHAR)`} AS ${id}`;
}

/** Total size of the files, to decide whether progress is worth showing. */
export function totalBytes(files: readonly string[]): number {
  return files.reduce((sum, f) => sum + statSync(f).size, 0);
}

function firstLine(e: unknown): string {
  const message = e instanceof Error ? e.message : String(e);
  return message.split('\n')[0] ?? message;
}
