/**
 * PostgreSQL values as a pipeline carries them. Both the replication stream and the snapshot
 * read every value as PostgreSQL's text (a session in UTC with ISO dates), and this turns the
 * text into the pipeline's column types: the driver's own parsers would read a `timestamp`
 * in the machine's time zone and a `bigint` as a lossy number.
 */
import type { ColumnType, RowValues } from '../../events.js';

/** Built-in type OIDs (pg_type.h) with a column type other than string. */
const TYPES_BY_OID = new Map<number, ColumnType>([
  [16, 'boolean'],
  [20, 'integer'],
  [21, 'integer'],
  [23, 'integer'],
  [26, 'integer'],
  [700, 'number'],
  [701, 'number'],
  [1700, 'decimal'],
  [1082, 'date'],
  [1114, 'timestamp'],
  [1184, 'timestamp'],
]);

export function columnTypeOf(typeOid: number): ColumnType {
  return TYPES_BY_OID.get(typeOid) ?? 'string';
}

/** One value's text as the column type's value. */
export function valueOf(text: string, type: ColumnType): RowValues[string] {
  switch (type) {
    case 'boolean':
      return text === 't' || text === 'true';
    case 'integer': {
      const n = Number(text);
      return Number.isSafeInteger(n) ? n : text;
    }
    case 'number':
      return Number(text);
    case 'timestamp':
      return isoTimestamp(text);
    default:
      return text;
  }
}

/** `2026-01-02 03:04:05.123456+00` (or without a zone: UTC) → `2026-01-02T03:04:05.123456Z`. */
function isoTimestamp(text: string): string {
  const match = /^(\d{4,}-\d{2}-\d{2}) (\d{2}:\d{2}:\d{2}(?:\.\d+)?)([+-]\d{2}(?::?\d{2}){0,2})?$/.exec(text);
  if (!match) return text;
  const zone = match[3];
  if (!zone || /^[+-]00(:?00){0,2}$/.test(zone)) return `${match[1]}T${match[2]}Z`;
  const [hours, minutes = '00'] = zone.slice(1).split(':');
  return `${match[1]}T${match[2]}${zone[0]}${hours}:${minutes}`;
}

export interface TypedColumn {
  name: string;
  type: ColumnType;
}

/**
 * A row from text values; `undefined` (an unchanged TOAST value the stream did not send)
 * leaves the column out, so the pipeline keeps the value it has instead of a NULL.
 */
export function rowOf(
  columns: readonly TypedColumn[],
  text: Record<string, unknown> | null | undefined,
): RowValues {
  const row: RowValues = {};
  if (!text) return row;
  for (const column of columns) {
    const value = text[column.name];
    if (value === undefined) continue;
    row[column.name] = value === null ? null : valueOf(String(value), column.type);
  }
  return row;
}
