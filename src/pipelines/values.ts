/** Values flowing through a pipeline, coerced to the column types it writes. */
import type { ColumnType, RowValues } from './events.js';

type Value = RowValues[string];

const INTEGER = /^[+-]?\d+$/;
const NUMERIC = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/;
const DATE = /^\d{4}-\d{2}-\d{2}$/;

/** `value` as a `type` column's value; throws when it is not one (a string for a boolean, say). */
export function coerceValue(value: unknown, type: ColumnType): Value {
  if (value === null || value === undefined) return null;
  const fail = (): never => {
    throw new Error(`${JSON.stringify(value)?.slice(0, 60)} is not a ${type}`);
  };
  switch (type) {
    case 'string':
      return typeof value === 'string' ? value : JSON.stringify(value);
    case 'integer':
      if (typeof value === 'number') return Number.isInteger(value) ? value : fail();
      // Beyond 2^53 a number would lose digits: kept as text, the sink casts it exactly.
      if (typeof value === 'string' && INTEGER.test(value.trim())) return value.trim();
      return fail();
    case 'decimal':
    case 'number':
      if (typeof value === 'number') return value;
      if (typeof value === 'string' && NUMERIC.test(value.trim()))
        return type === 'number' ? Number(value) : value.trim();
      return fail();
    case 'boolean':
      if (typeof value === 'boolean') return value;
      if (value === 'true' || value === 'false') return value === 'true';
      return fail();
    case 'date':
      if (typeof value === 'string' && DATE.test(value)) return value;
      if (typeof value === 'string' && !Number.isNaN(Date.parse(value)))
        return new Date(value).toISOString().slice(0, 10);
      return fail();
    case 'timestamp': {
      if (typeof value !== 'string') return fail();
      // A timestamp without a zone is UTC, as everywhere in Strata (not the machine's zone).
      const text = /T\d{2}:\d{2}(:\d{2}(\.\d+)?)?$/.test(value) ? `${value}Z` : value;
      const ms = Date.parse(text);
      return Number.isNaN(ms) ? fail() : new Date(ms).toISOString();
    }
  }
}
