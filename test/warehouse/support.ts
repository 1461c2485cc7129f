/** Helpers for the warehouse tests: temp warehouses, catalogs, and reading tables two ways. */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { DuckDBInstance, type DuckDBConnection } from '@duckdb/node-api';
import { icebergRead } from 'icebird';
import pg from 'pg';
import {
  PostgresCatalog,
  SqliteCatalog,
  Warehouse,
  fromUri,
  readParquetSql,
  type IcebergCatalog,
  type IcebergSchema,
  type SnapshotId,
  type TableState,
  type WarehouseOptions,
} from '../../src/warehouse/index.js';

export const POSTGRES_URL = process.env.STRATA_TEST_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

export type CatalogKind = 'sqlite' | 'postgres';

export function uniqueName(prefix: string): string {
  return `${prefix}_${process.pid}_${Math.floor(Math.random() * 1e9)}`;
}

/** A scratch directory with a warehouse root and a SQLite catalog file, removed by `dispose`. */
export class TestEnvironment {
  readonly catalogs: IcebergCatalog[] = [];
  private readonly instances: DuckDBInstance[] = [];

  private constructor(
    readonly dir: string,
    readonly kind: CatalogKind,
    readonly catalogName: string,
  ) {}

  static async create(kind: CatalogKind = 'sqlite'): Promise<TestEnvironment> {
    const dir = await mkdtemp(join(tmpdir(), 'strata-warehouse-'));
    return new TestEnvironment(dir, kind, uniqueName('strata_test'));
  }

  get root(): string {
    return join(this.dir, 'warehouse');
  }

  get sqlitePath(): string {
    return join(this.dir, 'catalog.sqlite');
  }

  async catalog(): Promise<IcebergCatalog> {
    const catalog =
      this.kind === 'sqlite'
        ? SqliteCatalog.open(this.sqlitePath, this.catalogName)
        : await PostgresCatalog.connect(POSTGRES_URL, this.catalogName);
    this.catalogs.push(catalog);
    return catalog;
  }

  async duckdb(): Promise<DuckDBConnection> {
    const instance = await DuckDBInstance.create(':memory:');
    this.instances.push(instance);
    return instance.connect();
  }

  /** A warehouse with its own catalog connection and DuckDB, as a separate writer would have. */
  async warehouse(options: Partial<WarehouseOptions> = {}): Promise<Warehouse> {
    return new Warehouse({
      root: this.root,
      catalog: await this.catalog(),
      duckdb: await this.duckdb(),
      ...options,
    });
  }

  async dispose(): Promise<void> {
    await Promise.all(this.catalogs.map((c) => c.close()));
    if (this.kind === 'postgres') await deletePostgresCatalog(this.catalogName);
    for (const instance of this.instances) instance.closeSync();
    await rm(this.dir, { recursive: true, force: true });
  }
}

/** The PostgreSQL catalog tables are shared by all tests: remove this test's rows. */
async function deletePostgresCatalog(name: string): Promise<void> {
  const client = new pg.Client({ connectionString: POSTGRES_URL });
  await client.connect();
  try {
    await client.query('DELETE FROM iceberg_tables WHERE catalog_name = $1', [name]);
    await client.query('DELETE FROM iceberg_namespace_properties WHERE catalog_name = $1', [name]);
  } finally {
    await client.end();
  }
}

/** icebird fetches everything; Node's fetch has no file: URLs, so serve those from disk. */
export function serveFileUrls(): () => void {
  const original = globalThis.fetch;
  globalThis.fetch = async (input: string | URL | Request, init?: RequestInit): Promise<Response> => {
    const url = typeof input === 'string' ? input : input instanceof URL ? input.href : input.url;
    if (!url.startsWith('file:')) return original(input, init);
    try {
      return new Response(await readFile(fromUri(url)), { status: 200 });
    } catch {
      return new Response(null, { status: 404, statusText: 'Not Found' });
    }
  };
  return () => {
    globalThis.fetch = original;
  };
}

/** A comparable cell: longs as strings, decimals at their scale, dates ISO, timestamps epoch ms, NaN as 'NaN'. */
type Cell = string | number | boolean | null;
export type Row = Record<string, Cell>;

function scaleOf(type: string): number | undefined {
  const match = /^decimal\(\d+,\s*(\d+)\)$/.exec(type);
  return match ? Number(match[1]) : undefined;
}

function normalizeIcebird(type: string, value: unknown): Cell {
  if (value === null || value === undefined) return null;
  if (typeof value === 'number' && Number.isNaN(value)) return 'NaN';
  const scale = scaleOf(type);
  if (scale !== undefined) return Number(value).toFixed(scale);
  if (value instanceof Date) return type === 'date' ? value.toISOString().slice(0, 10) : value.getTime();
  if (typeof value === 'bigint') return value.toString();
  return value as Cell;
}

/** The DuckDB expression giving a column in the same comparable form. */
function comparableSql(name: string, type: string): string {
  const column = `"${name.replaceAll('"', '""')}"`;
  if (type === 'timestamp' || type === 'timestamptz') return `epoch_ms(${column})`;
  if (type === 'date' || type === 'long' || scaleOf(type) !== undefined) return `CAST(${column} AS VARCHAR)`;
  if (type === 'float' || type === 'double')
    return `CASE WHEN isnan(${column}) THEN 'NaN' ELSE CAST(${column} AS VARCHAR) END`;
  return column;
}

function normalizeDuckDb(type: string, value: unknown): Cell {
  if (value === null || value === undefined) return null;
  if (type === 'timestamp' || type === 'timestamptz') return Number(value);
  if ((type === 'float' || type === 'double') && value !== 'NaN') return Number(value);
  return value as Cell;
}

function sortRows(rows: Row[]): Row[] {
  return rows.sort((a, b) => JSON.stringify(a).localeCompare(JSON.stringify(b)));
}

/** The rows of a snapshot through planFiles + readParquetSql in DuckDB, in comparable form. */
export async function readWithDuckDb(
  warehouse: Warehouse,
  duckdb: DuckDBConnection,
  state: TableState,
  snapshotId?: SnapshotId,
): Promise<Row[]> {
  const { files, schema } = await warehouse.planFiles(state, snapshotId);
  const select = schema.fields.map(
    (f) => `${comparableSql(f.name, f.type)} AS "${f.name.replaceAll('"', '""')}"`,
  );
  const reader = await duckdb.runAndReadAll(
    `SELECT ${select.join(', ')} FROM (${readParquetSql(files, schema)})`,
  );
  const rows = reader.getRowObjectsJson() as Record<string, unknown>[];
  return sortRows(
    rows.map((row) =>
      Object.fromEntries(schema.fields.map((f) => [f.name, normalizeDuckDb(f.type, row[f.name])])),
    ),
  );
}

/** The rows of the current snapshot as icebird (an independent Iceberg reader) sees them. */
export async function readWithIcebird(
  state: TableState,
  schema: IcebergSchema = state.schema,
): Promise<Row[]> {
  const rows = await icebergRead({
    tableUrl: state.metadata.location,
    metadataFileName: basename(state.metadataLocation),
  });
  return sortRows(
    rows.map((row) =>
      Object.fromEntries(schema.fields.map((f) => [f.name, normalizeIcebird(f.type, row[f.name])])),
    ),
  );
}
