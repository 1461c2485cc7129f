/**
 * Display formats (spec §6): spreadsheet number-format codes rendered for text outputs.
 * Values stay typed elsewhere; only the CLI table and CSV show formatted text.
 */
import SSF from 'ssf';
import type { FieldType } from '../core/definitions/schema.js';
import type { Cell } from '../core/values/cell.js';

const DEFAULT_FORMATS: Partial<Record<FieldType, string>> = {
  date: 'yyyy-mm-dd',
  timestamp: 'yyyy-mm-dd hh:mm:ss',
};

const MS_PER_DAY = 86_400_000;
/** Spreadsheet serial day 0 (1899-12-30), the epoch Sheets and Excel count dates from. */
const SERIAL_EPOCH = Date.UTC(1899, 11, 30);

/** A date or timestamp as a spreadsheet serial number (days since 1899-12-30, time as a fraction). */
export function toSerial(value: string): number {
  const ms = value.length === 10 ? Date.parse(`${value}T00:00:00Z`) : Date.parse(value);
  return (ms - SERIAL_EPOCH) / MS_PER_DAY;
}

export interface DisplayColumn {
  type: FieldType;
  format?: string;
}

export function displayValue(value: Cell, column: DisplayColumn): string {
  if (value === null) return '';
  const format = column.format ?? DEFAULT_FORMATS[column.type];
  if (typeof value === 'boolean') return value ? 'true' : 'false';
  if (!format) return String(value);
  try {
    if ((column.type === 'date' || column.type === 'timestamp') && typeof value === 'string')
      return SSF.format(format, toSerial(value));
    return SSF.format(format, value);
  } catch {
    return String(value);
  }
}
