/**
 * Iceberg SQL catalogs in the layout of Java's JdbcCatalog (schema version V1), so Spark,
 * Trino or pyiceberg configured with a JDBC/SQL catalog on the same database see the tables:
 *
 *   iceberg_tables(catalog_name, table_namespace, table_name, metadata_location,
 *                  previous_metadata_location, iceberg_type)
 *   iceberg_namespace_properties(catalog_name, namespace, property_key, property_value)
 *
 * A commit is the compare-and-swap of `metadata_location`, one UPDATE guarded by the
 * expected value: atomic in both databases, whichever process or machine issues it.
 */
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';
import pg from 'pg';

export interface TableIdentifier {
  namespace: string;
  name: string;
}

export interface IcebergCatalog {
  /** The `catalog_name` column: several catalogs can share the tables. */
  readonly name: string;
  currentMetadataLocation(id: TableIdentifier): Promise<string | undefined>;
  /** Idempotent. */
  createNamespace(namespace: string): Promise<void>;
  listNamespaces(): Promise<string[]>;
  /** Fails with TableExistsError if the table is registered already. */
  registerTable(id: TableIdentifier, metadataLocation: string): Promise<void>;
  /** Compare-and-swap of metadata_location: true when `expected` was still current and is now `next`. */
  swapMetadataLocation(id: TableIdentifier, expected: string, next: string): Promise<boolean>;
  /**
   * Several compare-and-swaps in one catalog transaction: all happen, or none (false). This
   * is how changes to several tables commit atomically (a CDC batch spanning tables).
   */
  swapMetadataLocations(swaps: readonly MetadataSwap[]): Promise<boolean>;
  listTables(namespace?: string): Promise<TableIdentifier[]>;
  /** Unregisters the table (its files stay); absent tables are ignored. */
  dropTable(id: TableIdentifier): Promise<void>;
  close(): Promise<void>;
}

export interface MetadataSwap {
  id: TableIdentifier;
  expected: string;
  next: string;
}

/** Thrown inside a catalog transaction to roll it back when a swap finds another version. */
class SwapLost extends Error {}

export class TableExistsError extends Error {
  constructor(id: TableIdentifier, catalog: string) {
    super(`table ${formatIdentifier(id)} already exists in catalog ${catalog}`);
    this.name = 'TableExistsError';
  }
}

export function formatIdentifier(id: TableIdentifier): string {
  return `${id.namespace}.${id.name}`;
}

const DEFAULT_CATALOG_NAME = 'strata';
/** `iceberg_type` of tables (V1 catalogs also store views, which are none of ours). */
const TABLE_TYPE = 'TABLE';
const IS_TABLE = `(iceberg_type = '${TABLE_TYPE}' OR iceberg_type IS NULL)`;

const CREATE_TABLES = `CREATE TABLE IF NOT EXISTS iceberg_tables (
  catalog_name VARCHAR(255) NOT NULL,
  table_namespace VARCHAR(255) NOT NULL,
  table_name VARCHAR(255) NOT NULL,
  metadata_location VARCHAR(1000),
  previous_metadata_location VARCHAR(1000),
  iceberg_type VARCHAR(5),
  PRIMARY KEY (catalog_name, table_namespace, table_name)
)`;

const CREATE_NAMESPACE_PROPERTIES = `CREATE TABLE IF NOT EXISTS iceberg_namespace_properties (
  catalog_name VARCHAR(255) NOT NULL,
  namespace VARCHAR(255) NOT NULL,
  property_key VARCHAR(255),
  property_value VARCHAR(1000),
  PRIMARY KEY (catalog_name, namespace, property_key)
)`;

/** Both dialects take the same statements; only the placeholder syntax differs. */
const SQL = {
  get: `SELECT metadata_location FROM iceberg_tables
        WHERE catalog_name = ? AND table_namespace = ? AND table_name = ? AND ${IS_TABLE}`,
  // Java's JdbcCatalog marks a namespace with the property `exists` = `true`.
  createNamespace: `INSERT INTO iceberg_namespace_properties (catalog_name, namespace, property_key, property_value)
        VALUES (?, ?, 'exists', 'true') ON CONFLICT DO NOTHING`,
  listNamespaces: `SELECT namespace FROM iceberg_namespace_properties WHERE catalog_name = ?
        UNION SELECT table_namespace FROM iceberg_tables WHERE catalog_name = ? ORDER BY 1`,
  register: `INSERT INTO iceberg_tables
        (catalog_name, table_namespace, table_name, metadata_location, previous_metadata_location, iceberg_type)
        VALUES (?, ?, ?, ?, NULL, '${TABLE_TYPE}')`,
  swap: `UPDATE iceberg_tables SET metadata_location = ?, previous_metadata_location = ?
        WHERE catalog_name = ? AND table_namespace = ? AND table_name = ? AND metadata_location = ? AND ${IS_TABLE}`,
  listAll: `SELECT table_namespace, table_name FROM iceberg_tables
        WHERE catalog_name = ? AND ${IS_TABLE} ORDER BY table_namespace, table_name`,
  listIn: `SELECT table_namespace, table_name FROM iceberg_tables
        WHERE catalog_name = ? AND table_namespace = ? AND ${IS_TABLE} ORDER BY table_name`,
  drop: `DELETE FROM iceberg_tables WHERE catalog_name = ? AND table_namespace = ? AND table_name = ? AND ${IS_TABLE}`,
};

interface TableRow {
  table_namespace: string;
  table_name: string;
}

function toIdentifiers(rows: TableRow[]): TableIdentifier[] {
  return rows.map((r) => ({ namespace: r.table_namespace, name: r.table_name }));
}

// ---------------------------------------------------------------- SQLite

/**
 * The catalog in a SQLite file via better-sqlite3. WAL mode lets readers run beside the one
 * writer, and the busy timeout makes concurrent processes wait for the write lock instead of
 * failing; each statement is a single autocommit transaction.
 */
export class SqliteCatalog implements IcebergCatalog {
  private constructor(
    private readonly db: Database.Database,
    readonly name: string,
  ) {}

  static open(path: string, name = DEFAULT_CATALOG_NAME): SqliteCatalog {
    if (path !== ':memory:') mkdirSync(dirname(path), { recursive: true });
    const db = new Database(path, { timeout: 15_000 });
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = NORMAL');
    db.transaction(() => {
      db.exec(CREATE_TABLES);
      db.exec(CREATE_NAMESPACE_PROPERTIES);
      addIcebergTypeColumnIfMissing(db);
    }).immediate();
    return new SqliteCatalog(db, name);
  }

  async currentMetadataLocation(id: TableIdentifier): Promise<string | undefined> {
    const row = this.db.prepare(SQL.get).get(this.name, id.namespace, id.name) as
      { metadata_location: string | null } | undefined;
    return row?.metadata_location ?? undefined;
  }

  async createNamespace(namespace: string): Promise<void> {
    this.db.prepare(SQL.createNamespace).run(this.name, namespace);
  }

  async listNamespaces(): Promise<string[]> {
    const rows = this.db.prepare(SQL.listNamespaces).all(this.name, this.name) as { namespace: string }[];
    return rows.map((r) => r.namespace);
  }

  async registerTable(id: TableIdentifier, metadataLocation: string): Promise<void> {
    try {
      this.db.prepare(SQL.register).run(this.name, id.namespace, id.name, metadataLocation);
    } catch (error) {
      if ((error as { code?: string }).code?.startsWith('SQLITE_CONSTRAINT'))
        throw new TableExistsError(id, this.name);
      throw error;
    }
  }

  async swapMetadataLocation(id: TableIdentifier, expected: string, next: string): Promise<boolean> {
    const result = this.db.prepare(SQL.swap).run(next, expected, this.name, id.namespace, id.name, expected);
    return result.changes === 1;
  }

  async swapMetadataLocations(swaps: readonly MetadataSwap[]): Promise<boolean> {
    const swap = this.db.prepare(SQL.swap);
    const all = this.db.transaction(() => {
      for (const { id, expected, next } of swaps)
        if (swap.run(next, expected, this.name, id.namespace, id.name, expected).changes !== 1)
          throw new SwapLost();
    });
    try {
      all.immediate();
      return true;
    } catch (error) {
      if (error instanceof SwapLost) return false;
      throw error;
    }
  }

  async listTables(namespace?: string): Promise<TableIdentifier[]> {
    const rows =
      namespace === undefined
        ? this.db.prepare(SQL.listAll).all(this.name)
        : this.db.prepare(SQL.listIn).all(this.name, namespace);
    return toIdentifiers(rows as TableRow[]);
  }

  async dropTable(id: TableIdentifier): Promise<void> {
    this.db.prepare(SQL.drop).run(this.name, id.namespace, id.name);
  }

  async close(): Promise<void> {
    this.db.close();
  }
}

/** Catalogs created by Java before schema V1 lack `iceberg_type`; Java adds it the same way. */
function addIcebergTypeColumnIfMissing(db: Database.Database): void {
  const columns = db.prepare('PRAGMA table_info(iceberg_tables)').all() as { name: string }[];
  if (!columns.some((c) => c.name === 'iceberg_type')) {
    db.exec('ALTER TABLE iceberg_tables ADD COLUMN iceberg_type VARCHAR(5)');
  }
}

// ---------------------------------------------------------------- PostgreSQL

/** `?` placeholders -> `$1, $2, ...`. */
function numbered(sql: string): string {
  let n = 0;
  return sql.replace(/\?/g, () => `$${++n}`);
}

/** Serializes schema creation between processes (CREATE TABLE IF NOT EXISTS races on pg_type). */
const SCHEMA_LOCK_KEY = 0x1ceb_e7a1;

export class PostgresCatalog implements IcebergCatalog {
  private constructor(
    private readonly pool: pg.Pool,
    readonly name: string,
  ) {}

  static async connect(connectionString: string, name = DEFAULT_CATALOG_NAME): Promise<PostgresCatalog> {
    const pool = new pg.Pool({ connectionString, max: 4 });
    try {
      await ensurePostgresSchema(pool);
    } catch (error) {
      await pool.end();
      throw error;
    }
    return new PostgresCatalog(pool, name);
  }

  private async query<R extends pg.QueryResultRow>(
    sql: string,
    params: unknown[],
  ): Promise<pg.QueryResult<R>> {
    return this.pool.query<R>(numbered(sql), params);
  }

  async currentMetadataLocation(id: TableIdentifier): Promise<string | undefined> {
    const result = await this.query<{ metadata_location: string | null }>(SQL.get, [
      this.name,
      id.namespace,
      id.name,
    ]);
    return result.rows[0]?.metadata_location ?? undefined;
  }

  async createNamespace(namespace: string): Promise<void> {
    await this.query(SQL.createNamespace, [this.name, namespace]);
  }

  async listNamespaces(): Promise<string[]> {
    const result = await this.query<{ namespace: string }>(SQL.listNamespaces, [this.name, this.name]);
    return result.rows.map((r) => r.namespace);
  }

  async registerTable(id: TableIdentifier, metadataLocation: string): Promise<void> {
    try {
      await this.query(SQL.register, [this.name, id.namespace, id.name, metadataLocation]);
    } catch (error) {
      if ((error as { code?: string }).code === '23505') throw new TableExistsError(id, this.name);
      throw error;
    }
  }

  async swapMetadataLocation(id: TableIdentifier, expected: string, next: string): Promise<boolean> {
    const result = await this.query(SQL.swap, [next, expected, this.name, id.namespace, id.name, expected]);
    return result.rowCount === 1;
  }

  async swapMetadataLocations(swaps: readonly MetadataSwap[]): Promise<boolean> {
    const client = await this.pool.connect();
    try {
      await client.query('BEGIN');
      for (const { id, expected, next } of swaps) {
        const result = await client.query(numbered(SQL.swap), [
          next,
          expected,
          this.name,
          id.namespace,
          id.name,
          expected,
        ]);
        if (result.rowCount !== 1) {
          await client.query('ROLLBACK');
          return false;
        }
      }
      await client.query('COMMIT');
      return true;
    } catch (error) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw error;
    } finally {
      client.release();
    }
  }

  async listTables(namespace?: string): Promise<TableIdentifier[]> {
    const result =
      namespace === undefined
        ? await this.query<TableRow>(SQL.listAll, [this.name])
        : await this.query<TableRow>(SQL.listIn, [this.name, namespace]);
    return toIdentifiers(result.rows);
  }

  async dropTable(id: TableIdentifier): Promise<void> {
    await this.query(SQL.drop, [this.name, id.namespace, id.name]);
  }

  async close(): Promise<void> {
    await this.pool.end();
  }
}

async function ensurePostgresSchema(pool: pg.Pool): Promise<void> {
  const client = await pool.connect();
  try {
    await client.query('BEGIN');
    await client.query('SELECT pg_advisory_xact_lock($1)', [SCHEMA_LOCK_KEY]);
    await client.query(CREATE_TABLES);
    await client.query(CREATE_NAMESPACE_PROPERTIES);
    await client.query('ALTER TABLE iceberg_tables ADD COLUMN IF NOT EXISTS iceberg_type VARCHAR(5)');
    await client.query('COMMIT');
  } catch (error) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw error;
  } finally {
    client.release();
  }
}
