/** What every engine offers: run SQL, stream typed rows back. Trino (issue 3) implements it too. */
import type { Dialect, EngineName } from '../core/definitions/schema.js';
import type { Row } from '../core/values/cell.js';

export type { EngineName } from '../core/definitions/schema.js';

export interface ResultColumn {
  name: string;
  /** The engine's own type name, for messages and debugging. */
  engineType: string;
}

export interface Engine {
  readonly name: EngineName;
  readonly dialect: Dialect;
  /** Runs one query, yielding rows in batches as the engine produces them. */
  stream(sql: string): AsyncIterable<Row[]>;
  /** Runs one query and collects every row. */
  query(sql: string): Promise<{ columns: ResultColumn[]; rows: Row[] }>;
  /**
   * The versions of `tables` (`schema.table`), for `refresh: on_change` and the data age of a
   * tracker; undefined when the engine cannot tell (an on_change tracker then always runs).
   */
  tableVersions?(tables: readonly string[]): Promise<TableVersions | undefined>;
  /**
   * True when `tableVersions` names exact table versions (Iceberg metadata files or snapshots):
   * an answer cached under it can never be stale. Counters that lag (PostgreSQL's) are not exact.
   */
  readonly exactVersions?: boolean;
  /** Stops what the engine is running now (a request's time is up): that query then fails. */
  interrupt?(): Promise<void>;
  /** Runs a statement that returns nothing useful (DDL, loading). */
  execute(sql: string): Promise<void>;
  close(): Promise<void>;
}

/** How an engine tells that a table changed (recorded with each on_change run). */
export type VersionSource =
  /** The table's current Iceberg metadata file in the catalog (the embedded warehouse). */
  | 'iceberg_metadata'
  /** The newest snapshot in Iceberg's `$snapshots` table (Trino). */
  | 'iceberg_snapshots'
  /** PostgreSQL's row-change counters (pg_stat_user_tables), which lag commits by up to ~10 s. */
  | 'table_statistics';

export interface TableVersions {
  /** Changes whenever any of the tables changes. */
  fingerprint: string;
  source: VersionSource;
  /** When the newest of the tables last received data (ISO), when the engine knows. */
  changedAt?: string;
}

/** A failure the engine reported about a query (bad SQL, missing table...). */
export class QueryError extends Error {
  constructor(
    readonly engine: EngineName,
    message: string,
  ) {
    super(`${engine}: ${message}`);
    this.name = 'QueryError';
  }
}

export async function collect(stream: AsyncIterable<Row[]>): Promise<Row[]> {
  const rows: Row[] = [];
  for await (const batch of stream) rows.push(...batch);
  return rows;
}
