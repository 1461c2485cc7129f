/** Strata's Iceberg warehouse: v2 tables on local disk in an Iceberg SQL (JDBC) catalog. */
export {
  PostgresCatalog,
  SqliteCatalog,
  TableExistsError,
  formatIdentifier,
  type IcebergCatalog,
  type TableIdentifier,
} from './catalog.js';
export { decodeBound, encodeBound, type BoundValue } from './bounds.js';
export { fromUri, toUri } from './files.js';
export type { DataFile } from './manifest.js';
export type { Operation, SnapshotId, TableMetadataV2 } from './metadata.js';
export { duckDbType, type IcebergField, type IcebergSchema, type IcebergType } from './schema.js';
export { readParquetSql } from './sql.js';
export {
  CommitConflictError,
  NoSuchTableError,
  Warehouse,
  type BeforeSwapHook,
  type ColumnDefinition,
  type Snapshot,
  type TableState,
  type WarehouseOptions,
} from './table.js';
