/** Where the embedded Iceberg warehouse lives (strata.yaml `warehouse:`), and opening its catalog. */
import { existsSync, mkdirSync } from 'node:fs';
import { dirname, isAbsolute, join } from 'node:path';
import type { DuckDBConnection } from '@duckdb/node-api';
import type { ProjectConfig } from '../core/definitions/schema.js';
import { PostgresCatalog, SqliteCatalog, type IcebergCatalog } from '../warehouse/catalog.js';
import type { Warehouse } from '../warehouse/table.js';
import { resolveSecret } from './secrets.js';

export const DEFAULT_WAREHOUSE_ROOT = '.strata/warehouse';
export const DEFAULT_CATALOG_PATH = '.strata/catalog.db';

export type CatalogLocation = { type: 'sqlite'; path: string } | { type: 'postgres'; connection: string };

export interface WarehouseLocation {
  root: string;
  catalog: CatalogLocation;
  /** The JDBC catalog's `catalog_name`. */
  name: string;
}

const inProject = (projectDir: string, path: string) => (isAbsolute(path) ? path : join(projectDir, path));

export function warehouseLocation(projectDir: string, config: ProjectConfig): WarehouseLocation {
  const w = config.warehouse ?? {};
  const catalog: CatalogLocation =
    w.catalog === 'postgres'
      ? { type: 'postgres', connection: resolveSecret(w.connection ?? 'env:STRATA_CATALOG_URL') }
      : { type: 'sqlite', path: inProject(projectDir, w.path ?? DEFAULT_CATALOG_PATH) };
  return { root: inProject(projectDir, w.root ?? DEFAULT_WAREHOUSE_ROOT), catalog, name: w.name ?? 'strata' };
}

/** A SQLite catalog exists once a table was created; a PostgreSQL one is always there to ask. */
export function warehouseExists(location: WarehouseLocation): boolean {
  return location.catalog.type === 'postgres' || existsSync(location.catalog.path);
}

export async function openCatalog(location: WarehouseLocation): Promise<IcebergCatalog> {
  return location.catalog.type === 'sqlite'
    ? SqliteCatalog.open(location.catalog.path, location.name)
    : PostgresCatalog.connect(location.catalog.connection, location.name);
}

/** A writable warehouse and the DuckDB connection it writes with; `close` releases both. */
export interface WritableWarehouse {
  warehouse: Warehouse;
  duckdb: DuckDBConnection;
  close(): Promise<void>;
}

/**
 * Opens the project's warehouse for writing. Its DuckDB may touch the warehouse directory
 * only: what runs there (compaction, pipeline filters) includes definition SQL.
 */
export async function openWritableWarehouse(
  projectDir: string,
  config: ProjectConfig,
): Promise<WritableWarehouse> {
  const location = warehouseLocation(projectDir, config);
  mkdirSync(location.root, { recursive: true });
  if (location.catalog.type === 'sqlite') mkdirSync(dirname(location.catalog.path), { recursive: true });
  // Loaded on demand: commands that never write should not pay for DuckDB's start-up.
  const { DuckDbEngine } = await import('./duckdb.js');
  const { Warehouse } = await import('../warehouse/table.js');
  const engine = await DuckDbEngine.open({ path: ':memory:' });
  await engine.lockDown({ directories: [location.root] });
  let catalog: IcebergCatalog;
  try {
    catalog = await openCatalog(location);
  } catch (e) {
    await engine.close();
    throw e;
  }
  return {
    warehouse: new Warehouse({ root: location.root, catalog, duckdb: engine.rawConnection }),
    duckdb: engine.rawConnection,
    close: async () => {
      await catalog.close();
      await engine.close();
    },
  };
}

/** Opens the project's warehouse for writing, runs `body`, closes everything. */
export async function withWarehouse<T>(
  projectDir: string,
  config: ProjectConfig,
  body: (warehouse: Warehouse, duckdb: DuckDBConnection) => Promise<T>,
): Promise<T> {
  const opened = await openWritableWarehouse(projectDir, config);
  try {
    return await body(opened.warehouse, opened.duckdb);
  } finally {
    await opened.close();
  }
}
