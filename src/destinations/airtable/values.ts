/**
 * Result cells as Airtable field values, and the typed comparison the upsert diff uses.
 *
 * Airtable's list responses (cellFormat json) return numbers as numbers, checkboxes as
 * `true`, dates as `YYYY-MM-DD`, date-times as ISO-8601 UTC, text as strings, and omit empty
 * fields altogether (an unchecked checkbox too). So a comparison reads a missing field as
 * NULL, and NULL, `false` and `''` as the same "empty" where the column's type makes them so.
 */
import type { FieldType } from '../../core/definitions/schema.js';
import type { Cell } from '../../core/values/cell.js';

/** A comparable form of a value: equal canonical values mean "nothing to write". */
export type Canonical = null | boolean | number | string;

const NUMERIC = new Set<FieldType>(['integer', 'decimal', 'number']);

/** The JSON value sent for a result cell: typed, never text for numbers, dates or booleans. NULL clears. */
export function toAirtable(cell: Cell, type: FieldType): Cell {
  if (cell === null) return null;
  if (NUMERIC.has(type)) {
    if (typeof cell === 'number') return cell;
    const n = typeof cell === 'string' && cell.trim() !== '' ? Number(cell) : NaN;
    return Number.isFinite(n) ? n : cell;
  }
  switch (type) {
    case 'boolean':
      if (typeof cell === 'boolean') return cell;
      return cell === 1 || cell === 'true';
    case 'date':
      return typeof cell === 'string' && /^\d{4}-\d{2}-\d{2}/.test(cell) ? cell.slice(0, 10) : cell;
    case 'timestamp': {
      const ms = typeof cell === 'string' || typeof cell === 'number' ? Date.parse(String(cell)) : NaN;
      return Number.isNaN(ms) ? cell : new Date(ms).toISOString();
    }
    default:
      return typeof cell === 'string' ? cell : String(cell);
  }
}

/**
 * The canonical form of a cell or of a field as Airtable lists it (`undefined` when the list
 * response omitted the field). Empty strings and arrays are empty; a boolean column's NULL
 * is `false` (an unchecked checkbox cannot be told apart from a cleared one).
 */
export function canonical(value: unknown, type: FieldType): Canonical {
  const empty =
    value === undefined || value === null || value === '' || (Array.isArray(value) && value.length === 0);
  if (type === 'boolean') {
    if (empty) return false;
    return value === true || value === 1 || value === 'true';
  }
  if (empty) return null;
  if (NUMERIC.has(type)) {
    if (typeof value === 'number') return value;
    if (typeof value === 'string' && value.trim() !== '' && Number.isFinite(Number(value))) {
      return Number(value);
    }
  } else if (type === 'date') {
    if (typeof value === 'string' && /^\d{4}-\d{2}-\d{2}/.test(value)) return value.slice(0, 10);
  } else if (type === 'timestamp') {
    const ms = typeof value === 'string' ? Date.parse(value) : NaN;
    if (!Number.isNaN(ms)) return new Date(ms).toISOString();
  }
  if (typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean') {
    return type === 'string' ? String(value) : value;
  }
  // Lookups, collaborators, attachments: compared by their JSON (they never equal a cell,
  // so such a field is rewritten; a tracker should not target computed fields).
  return JSON.stringify(value);
}

export function sameValue(a: unknown, b: unknown, type: FieldType): boolean {
  return canonical(a, type) === canonical(b, type);
}

/** A short rendering for plan details. */
export function show(value: unknown): string {
  if (value === undefined || value === null) return 'empty';
  const text = JSON.stringify(value);
  return text.length > 40 ? `${text.slice(0, 37)}...` : text;
}
