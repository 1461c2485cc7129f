/**
 * The embedded default engine: DuckDB over the local Iceberg warehouse. Before each query
 * every catalog table becomes a view over the live Parquet files of its current snapshot,
 * read by Iceberg field id; so each query sees one snapshot per table, pinned for its
 * whole run, and evolved schemas read right.
 */
import type { Row } from '../core/values/cell.js';
import type { IcebergCatalog, TableIdentifier } from '../warehouse/catalog.js';
import { lastDataChangeMs } from '../warehouse/data-change.js';
import { readParquetSql, Warehouse } from '../warehouse/table.js';
import { DuckDbEngine } from './duckdb.js';
import { QueryError, type Engine, type ResultColumn, type TableVersions } from './engine.js';

const quote = (name: string) => `"${name.replaceAll('"', '""')}"`;
const keyOf = (id: TableIdentifier) => `${id.namespace}.${id.name}`;

export interface IcebergDuckDbOptions {
  root: string;
  catalog: IcebergCatalog;
  /** A DuckDB database file whose tables are readable too (Iceberg tables win on a name clash). */
  databaseFile?: string;
}

export class IcebergDuckDbEngine implements Engine {
  readonly name = 'duckdb';
  readonly dialect = 'duckdb';
  readonly exactVersions = true;
  /** The metadata file each view was built from: an unchanged table keeps its view. */
  private readonly views = new Map<string, string>();
  /**
   * Tables that cannot be read (a corrupt or missing metadata file), with the reason. They get
   * no view, so only the queries that read them fail, and with this reason.
   */
  private readonly unreadable = new Map<string, string>();

  private constructor(
    readonly duckdb: DuckDbEngine,
    readonly warehouse: Warehouse,
    readonly catalog: IcebergCatalog,
  ) {}

  static async open(options: IcebergDuckDbOptions): Promise<IcebergDuckDbEngine> {
    const duckdb = await DuckDbEngine.open({ path: ':memory:' });
    const warehouse = new Warehouse({
      root: options.root,
      catalog: options.catalog,
      duckdb: duckdb.rawConnection,
    });
    const engine = new IcebergDuckDbEngine(duckdb, warehouse, options.catalog);
    if (options.databaseFile) await engine.exposeDatabaseFile(options.databaseFile);
    await duckdb.lockDown({ directories: [options.root] });
    return engine;
  }

  /** Tables of a plain DuckDB file become views too, so one query can join both worlds. */
  private async exposeDatabaseFile(path: string): Promise<void> {
    await this.duckdb.execute(`ATTACH '${path.replaceAll("'", "''")}' AS strata_file (READ_ONLY)`);
    const { rows } = await this.duckdb.query(
      `SELECT table_schema, table_name FROM information_schema.tables WHERE table_catalog = 'strata_file' ORDER BY 1, 2`,
    );
    for (const [schema, table] of rows as [string, string][]) {
      await this.duckdb.execute(`CREATE SCHEMA IF NOT EXISTS ${quote(schema)}`);
      await this.duckdb.execute(
        `CREATE OR REPLACE VIEW ${quote(schema)}.${quote(table)} AS SELECT * FROM strata_file.${quote(schema)}.${quote(table)}`,
      );
    }
  }

  /** Points every table's view at its current snapshot; a table that cannot be read loses its view. */
  async pinSnapshots(): Promise<void> {
    for (const id of await this.catalog.listTables()) {
      const location = await this.catalog.currentMetadataLocation(id);
      if (!location || this.views.get(keyOf(id)) === location) continue;
      const view = `${quote(id.namespace)}.${quote(id.name)}`;
      await this.duckdb.execute(`CREATE SCHEMA IF NOT EXISTS ${quote(id.namespace)}`);
      try {
        const state = await this.warehouse.load(id);
        const { files, schema } = await this.warehouse.planFiles(state);
        await this.duckdb.execute(`CREATE OR REPLACE VIEW ${view} AS ${readParquetSql(files, schema)}`);
        this.views.set(keyOf(id), state.metadataLocation);
        this.unreadable.delete(keyOf(id));
      } catch (e) {
        await this.duckdb.execute(`DROP VIEW IF EXISTS ${view}`);
        this.views.delete(keyOf(id));
        this.unreadable.set(keyOf(id), `${location}: ${firstLine(e)}`);
      }
    }
  }

  /** A failure to find a table that exists but cannot be read, told as that. */
  private explain(e: unknown): unknown {
    const missing =
      e instanceof QueryError ? /Table with name "?([^"\s!]+)"? does not exist/.exec(e.message) : null;
    if (!missing) return e;
    const name = missing[1]!.toLowerCase();
    for (const [table, reason] of this.unreadable) {
      if (table.toLowerCase().endsWith(`.${name}`))
        return new QueryError('duckdb', `table ${table} cannot be read: ${reason}`);
    }
    return e;
  }

  /**
   * The tables' current metadata files: a new commit anywhere changes them. Undefined when a
   * table is not an Iceberg table of the catalog (a DuckDB file's table): its changes cannot be
   * seen. Names of one part are a source query's CTEs, which no catalog holds.
   */
  async tableVersions(tables: readonly string[]): Promise<TableVersions | undefined> {
    const parts: string[] = [];
    let changedAt: number | undefined;
    for (const table of tables) {
      const path = table.split('.');
      if (path.length < 2) continue;
      const [namespace, name] = path.slice(-2) as [string, string];
      const location = await this.catalog.currentMetadataLocation({ namespace, name });
      if (location === undefined) return undefined;
      parts.push(`${table}=${location}`);
      const state = await this.warehouse.load({ namespace, name });
      const at = lastDataChangeMs(state);
      if (at !== undefined) changedAt = Math.max(changedAt ?? at, at);
    }
    if (parts.length === 0) return undefined;
    return {
      fingerprint: parts.join(';'),
      source: 'iceberg_metadata',
      ...(changedAt !== undefined ? { changedAt: new Date(changedAt).toISOString() } : {}),
    };
  }

  async *stream(sql: string): AsyncIterable<Row[]> {
    await this.pinSnapshots();
    try {
      yield* this.duckdb.stream(sql);
    } catch (e) {
      throw this.explain(e);
    }
  }

  async query(sql: string): Promise<{ columns: ResultColumn[]; rows: Row[] }> {
    await this.pinSnapshots();
    return this.duckdb.query(sql).catch((e: unknown) => {
      throw this.explain(e);
    });
  }

  async execute(sql: string): Promise<void> {
    await this.pinSnapshots();
    await this.duckdb.execute(sql).catch((e: unknown) => {
      throw this.explain(e);
    });
  }

  async interrupt(): Promise<void> {
    await this.duckdb.interrupt();
  }

  async close(): Promise<void> {
    await this.catalog.close();
    await this.duckdb.close();
  }
}

function firstLine(e: unknown): string {
  const message =
    e instanceof QueryError ? e.message.replace(/^duckdb: /, '') : e instanceof Error ? e.message : String(e);
  return message.split('\n')[0] ?? message;
}
