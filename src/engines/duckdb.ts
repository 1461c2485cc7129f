/** The embedded default: DuckDB through @duckdb/node-api, results streamed chunk by chunk. */
import { existsSync, mkdirSync } from 'node:fs';
import { dirname, resolve, sep } from 'node:path';
import {
  DuckDBConnection,
  DuckDBDateValue,
  DuckDBDecimalValue,
  DuckDBInstance,
  DuckDBTimestampMillisecondsValue,
  DuckDBTimestampNanosecondsValue,
  DuckDBTimestampSecondsValue,
  DuckDBTimestampTZValue,
  DuckDBTimestampValue,
  type DuckDBResult,
  type DuckDBValue,
} from '@duckdb/node-api';
import type { Cell, Row } from '../core/values/cell.js';
import { QueryError, type Engine, type ResultColumn } from './engine.js';

/** The catalog name a database file is attached under. */
export const ATTACHED_CATALOG = 'strata_warehouse';

export interface DuckDbOptions {
  /** A database file, or `:memory:`. */
  path: string;
  readOnly?: boolean;
}

/** What a locked-down DuckDB may still touch on the file system (absolute paths). */
export interface DuckDbSandbox {
  /** Directories whose files queries may read (and DuckDB may spill to). */
  directories: string[];
  /** Single files, such as an attached database. */
  files?: string[];
}

function isoFromMicros(micros: bigint): string {
  return new Date(Number(micros / 1000n)).toISOString();
}

/** DuckDB's values -> the engine-neutral Cell. */
export function cellFromDuckDb(value: DuckDBValue): Cell {
  if (value === null) return null;
  switch (typeof value) {
    case 'boolean':
    case 'number':
    case 'string':
      return value;
    case 'bigint':
      return Number(value);
  }
  if (value instanceof DuckDBDateValue) return value.toString();
  if (value instanceof DuckDBTimestampTZValue || value instanceof DuckDBTimestampValue)
    return isoFromMicros(value.micros);
  if (value instanceof DuckDBTimestampSecondsValue) return isoFromMicros(value.seconds * 1_000_000n);
  if (value instanceof DuckDBTimestampMillisecondsValue) return isoFromMicros(value.millis * 1000n);
  if (value instanceof DuckDBTimestampNanosecondsValue) return isoFromMicros(value.nanos / 1000n);
  if (value instanceof DuckDBDecimalValue) return value.toDouble();
  return JSON.stringify(value, (_k, v: unknown) => (typeof v === 'bigint' ? Number(v) : v)) ?? String(value);
}

export class DuckDbEngine implements Engine {
  readonly name = 'duckdb';
  readonly dialect = 'duckdb';

  private constructor(
    private readonly instance: DuckDBInstance,
    private readonly connection: DuckDBConnection,
  ) {}

  /**
   * The file is attached under a fixed catalog name rather than opened directly: DuckDB
   * names a file's catalog after it, and `studio.duckdb` would make `studio.movie`
   * ambiguous between that catalog and the schema `studio` in it.
   */
  static async open(options: DuckDbOptions): Promise<DuckDbEngine> {
    if (options.path !== ':memory:') {
      if (options.readOnly && !existsSync(options.path)) {
        throw new QueryError(
          'duckdb',
          `database file ${options.path} does not exist (build the demo with \`strata demo\`, or pass --database FILE)`,
        );
      }
      mkdirSync(dirname(options.path), { recursive: true });
    }
    try {
      const instance = await DuckDBInstance.create(':memory:');
      const connection = await instance.connect();
      if (options.path !== ':memory:') {
        const mode = options.readOnly ? ' (READ_ONLY)' : '';
        await connection.run(`ATTACH '${options.path.replaceAll("'", "''")}' AS ${ATTACHED_CATALOG}${mode}`);
        await connection.run(`USE ${ATTACHED_CATALOG}`);
      }
      return new DuckDbEngine(instance, connection);
    } catch (e) {
      throw new QueryError('duckdb', `cannot open ${options.path}: ${firstLine(e)}`);
    }
  }

  /**
   * Defence in depth for queries built from definitions: no file or network access beyond
   * `sandbox`, no extension installed or loaded, and the configuration locked so that no
   * later statement can undo it. Call after everything the engine needs is attached.
   */
  async lockDown(sandbox: DuckDbSandbox): Promise<void> {
    const list = (paths: string[]) => `[${paths.map((p) => `'${p.replaceAll("'", "''")}'`).join(', ')}]`;
    // A trailing separator, so that `/w/warehouse` does not also allow `/w/warehouse-other`.
    const directories = sandbox.directories.map((d) => `${resolve(d)}${sep}`);
    const files = (sandbox.files ?? []).map((f) => resolve(f));
    for (const statement of [
      'SET autoinstall_known_extensions = false',
      'SET autoload_known_extensions = false',
      `SET allowed_directories = ${list(directories)}`,
      `SET allowed_paths = ${list(files)}`,
      'SET enable_external_access = false',
      'SET lock_configuration = true',
    ])
      await this.execute(statement);
  }

  async interrupt(): Promise<void> {
    this.connection.interrupt();
  }

  get rawConnection(): DuckDBConnection {
    return this.connection;
  }

  private async start(sql: string): Promise<DuckDBResult> {
    try {
      return await this.connection.stream(sql);
    } catch (e) {
      throw new QueryError('duckdb', firstLine(e));
    }
  }

  async *stream(sql: string): AsyncIterable<Row[]> {
    const result = await this.start(sql);
    for (;;) {
      const chunk = await result.fetchChunk().catch((e: unknown) => {
        throw new QueryError('duckdb', firstLine(e));
      });
      if (!chunk || chunk.rowCount === 0) return;
      yield chunk.getRows().map((row) => row.map(cellFromDuckDb));
    }
  }

  async query(sql: string): Promise<{ columns: ResultColumn[]; rows: Row[] }> {
    const result = await this.start(sql);
    const columns = result
      .columnNames()
      .map((name, i) => ({ name, engineType: result.columnTypes()[i]!.toString() }));
    const rows: Row[] = [];
    for (;;) {
      const chunk = await result.fetchChunk();
      if (!chunk || chunk.rowCount === 0) break;
      for (const row of chunk.getRows()) rows.push(row.map(cellFromDuckDb));
    }
    return { columns, rows };
  }

  async execute(sql: string): Promise<void> {
    try {
      await this.connection.run(sql);
    } catch (e) {
      throw new QueryError('duckdb', firstLine(e));
    }
  }

  async close(): Promise<void> {
    this.connection.closeSync();
    this.instance.closeSync();
  }
}

function firstLine(e: unknown): string {
  const message = e instanceof Error ? e.message : String(e);
  return message.split('\n')[0] ?? message;
}
