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
   * A cheap value that changes when any of `tables` (`schema.table`) changes, for
   * `refresh: on_change`; undefined when the engine cannot tell (the tracker then always runs).
   */
  fingerprint?(tables: readonly string[]): Promise<string | undefined>;
  /**
   * True when `fingerprint` names exact table versions (Iceberg metadata files): an answer
   * cached under it can never be stale. Counters that lag (PostgreSQL's) are not exact.
   */
  readonly exactVersions?: boolean;
  /** Stops what the engine is running now (a request's time is up): that query then fails. */
  interrupt?(): Promise<void>;
  /** Runs a statement that returns nothing useful (DDL, loading). */
  execute(sql: string): Promise<void>;
  close(): Promise<void>;
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
