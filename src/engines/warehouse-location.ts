/** Where the embedded Iceberg warehouse lives (strata.yaml `warehouse:`), and opening its catalog. */
import { existsSync } from 'node:fs';
import { isAbsolute, join } from 'node:path';
import type { ProjectConfig } from '../core/definitions/schema.js';
import { PostgresCatalog, SqliteCatalog, type IcebergCatalog } from '../warehouse/catalog.js';
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
