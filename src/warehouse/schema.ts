/**
 * Iceberg schemas: the primitive types Strata writes, their JSON form (spec Appendix C),
 * and how they map onto DuckDB and Parquet column names.
 */

import type { IcebergType } from '../core/values/iceberg-type.js';

export type { IcebergType };

export interface IcebergField {
  id: number;
  name: string;
  type: IcebergType;
  required: boolean;
}

export interface IcebergSchema {
  schemaId: number;
  fields: IcebergField[];
  identifierFieldIds?: number[];
}

/** A schema as stored in metadata JSON and in manifest / Parquet key-value metadata. */
export interface SchemaJson {
  type: 'struct';
  'schema-id': number;
  'identifier-field-ids'?: number[];
  fields: { id: number; name: string; required: boolean; type: string; doc?: string }[];
}

export interface DecimalType {
  precision: number;
  scale: number;
}

const PRIMITIVES: ReadonlySet<string> = new Set([
  'boolean',
  'int',
  'long',
  'float',
  'double',
  'date',
  'timestamp',
  'timestamptz',
  'string',
]);

/** `decimal(P, S)` / `decimal(P,S)` -> {precision, scale}; undefined for other types. */
export function parseDecimal(type: string): DecimalType | undefined {
  const match = /^decimal\(\s*(\d+)\s*,\s*(\d+)\s*\)$/.exec(type);
  if (!match) return undefined;
  return { precision: Number(match[1]), scale: Number(match[2]) };
}

/** Validates a type string and returns it in the canonical form `decimal(P, S)`. */
export function normalizeType(type: string): IcebergType {
  if (PRIMITIVES.has(type)) return type as IcebergType;
  const decimal = parseDecimal(type);
  if (decimal) {
    const { precision, scale } = decimal;
    if (precision < 1 || precision > 38 || scale > precision) {
      throw new Error(`invalid Iceberg type ${type}: precision must be 1..38 and scale <= precision`);
    }
    return `decimal(${precision}, ${scale})`;
  }
  throw new Error(
    `unsupported Iceberg type ${JSON.stringify(type)} (supported: ${[...PRIMITIVES].join(', ')}, decimal(P, S))`,
  );
}

/** The DuckDB type a column of this Iceberg type is written from and read as. */
export function duckDbType(type: IcebergType): string {
  switch (type) {
    case 'boolean':
      return 'BOOLEAN';
    case 'int':
      return 'INTEGER';
    case 'long':
      return 'BIGINT';
    case 'float':
      return 'FLOAT';
    case 'double':
      return 'DOUBLE';
    case 'date':
      return 'DATE';
    case 'timestamp':
      return 'TIMESTAMP';
    case 'timestamptz':
      return 'TIMESTAMPTZ';
    case 'string':
      return 'VARCHAR';
  }
  const decimal = parseDecimal(type);
  if (!decimal) throw new Error(`unsupported Iceberg type ${String(type)}`);
  return `DECIMAL(${decimal.precision},${decimal.scale})`;
}

export function schemaToJson(schema: IcebergSchema): SchemaJson {
  const json: SchemaJson = {
    type: 'struct',
    'schema-id': schema.schemaId,
    fields: schema.fields.map((f) => ({ id: f.id, name: f.name, required: f.required, type: f.type })),
  };
  if (schema.identifierFieldIds && schema.identifierFieldIds.length > 0) {
    json['identifier-field-ids'] = [...schema.identifierFieldIds];
  }
  return json;
}

export function schemaFromJson(json: SchemaJson): IcebergSchema {
  const fields = json.fields.map((f) => {
    if (typeof f.type !== 'string') {
      throw new Error(`column ${f.name}: nested Iceberg types are not supported by Strata`);
    }
    return { id: f.id, name: f.name, required: f.required, type: normalizeType(f.type) };
  });
  const schema: IcebergSchema = { schemaId: json['schema-id'], fields };
  if (json['identifier-field-ids']?.length) schema.identifierFieldIds = [...json['identifier-field-ids']];
  return schema;
}

/**
 * The Avro-style name sanitization Iceberg writers apply to Parquet column names
 * (letters, digits and `_` kept; anything else as `_x<HEX>`), so that readers resolving
 * columns by name through the `iceberg.schema` footer (icebird, older engines) find them.
 */
export function sanitizeName(name: string): string {
  let result = '';
  for (const [index, ch] of [...name].entries()) {
    const isLetter = /^[A-Za-z]$/.test(ch);
    const isDigit = /^[0-9]$/.test(ch);
    if (isLetter || ch === '_' || (isDigit && index > 0)) result += ch;
    else if (isDigit) result += `_${ch}`;
    else result += `_x${(ch.codePointAt(0) ?? 0).toString(16).toUpperCase()}`;
  }
  return result;
}

/** A double-quoted SQL identifier. */
export function quoteIdent(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}

/** A single-quoted SQL string literal. */
export function quoteString(value: string): string {
  return `'${value.replaceAll("'", "''")}'`;
}

/** Finds a column by exact name, else case-insensitively (DuckDB identifiers are case-insensitive). */
export function findField(schema: IcebergSchema, name: string): IcebergField | undefined {
  return (
    schema.fields.find((f) => f.name === name) ??
    schema.fields.find((f) => f.name.toLowerCase() === name.toLowerCase())
  );
}

export interface ColumnDefinition {
  name: string;
  type: IcebergType;
  required?: boolean;
}

function fieldsForColumns(columns: ColumnDefinition[]): IcebergField[] {
  if (columns.length === 0) throw new Error('a table needs at least one column');
  const seen = new Set<string>();
  return columns.map((column, index) => {
    const key = column.name.toLowerCase();
    if (column.name === '') throw new Error('column names must not be empty');
    if (seen.has(key)) {
      throw new Error(`duplicate column ${JSON.stringify(column.name)} (names are case-insensitive)`);
    }
    seen.add(key);
    return {
      id: index + 1,
      name: column.name,
      type: normalizeType(column.type),
      required: column.required ?? false,
    };
  });
}

/** Identifier fields must be required primitive, non-floating columns (spec: identifier field ids). */
function identifierIds(fields: IcebergField[], names: string[]): number[] {
  return names.map((name) => {
    const field = fields.find((f) => f.name === name);
    if (!field) throw new Error(`identifier field ${JSON.stringify(name)} is not a column`);
    if (!field.required) throw new Error(`identifier field ${JSON.stringify(name)} must be required`);
    if (field.type === 'float' || field.type === 'double') {
      throw new Error(`identifier field ${JSON.stringify(name)} cannot be ${field.type}`);
    }
    return field.id;
  });
}

/** The first schema of a new table: field ids 1..n in column order. */
export function schemaForColumns(
  columns: ColumnDefinition[],
  identifierFields: string[] = [],
): IcebergSchema {
  const fields = fieldsForColumns(columns);
  const schema: IcebergSchema = { schemaId: 0, fields };
  if (identifierFields.length > 0) schema.identifierFieldIds = identifierIds(fields, identifierFields);
  return schema;
}
