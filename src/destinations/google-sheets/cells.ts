/**
 * Typed cells for Google Sheets (spec §6): every result value becomes an ExtendedValue of its
 * own type (numbers as numberValue, booleans as boolValue, text as stringValue, dates and
 * timestamps as serial numbers under a date number format), and every column's `format`
 * becomes a NumberFormat. Values read back (values.batchGet with UNFORMATTED_VALUE and
 * SERIAL_NUMBER) are compared in the same typed form, never as display strings.
 */
import type { sheets_v4 } from '@googleapis/sheets';
import type { SyncColumn } from '../destination.js';
import type { Cell } from '../../core/values/cell.js';
import { toSerial } from '../../output/display.js';

/** A cell value as the values API returns it unformatted: null for an empty cell. */
export type SheetValue = null | number | string | boolean;

export type NumberFormatType =
  'TEXT' | 'NUMBER' | 'PERCENT' | 'CURRENCY' | 'DATE' | 'TIME' | 'DATE_TIME' | 'SCIENTIFIC';

export interface NumberFormat {
  type: NumberFormatType;
  pattern: string;
}

const DEFAULT_PATTERNS: Partial<Record<SyncColumn['type'], string>> = {
  date: 'yyyy-mm-dd',
  timestamp: 'yyyy-mm-dd hh:mm:ss',
};

const NUMERIC_TYPES = new Set<SyncColumn['type']>(['integer', 'decimal', 'number']);

/** The number format a column's cells carry, or undefined for the sheet's automatic format. */
export function numberFormatOf(column: SyncColumn): NumberFormat | undefined {
  const pattern = column.format ?? DEFAULT_PATTERNS[column.type];
  if (!pattern) return undefined;
  return { type: formatType(pattern, column.type), pattern };
}

function formatType(pattern: string, type: SyncColumn['type']): NumberFormatType {
  if (pattern.trim() === '@') return 'TEXT';
  // Quoted literals and escaped characters do not decide the type.
  const bare = pattern.replace(/"[^"]*"/g, '').replace(/\\./g, '');
  const hasDate = /[yd]/i.test(bare) || /m{3,}/i.test(bare);
  const hasTime = /[hs]/i.test(bare) || /am\/pm/i.test(bare);
  if (type === 'date' || type === 'timestamp' || hasDate) {
    if (hasDate && hasTime) return 'DATE_TIME';
    if (hasTime && !hasDate) return 'TIME';
    return type === 'timestamp' && !hasDate ? 'DATE_TIME' : 'DATE';
  }
  if (bare.includes('%')) return 'PERCENT';
  if (/[$€£¥]|\[\$/.test(bare)) return 'CURRENCY';
  if (/E[+-]/i.test(bare)) return 'SCIENTIFIC';
  return 'NUMBER';
}

/** A stable text form of a column's format, stored in `strata:format` column metadata. */
export function formatKey(format: NumberFormat | undefined): string {
  return format ? `${format.type}|${format.pattern}` : 'none';
}

/** The value a result cell becomes in the sheet, in the form values.batchGet reads it back. */
export function sheetValue(cell: Cell, column: SyncColumn): SheetValue {
  if (cell === null || cell === '') return null;
  if (typeof cell === 'boolean') return cell;
  if (typeof cell === 'number') return Number.isFinite(cell) ? cell : String(cell);
  if (column.type === 'date' || column.type === 'timestamp') {
    const serial = toSerial(cell);
    return Number.isFinite(serial) ? serial : cell;
  }
  if (NUMERIC_TYPES.has(column.type) && /^\s*-?(\d+\.?\d*|\.\d+)(e[+-]?\d+)?\s*$/i.test(cell)) {
    const n = Number(cell);
    if (Number.isFinite(n)) return n;
  }
  return cell;
}

/** The ExtendedValue for a sheet value; undefined for an empty cell (the field mask clears it). */
export function extendedValue(value: SheetValue): sheets_v4.Schema$ExtendedValue | undefined {
  if (value === null) return undefined;
  if (typeof value === 'number') return { numberValue: value };
  if (typeof value === 'boolean') return { boolValue: value };
  return { stringValue: value };
}

/**
 * CellData writing one value with field mask `userEnteredValue`. An empty cell is `{}`: under
 * that mask it clears the old value (a values.update `null` would leave it; see STACK.md).
 */
export function cellData(value: SheetValue): sheets_v4.Schema$CellData {
  const userEnteredValue = extendedValue(value);
  return userEnteredValue ? { userEnteredValue } : {};
}

/** What values.batchGet (UNFORMATTED_VALUE) returned for a cell, as a SheetValue. */
export function readValue(raw: unknown): SheetValue {
  if (raw === undefined || raw === null || raw === '') return null;
  if (typeof raw === 'number' || typeof raw === 'boolean' || typeof raw === 'string') return raw;
  return String(raw);
}

/** Typed comparison: 5 and "5" differ; numbers compare within rounding of a double. */
export function sameValue(a: SheetValue, b: SheetValue): boolean {
  if (a === b) return true;
  if (typeof a === 'number' && typeof b === 'number') {
    return Math.abs(a - b) <= 8 * Number.EPSILON * Math.max(1, Math.abs(a), Math.abs(b));
  }
  return false;
}

/** A key part in a comparable form: numbers rounded so a serial read back matches the one written. */
export function keyPart(value: SheetValue): SheetValue {
  return typeof value === 'number' ? Number(value.toPrecision(15)) : value;
}

/** Approximate JSON size of one CellData (for splitting requests by payload size). */
export function cellBytes(cell: sheets_v4.Schema$CellData): number {
  const v = cell.userEnteredValue;
  if (!v) return 3;
  if (v.stringValue !== undefined && v.stringValue !== null)
    return 38 + Buffer.byteLength(JSON.stringify(v.stringValue));
  if (v.numberValue !== undefined && v.numberValue !== null) return 38 + String(v.numberValue).length;
  return 42;
}

/** Column index (0-based) to A1 letters: 0 -> A, 26 -> AA. */
export function columnLetter(index: number): string {
  let n = index + 1;
  let out = '';
  while (n > 0) {
    const r = (n - 1) % 26;
    out = String.fromCharCode(65 + r) + out;
    n = Math.floor((n - 1) / 26);
  }
  return out;
}

/** A sheet title quoted for A1 notation: 'My tab' with ' doubled. */
export function quoteTitle(title: string): string {
  return `'${title.replace(/'/g, "''")}'`;
}
