/**
 * The Iceberg column types Strata writes: the warehouse's tables, and what `strata import` and
 * `strata generate source` map engine types onto.
 */
export type IcebergType =
  | 'boolean'
  | 'int'
  | 'long'
  | 'float'
  | 'double'
  | 'date'
  | 'timestamp'
  | 'timestamptz'
  | 'string'
  | `decimal(${number}, ${number})`;
