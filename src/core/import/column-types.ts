/**
 * Column types for `strata import` and `strata generate source`: what an engine reports
 * (DuckDB's inferred types, information_schema's data types) mapped onto Iceberg types and
 * onto Strata field types. Pure functions: no I/O.
 */
import type { FieldType } from '../definitions/schema.js';
import type { IcebergType } from '../values/iceberg-type.js';

/** A column read from input files: its DuckDB type and the Iceberg type it is stored as. */
export interface InferredColumn {
  name: string;
  duckdbType: string;
  type: IcebergType;
  /** True when the values are rendered as text on the way in (nested, binary, time-of-day, ...). */
  asText: boolean;
}

const DECIMAL = /^DECIMAL\((\d+),\s*(\d+)\)$/;

/** The Iceberg type a column of this DuckDB type is stored as, and whether it goes in as text. */
export function icebergTypeForDuckDb(duckdbType: string): { type: IcebergType; asText: boolean } {
  const t = duckdbType.toUpperCase().trim();
  switch (t) {
    case 'BOOLEAN':
      return { type: 'boolean', asText: false };
    case 'TINYINT':
    case 'SMALLINT':
    case 'INTEGER':
    case 'UTINYINT':
    case 'USMALLINT':
      return { type: 'int', asText: false };
    case 'BIGINT':
    case 'UINTEGER':
      return { type: 'long', asText: false };
    // Beyond a signed 64-bit range: an exact decimal keeps every value.
    case 'UBIGINT':
    case 'HUGEINT':
    case 'UHUGEINT':
      return { type: 'decimal(38, 0)', asText: false };
    case 'FLOAT':
      return { type: 'float', asText: false };
    case 'DOUBLE':
      return { type: 'double', asText: false };
    case 'DATE':
      return { type: 'date', asText: false };
    case 'TIMESTAMP':
    case 'TIMESTAMP_S':
    case 'TIMESTAMP_MS':
    case 'TIMESTAMP_NS':
      return { type: 'timestamp', asText: false };
    case 'TIMESTAMP WITH TIME ZONE':
      return { type: 'timestamptz', asText: false };
    case 'VARCHAR':
      return { type: 'string', asText: false };
  }
  const decimal = DECIMAL.exec(t);
  if (decimal) return { type: `decimal(${Number(decimal[1])}, ${Number(decimal[2])})`, asText: false };
  // TIME, UUID, INTERVAL, BLOB, JSON, lists, structs, maps: Strata has no such field type.
  return { type: 'string', asText: true };
}

/**
 * Whether values of `incoming` can be appended to a column of type `existing`: the same type,
 * a widening (int -> long, float -> double, whole numbers -> double, a decimal into a wider
 * one of the same scale), or whole numbers into a narrower whole-number or decimal column,
 * which the write casts with an overflow check (a value that does not fit fails the import
 * rather than changing). Anything that would round or reinterpret values is refused.
 */
export function canAppendInto(existing: string, incoming: string): boolean {
  if (existing === incoming) return true;
  const whole = (t: string) => t === 'int' || t === 'long';
  if (whole(existing) && whole(incoming)) return true;
  if (existing === 'double' && (incoming === 'float' || whole(incoming))) return true;
  const e = parseDecimal(existing);
  const i = parseDecimal(incoming);
  if (e && i) return e.scale === i.scale && e.precision >= i.precision;
  return e !== undefined && whole(incoming);
}

function parseDecimal(type: string): { precision: number; scale: number } | undefined {
  const m = /^decimal\((\d+),\s*(\d+)\)$/.exec(type);
  return m ? { precision: Number(m[1]), scale: Number(m[2]) } : undefined;
}

/** The Strata field type of an Iceberg column. */
export function fieldTypeForIceberg(type: string): FieldType {
  switch (type) {
    case 'boolean':
      return 'boolean';
    case 'int':
    case 'long':
      return 'integer';
    case 'float':
    case 'double':
      return 'number';
    case 'date':
      return 'date';
    case 'timestamp':
    case 'timestamptz':
      return 'timestamp';
  }
  return type.startsWith('decimal') ? 'decimal' : 'string';
}

/**
 * The Strata field type of a column as information_schema (PostgreSQL, MySQL, DuckDB)
 * names its data type; unknown types are strings.
 */
export function fieldTypeForSqlType(dataType: string): FieldType {
  const t = dataType.toLowerCase().trim();
  if (t === 'boolean' || t === 'bool' || t === 'tinyint(1)') return 'boolean';
  if (
    /^(tiny|small|medium|big|unsigned\s)?int(eger)?\b|^(u?(tiny|small|big|huge)int|integer|serial|bigserial|smallserial|int[248]|uinteger|ubigint|usmallint|utinyint|hugeint)$/.test(
      t,
    )
  )
    return 'integer';
  if (/^(numeric|decimal)/.test(t)) return 'decimal';
  if (/^(real|double|float)/.test(t)) return 'number';
  if (t === 'date') return 'date';
  if (/^(timestamp|datetime)/.test(t)) return 'timestamp';
  return 'string';
}
