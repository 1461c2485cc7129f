/**
 * Reads a raw CDC table the way its latest view does (the row with the greatest `_seq` per
 * key, gone when that row is a delete), for what a pipeline needs itself: the keys a TRUNCATE
 * deletes, the values an update left out (unchanged TOAST columns), and the keys an audit
 * compares with the source. Keys travel as JSON arrays of the key columns' text.
 */
import type { DuckDBConnection } from '@duckdb/node-api';
import type { TableIdentifier } from '../warehouse/catalog.js';
import { quoteIdent } from '../warehouse/schema.js';
import { NoSuchTableError, readParquetSql, type TableState, type Warehouse } from '../warehouse/table.js';
import type { RowValues } from './events.js';

/** A key as compared everywhere: the JSON array of its columns' text. */
export function keyOf(row: RowValues | Record<string, unknown>, primaryKey: readonly string[]): string {
  return JSON.stringify(
    primaryKey.map((c) => (row[c] === null || row[c] === undefined ? null : String(row[c]))),
  );
}

let staged = 0;

export class RawTableReader {
  constructor(
    private readonly warehouse: Warehouse,
    private readonly duckdb: DuckDBConnection,
  ) {}

  private async source(id: TableIdentifier): Promise<{ sql: string; state: TableState } | undefined> {
    let state: TableState;
    try {
      state = await this.warehouse.load(id);
    } catch (e) {
      if (e instanceof NoSuchTableError) return undefined;
      throw e;
    }
    const { files, schema } = await this.warehouse.planFiles(state);
    return { sql: readParquetSql(files, schema), state };
  }

  /**
   * The keys whose latest row is not a delete; with `atSeq`, as of that position (rows with a
   * greater `_seq` ignored: an audit compares with the source as of the same point).
   */
  async liveKeys(id: TableIdentifier, primaryKey: readonly string[], atSeq?: bigint): Promise<string[]> {
    const table = await this.source(id);
    if (!table || primaryKey.length === 0) return [];
    const key = primaryKey.map((c) => `CAST(${quoteIdent(c)} AS VARCHAR)`).join(', ');
    const where = atSeq === undefined ? '' : `WHERE _seq <= ${BigInt(atSeq).toString()}`;
    const reader = await this.duckdb.runAndReadAll(
      `SELECT to_json([${key}])::VARCHAR FROM (${table.sql}) ${where}
       QUALIFY row_number() OVER (PARTITION BY ${primaryKey.map(quoteIdent).join(', ')} ORDER BY _seq DESC) = 1
         AND _op <> 'd'`,
    );
    return reader.getRows().map((r) => String(r[0]));
  }

  /**
   * The latest committed values of `columns` for `keys` (deleted keys left out), as text the
   * sink casts back to the column types.
   */
  async latestValues(
    id: TableIdentifier,
    primaryKey: readonly string[],
    keys: readonly string[],
    columns: readonly string[],
  ): Promise<Map<string, RowValues>> {
    const out = new Map<string, RowValues>();
    const table = await this.source(id);
    if (!table || keys.length === 0 || columns.length === 0) return out;
    const keysTable = `strata_keys_${++staged}`;
    await this.duckdb.run(`CREATE TEMP TABLE ${keysTable} (k VARCHAR)`);
    try {
      const appender = await this.duckdb.createAppender(keysTable, 'main', 'temp');
      for (const k of keys) {
        appender.appendVarchar(k);
        appender.endRow();
      }
      appender.closeSync();
      const key = `to_json([${primaryKey.map((c) => `CAST(${quoteIdent(c)} AS VARCHAR)`).join(', ')}])::VARCHAR`;
      const reader = await this.duckdb.runAndReadAll(
        `SELECT k, ${columns.map((c) => `CAST(${quoteIdent(c)} AS VARCHAR)`).join(', ')}
         FROM (SELECT ${key} AS k, * FROM (${table.sql})) AS raw SEMI JOIN temp.main.${keysTable} USING (k)
         QUALIFY row_number() OVER (PARTITION BY k ORDER BY _seq DESC) = 1 AND _op <> 'd'`,
      );
      for (const row of reader.getRows()) {
        const values: RowValues = {};
        columns.forEach((c, i) => {
          const value = row[i + 1];
          values[c] = value === null || value === undefined ? null : String(value);
        });
        out.set(String(row[0]), values);
      }
    } finally {
      await this.duckdb.run(`DROP TABLE IF EXISTS temp.main.${keysTable}`);
    }
    return out;
  }
}
