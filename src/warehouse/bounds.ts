/**
 * Column bounds: Iceberg's binary single-value serialization (spec Appendix D) and the
 * conversion of the min/max strings DuckDB's `COPY ... RETURN_STATS` reports into it.
 * A bound that cannot be derived exactly is left out: a missing bound only costs pruning,
 * a wrong one loses rows.
 */
import { parseDecimal, type IcebergType } from './schema.js';

/** A decoded bound: int/date/float/double -> number, long/timestamps -> bigint (micros), decimal -> its text. */
export type BoundValue = boolean | number | bigint | string;

/** Strings bounds are truncated to this many code points, as Iceberg's default `truncate(16)` metrics mode. */
export const STRING_BOUND_LENGTH = 16;

// ---------------------------------------------------------------- binary form

function littleEndian(bytes: number, write: (view: DataView) => void): Uint8Array {
  const out = new Uint8Array(bytes);
  write(new DataView(out.buffer));
  return out;
}

/** Two's-complement big-endian with the minimum number of bytes, as the spec stores decimals. */
function minimalBigEndian(value: bigint): Uint8Array {
  const bytes: number[] = [];
  let rest = value;
  for (;;) {
    const byte = Number(BigInt.asUintN(8, rest));
    bytes.unshift(byte);
    rest >>= 8n;
    const signBitClear = (byte & 0x80) === 0;
    if ((rest === 0n && signBitClear) || (rest === -1n && !signBitClear)) break;
  }
  return Uint8Array.from(bytes);
}

function fromBigEndian(bytes: Uint8Array): bigint {
  let value = 0n;
  for (const byte of bytes) value = (value << 8n) | BigInt(byte);
  return BigInt.asIntN(bytes.length * 8, value);
}

function unscaledToText(unscaled: bigint, scale: number): string {
  const negative = unscaled < 0n;
  const digits = (negative ? -unscaled : unscaled).toString().padStart(scale + 1, '0');
  const body = scale === 0 ? digits : `${digits.slice(0, -scale)}.${digits.slice(-scale)}`;
  return negative ? `-${body}` : body;
}

/** Decimal text (`-12.50`) -> its unscaled integer at `scale`; undefined when it has more fraction digits. */
export function unscaledDecimal(text: string, scale: number): bigint | undefined {
  const match = /^([+-]?)(\d*)(?:\.(\d*))?$/.exec(text.trim());
  if (!match || (match[2] === '' && !match[3])) return undefined;
  const fraction = match[3] ?? '';
  if (fraction.replace(/0+$/, '').length > scale) return undefined;
  const unscaled = BigInt(`${match[2] || '0'}${fraction.padEnd(scale, '0').slice(0, scale)}`);
  return match[1] === '-' ? -unscaled : unscaled;
}

export function encodeBound(type: IcebergType, value: BoundValue): Uint8Array {
  switch (type) {
    case 'boolean':
      return Uint8Array.of(value ? 1 : 0);
    case 'int':
    case 'date':
      return littleEndian(4, (v) => v.setInt32(0, Number(value), true));
    case 'long':
    case 'timestamp':
    case 'timestamptz':
      return littleEndian(8, (v) => v.setBigInt64(0, BigInt(value), true));
    case 'float':
      return littleEndian(4, (v) => v.setFloat32(0, Number(value), true));
    case 'double':
      return littleEndian(8, (v) => v.setFloat64(0, Number(value), true));
    case 'string':
      return new TextEncoder().encode(String(value));
  }
  const decimal = parseDecimal(type);
  if (!decimal) throw new Error(`no bound serialization for ${String(type)}`);
  const unscaled = typeof value === 'bigint' ? value : unscaledDecimal(String(value), decimal.scale);
  if (unscaled === undefined) throw new Error(`${String(value)} is not a ${type}`);
  return minimalBigEndian(unscaled);
}

export function decodeBound(type: IcebergType, bytes: Uint8Array): BoundValue {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  switch (type) {
    case 'boolean':
      return bytes[0] !== 0;
    case 'int':
    case 'date':
      return view.getInt32(0, true);
    case 'long':
    case 'timestamp':
    case 'timestamptz':
      return view.getBigInt64(0, true);
    case 'float':
      return view.getFloat32(0, true);
    case 'double':
      return view.getFloat64(0, true);
    case 'string':
      return new TextDecoder().decode(bytes);
  }
  const decimal = parseDecimal(type);
  if (!decimal) throw new Error(`no bound serialization for ${String(type)}`);
  return unscaledToText(fromBigEndian(bytes), decimal.scale);
}

// ---------------------------------------------------------------- DuckDB's stats text

/** Days since 1970-01-01 of a proleptic Gregorian date (no `Date`: it maps years 0-99 to 19xx). */
export function daysFromCivil(year: number, month: number, day: number): number {
  const y = month <= 2 ? year - 1 : year;
  const era = Math.floor(y / 400);
  const yearOfEra = y - era * 400;
  const dayOfYear = Math.floor((153 * (month + (month > 2 ? -3 : 9)) + 2) / 5) + day - 1;
  const dayOfEra = yearOfEra * 365 + Math.floor(yearOfEra / 4) - Math.floor(yearOfEra / 100) + dayOfYear;
  return era * 146097 + dayOfEra - 719468;
}

/** `YYYY-MM-DD` -> days since epoch; undefined for BC dates or anything else. */
export function parseDateText(text: string): number | undefined {
  const match = /^(\d{4,})-(\d{2})-(\d{2})$/.exec(text.trim());
  if (!match) return undefined;
  return daysFromCivil(Number(match[1]), Number(match[2]), Number(match[3]));
}

const TIMESTAMP_TEXT =
  /^(\d{4,})-(\d{2})-(\d{2})[ T](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?(?:(Z)|([+-])(\d{2})(?::?(\d{2}))?(?::?(\d{2}))?)?$/;

/**
 * `YYYY-MM-DD HH:MM:SS[.ffffff][+HH[:MM]]` -> microseconds since epoch (UTC when an offset is
 * given); undefined for `infinity`, BC and other forms. `roundUp` rounds sub-microsecond digits up.
 */
export function parseTimestampText(text: string, roundUp = false): bigint | undefined {
  const m = TIMESTAMP_TEXT.exec(text.trim());
  if (!m) return undefined;
  const days = daysFromCivil(Number(m[1]), Number(m[2]), Number(m[3]));
  const seconds = days * 86400 + Number(m[4]) * 3600 + Number(m[5]) * 60 + Number(m[6]);
  const digits = m[7] ?? '';
  let micros = BigInt(seconds) * 1_000_000n + BigInt(digits.padEnd(6, '0').slice(0, 6));
  if (roundUp && /[1-9]/.test(digits.slice(6))) micros += 1n;
  if (m[9]) {
    const offsetSeconds = Number(m[10]) * 3600 + Number(m[11] ?? 0) * 60 + Number(m[12] ?? 0);
    micros -= BigInt(m[9] === '-' ? -offsetSeconds : offsetSeconds) * 1_000_000n;
  }
  return micros;
}

function parseFloatText(text: string): number | undefined {
  const t = text.trim().toLowerCase();
  if (t === 'inf' || t === 'infinity' || t === '+inf') return Infinity;
  if (t === '-inf' || t === '-infinity') return -Infinity;
  const value = Number(t);
  return t === '' || Number.isNaN(value) ? undefined : value;
}

/** The smallest string greater than every string starting with `prefix`, or undefined. */
function incrementLastCodePoint(codePoints: number[]): string | undefined {
  for (let i = codePoints.length - 1; i >= 0; i--) {
    let next = (codePoints[i] ?? 0) + 1;
    if (next >= 0xd800 && next <= 0xdfff) next = 0xe000; // skip the surrogate range
    if (next <= 0x10ffff) return String.fromCodePoint(...codePoints.slice(0, i), next);
  }
  return undefined;
}

/** Truncates a string bound to STRING_BOUND_LENGTH code points, keeping it a valid bound. */
export function truncateStringBound(value: string, which: 'lower' | 'upper'): string | undefined {
  const codePoints = [...value].map((ch) => ch.codePointAt(0) ?? 0);
  if (codePoints.length <= STRING_BOUND_LENGTH) return value;
  const prefix = codePoints.slice(0, STRING_BOUND_LENGTH);
  return which === 'lower' ? String.fromCodePoint(...prefix) : incrementLastCodePoint(prefix);
}

function parseStatValue(type: IcebergType, text: string, which: 'lower' | 'upper'): BoundValue | undefined {
  switch (type) {
    case 'boolean':
      return ['1', 'true'].includes(text) ? true : ['0', 'false'].includes(text) ? false : undefined;
    case 'int': {
      const n = Number(text);
      return Number.isInteger(n) ? n : undefined;
    }
    case 'long':
      return /^-?\d+$/.test(text) ? BigInt(text) : undefined;
    case 'float':
    case 'double': {
      let n = parseFloatText(text);
      if (n === undefined) return undefined;
      if (type === 'float') n = Math.fround(n);
      // The spec orders -0.0 before +0.0 and Parquet stats do not tell them apart.
      if (n === 0) return which === 'lower' ? -0 : 0;
      return n;
    }
    case 'date':
      return parseDateText(text);
    case 'timestamp':
    case 'timestamptz':
      return parseTimestampText(text, which === 'upper');
    case 'string':
      // DuckDB truncates long string stats itself; a replacement character means it cut
      // a multi-byte character, and such a value is no trustworthy upper bound.
      if (which === 'upper' && text.includes('\uFFFD')) return undefined;
      return truncateStringBound(text, which);
  }
  const decimal = parseDecimal(type);
  return decimal ? unscaledDecimal(text, decimal.scale) : undefined;
}

/** A DuckDB min/max statistic -> the Iceberg binary bound, or undefined when not derivable. */
export function boundFromStat(
  type: IcebergType,
  text: string | undefined,
  which: 'lower' | 'upper',
): Uint8Array | undefined {
  if (text === undefined) return undefined;
  const value = parseStatValue(type, text, which);
  return value === undefined ? undefined : encodeBound(type, value);
}
