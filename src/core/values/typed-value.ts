/**
 * Filter and parameter values, checked against the field's type. Every value that reaches
 * SQL is one of these, rendered by the dialect as a correctly escaped literal.
 */
import type { FieldType } from '../definitions/schema.js';

export type TypedValue =
  | { type: 'string'; value: string }
  | { type: 'integer' | 'decimal' | 'number'; value: number }
  | { type: 'boolean'; value: boolean }
  /** `YYYY-MM-DD` */
  | { type: 'date'; value: string }
  /** UTC, `YYYY-MM-DD HH:MM:SS.sss` */
  | { type: 'timestamp'; value: string };

export type Coerced = { ok: true; value: TypedValue } | { ok: false; message: string };

const DATE = /^(\d{4})-(\d{2})-(\d{2})$/;
const TIMESTAMP =
  /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(\.\d{1,9})?)?)?(Z|[+-]\d{2}:?\d{2})?$/;
const INTEGER = /^[+-]?\d+$/;
const NUMBER = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/;

function ok(value: TypedValue): Coerced {
  return { ok: true, value };
}
function fail(message: string): Coerced {
  return { ok: false, message };
}

export function isValidDate(year: number, month: number, day: number): boolean {
  const d = new Date(Date.UTC(year, month - 1, day));
  return d.getUTCFullYear() === year && d.getUTCMonth() === month - 1 && d.getUTCDate() === day;
}

/** A value as written in YAML (or given on the command line) -> a value of `type`, or why not. */
export function coerceValue(raw: unknown, type: FieldType): Coerced {
  switch (type) {
    case 'string':
      return coerceString(raw);
    case 'integer':
      return coerceNumber(raw, type, true);
    case 'decimal':
    case 'number':
      return coerceNumber(raw, type, false);
    case 'boolean':
      if (typeof raw === 'boolean') return ok({ type, value: raw });
      if (raw === 'true' || raw === 'false') return ok({ type, value: raw === 'true' });
      return fail(`expected a boolean (true or false), got ${describe(raw)}`);
    case 'date':
      return coerceDate(raw);
    case 'timestamp':
      return coerceTimestamp(raw);
  }
}

function coerceString(raw: unknown): Coerced {
  if (typeof raw === 'number' || typeof raw === 'boolean') raw = String(raw);
  if (typeof raw !== 'string') return fail(`expected a string, got ${describe(raw)}`);
  if (raw.includes('\u0000')) return fail('a string value cannot contain the NUL character');
  if (!raw.isWellFormed()) return fail('a string value must be valid Unicode');
  return ok({ type: 'string', value: raw });
}

function coerceNumber(raw: unknown, type: 'integer' | 'decimal' | 'number', integer: boolean): Coerced {
  let n: number | undefined;
  if (typeof raw === 'number') n = raw;
  else if (typeof raw === 'string' && (integer ? INTEGER : NUMBER).test(raw.trim())) n = Number(raw.trim());
  if (n === undefined || !Number.isFinite(n))
    return fail(`expected ${integer ? 'an integer' : 'a number'}, got ${describe(raw)}`);
  if (integer && !Number.isSafeInteger(n)) return fail(`expected an integer, got ${describe(raw)}`);
  return ok({ type, value: n });
}

function coerceDate(raw: unknown): Coerced {
  const m = typeof raw === 'string' ? DATE.exec(raw) : null;
  if (!m || !isValidDate(Number(m[1]), Number(m[2]), Number(m[3]))) {
    return fail(`expected a date like 2026-01-31, got ${describe(raw)}`);
  }
  return ok({ type: 'date', value: raw as string });
}

function coerceTimestamp(raw: unknown): Coerced {
  const m = typeof raw === 'string' ? TIMESTAMP.exec(raw) : null;
  if (!m || !isValidDate(Number(m[1]), Number(m[2]), Number(m[3]))) {
    return fail(`expected an ISO-8601 timestamp like 2026-01-31T12:00:00Z, got ${describe(raw)}`);
  }
  const [, y, mo, d, h = '00', mi = '00', s = '00', frac = '', zone = 'Z'] = m;
  if (Number(h) > 23 || Number(mi) > 59 || Number(s) > 59) return fail(`invalid time in ${describe(raw)}`);
  const millis = frac ? frac.slice(1, 4).padEnd(3, '0') : '000';
  const iso = `${y}-${mo}-${d}T${h}:${mi}:${s}.${millis}${zone === 'Z' ? 'Z' : normalizeOffset(zone)}`;
  const utc = new Date(iso);
  if (Number.isNaN(utc.getTime())) return fail(`invalid timestamp ${describe(raw)}`);
  return ok({ type: 'timestamp', value: utc.toISOString().replace('T', ' ').replace('Z', '') });
}

function normalizeOffset(zone: string): string {
  return zone.includes(':') ? zone : `${zone.slice(0, 3)}:${zone.slice(3)}`;
}

function describe(raw: unknown): string {
  return raw === undefined ? 'nothing' : JSON.stringify(raw);
}

/** `90 days`, `1 week`, `3 months`, `1 year`: the span of in_last / in_next. */
export interface RelativeSpan {
  amount: number;
  unit: 'day' | 'week' | 'month' | 'year';
}

const SPAN = /^\s*(\d+)\s*(day|week|month|year)s?\s*$/i;

/** The longest span each unit may count: a thousand years, beyond which dates overflow in some engines. */
export const MAX_SPAN: Record<RelativeSpan['unit'], number> = {
  day: 365_000,
  week: 52_000,
  month: 12_000,
  year: 1000,
};

/** A span, or undefined when the text is not one or counts past MAX_SPAN. */
export function parseSpan(raw: unknown): RelativeSpan | undefined {
  const m = typeof raw === 'string' ? SPAN.exec(raw) : null;
  if (!m) return undefined;
  const unit = m[2]!.toLowerCase() as RelativeSpan['unit'];
  const amount = Number(m[1]);
  return amount <= MAX_SPAN[unit] ? { amount, unit } : undefined;
}
