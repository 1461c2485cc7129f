/**
 * The embedded default engine: DuckDB over the local Iceberg warehouse. Before each query
 * every catalog table becomes a view over the live Parquet files of its current snapshot,
 * read by Iceberg field id; so each query sees one snapshot per table, pinned for its
 * whole run, and evolved schemas read right. While a query runs, the snapshots its views read
 * are pinned in the warehouse (warehouse/pins.ts), so maintenance in any process keeps their
 * files until it ends.
 */
import type { Row } from '../core/values/cell.js';
import type { IcebergCatalog, TableIdentifier } from '../warehouse/catalog.js';
import { lastDataChangeMs } from '../warehouse/data-change.js';
import { findSnapshot } from '../warehouse/metadata.js';
import { pinSnapshots, type PinHandle, type PinnedSnapshot } from '../warehouse/pins.js';
import { readParquetSql, Warehouse } from '../warehouse/table.js';
import { DuckDbEngine } from './duckdb.js';
import { QueryError, type Engine, type ResultColumn, type TableVersions } from './engine.js';

const quote = (name: string) => `"${name.replaceAll('"', '""')}"`;
const keyOf = (id: TableIdentifier) => `${id.namespace}.${id.name}`;
/** `namespace.table` back to its parts (namespaces hold no dot in Strata's warehouse). */
const splitKey = (key: string): [string, string] => {
  const dot = key.indexOf('.');
  return [key.slice(0, dot), key.slice(dot + 1)];
};
/** Re-pinning after a snapshot vanished is retried this often; then the query runs and may fail as before. */
const PIN_ATTEMPTS = 5;
const UNPINNED: PinHandle = { path: '', release: async () => undefined };

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
  /** The snapshot each view reads (tables without one have none): what a running query pins. */
  private readonly viewSnapshots = new Map<string, PinnedSnapshot>();
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
        if (state.snapshot)
          this.viewSnapshots.set(keyOf(id), {
            table: keyOf(id),
            snapshotId: String(state.snapshot.snapshotId),
            manifestList: state.snapshot.manifestList,
          });
        else this.viewSnapshots.delete(keyOf(id));
        this.unreadable.delete(keyOf(id));
      } catch (e) {
        await this.duckdb.execute(`DROP VIEW IF EXISTS ${view}`);
        this.views.delete(keyOf(id));
        this.viewSnapshots.delete(keyOf(id));
        this.unreadable.set(keyOf(id), `${location}: ${firstLine(e)}`);
      }
    }
  }

  /**
   * Points the views at the current snapshots and pins those for the query about to run. The
   * pin is written before it is checked: a snapshot that left its table's metadata between
   * building the view and writing the pin (a commit and an expiry meanwhile) may already be
   * losing its files, so the views are rebuilt on the new versions and pinned again. Once a
   * pin is written and its snapshots are still listed, expiry sees it (pins.ts).
   */
  private async pinForQuery(): Promise<PinHandle> {
    for (let attempt = 0; ; attempt++) {
      await this.pinSnapshots();
      const pinned = [...this.viewSnapshots.values()];
      const handle = await pinSnapshots(this.warehouse.root, pinned).catch(() => undefined);
      // A reader that cannot write to the warehouse (a read-only mount) runs unpinned, as before pins.
      if (!handle) return UNPINNED;
      if (attempt >= PIN_ATTEMPTS || (await this.stillListed(pinned))) return handle;
      await handle.release();
    }
  }

  /** Whether every pinned snapshot is still in its table's current metadata. */
  private async stillListed(pinned: readonly PinnedSnapshot[]): Promise<boolean> {
    for (const pin of pinned) {
      const [namespace, name] = splitKey(pin.table);
      const location = await this.catalog.currentMetadataLocation({ namespace, name });
      // The version the view was built from is still current: its snapshot is current, never expired.
      if (location === this.views.get(pin.table)) continue;
      if (location === undefined) return false;
      const state = await this.warehouse.load({ namespace, name });
      if (!findSnapshot(state.metadata, BigInt(pin.snapshotId))) return false;
    }
    return true;
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
    const pin = await this.pinForQuery();
    try {
      yield* this.duckdb.stream(sql);
    } catch (e) {
      throw this.explain(e);
    } finally {
      await pin.release();
    }
  }

  async query(sql: string): Promise<{ columns: ResultColumn[]; rows: Row[] }> {
    const pin = await this.pinForQuery();
    try {
      return await this.duckdb.query(sql).catch((e: unknown) => {
        throw this.explain(e);
      });
    } finally {
      await pin.release();
    }
  }

  async execute(sql: string): Promise<void> {
    const pin = await this.pinForQuery();
    try {
      await this.duckdb.execute(sql).catch((e: unknown) => {
        throw this.explain(e);
      });
    } finally {
      await pin.release();
    }
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
