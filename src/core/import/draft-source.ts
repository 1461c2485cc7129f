/**
 * `strata generate source`: a source definition drafted from a table's columns. Pure: the
 * caller reads the columns (and, when it can, which key candidates are unique) and writes
 * the YAML this returns.
 */
import { stringify } from 'yaml';
import type { FieldType } from '../definitions/schema.js';

export interface TableColumn {
  name: string;
  type: FieldType;
}

export interface DraftOptions {
  /** `schema.table` (or `catalog.schema.table`) as the source's `table:`. */
  table: string;
  /** The source name; default: the table name made a valid Strata name. */
  name?: string;
  columns: readonly TableColumn[];
  /** Whether a candidate key column holds unique, non-null values; undefined when not checked. */
  isUnique?: (column: string) => boolean | undefined;
}

const NAME = /^[a-z][a-z0-9_]*$/;

/** A valid Strata name (`^[a-z][a-z0-9_]*$`) from any identifier: `OrderID` -> `order_id`. */
export function strataName(identifier: string): string {
  const snake = identifier
    .replace(/([a-z0-9])([A-Z])/g, '$1_$2')
    .toLowerCase()
    .replace(/[^a-z0-9_]+/g, '_')
    .replace(/^_+|_+$/g, '')
    .replace(/_+/g, '_');
  if (snake === '') return 'column';
  return /^[a-z]/.test(snake) ? snake : `c_${snake}`;
}

/** `order_line_id` -> `Order Line Id`: the label a reader of a report expects. */
export function titleCase(name: string): string {
  return name
    .split('_')
    .filter(Boolean)
    .map((word) => word[0]!.toUpperCase() + word.slice(1))
    .join(' ');
}

/** A crude singular of an English table name: `orders` -> `order`, `categories` -> `category`. */
export function singular(name: string): string {
  if (name.endsWith('ies') && name.length > 3) return `${name.slice(0, -3)}y`;
  if (/(ss|sh|ch|x)es$/.test(name)) return name.slice(0, -2);
  if (name.endsWith('s') && !name.endsWith('ss')) return name.slice(0, -1);
  return name;
}

/**
 * The primary key guess, in order of preference: `id`, `<table>_id`, `<singular>_id`. A
 * candidate known not to be unique and non-null is skipped; one not checked is taken.
 */
export function guessPrimaryKey(
  tableName: string,
  columns: readonly TableColumn[],
  isUnique: (column: string) => boolean | undefined = () => undefined,
): string | undefined {
  const bare = strataName(tableName);
  const candidates = [...new Set(['id', `${bare}_id`, `${singular(bare)}_id`])];
  for (const candidate of candidates) {
    const column = columns.find((c) => c.name.toLowerCase() === candidate);
    if (column && column.type !== 'number' && isUnique(column.name) !== false) return column.name;
  }
  return undefined;
}

/** A double-quoted identifier for a field's `sql:` when the column name is no Strata name. */
function quotedColumn(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}

interface DraftField {
  name: string;
  type: FieldType;
  label: string;
  sql?: string;
}

function draftFields(columns: readonly TableColumn[]): DraftField[] {
  const used = new Set<string>();
  return columns.map((column) => {
    let name = strataName(column.name);
    for (let n = 2; used.has(name); n++) name = `${strataName(column.name)}_${n}`;
    used.add(name);
    const field: DraftField = { name, type: column.type, label: titleCase(name) };
    if (name !== column.name) field.sql = quotedColumn(column.name);
    return field;
  });
}

/** The draft as YAML text, with a header comment saying what to check. */
export function draftSourceYaml(options: DraftOptions): string {
  const tableName = options.table.split('.').at(-1) ?? options.table;
  const name = options.name ?? strataName(tableName);
  if (!NAME.test(name)) throw new Error(`source name '${name}' must match ^[a-z][a-z0-9_]*$`);
  if (options.columns.length === 0) throw new Error(`table ${options.table} has no columns`);
  const fields = draftFields(options.columns);
  const keyColumn = guessPrimaryKey(tableName, options.columns, options.isUnique);
  const keyField =
    keyColumn === undefined ? undefined : fields[options.columns.findIndex((c) => c.name === keyColumn)];
  const definition: Record<string, unknown> = {
    name,
    description: `Drafted from ${options.table} by strata generate source: check the types, labels and key.`,
    table: options.table,
  };
  if (keyField) definition.primaryKey = [keyField.name];
  definition.fields = fields;
  // A measure needs a primary key (spec §2): without a guess the draft has none.
  if (keyField)
    definition.measures = [{ name: `${name}_count`, aggregate: 'count', label: `${titleCase(name)} Count` }];
  const header = keyField
    ? ''
    : '# No primary key guessed (no unique id column): add primaryKey before any measure.\n';
  return `${header}${stringify(definition, { lineWidth: 0 })}`;
}
