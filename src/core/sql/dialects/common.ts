/** What several dialects spell the same way. */
import type { FieldType } from '../../definitions/schema.js';

/** The standard type names DuckDB and Trino understand as they are. */
export const STANDARD_TYPES: Record<FieldType, string> = {
  string: 'VARCHAR',
  integer: 'BIGINT',
  decimal: 'DECIMAL(38, 9)',
  number: 'DOUBLE',
  boolean: 'BOOLEAN',
  date: 'DATE',
  timestamp: 'TIMESTAMP',
};
