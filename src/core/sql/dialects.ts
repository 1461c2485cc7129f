/** The three dialects: only what differs from the shared printer. */
import type { Dialect, FieldType } from '../definitions/schema.js';
import { SqlDialect } from './render.js';

const COMMON_TYPES: Record<FieldType, string> = {
  string: 'VARCHAR',
  integer: 'BIGINT',
  decimal: 'DECIMAL(38, 9)',
  number: 'DOUBLE',
  boolean: 'BOOLEAN',
  date: 'DATE',
  timestamp: 'TIMESTAMP',
};

export class DuckDbDialect extends SqlDialect {
  readonly name = 'duckdb';
  protected readonly supportsMaterialized = true;
  castType(type: FieldType): string {
    return COMMON_TYPES[type];
  }
  protected today(timezone: string): string {
    return `CAST(timezone(${this.stringLiteral(timezone)}, now()) AS DATE)`;
  }
  protected nowUtc(): string {
    return `timezone('UTC', now())`;
  }
}

export class PostgresDialect extends SqlDialect {
  readonly name = 'postgres';
  protected readonly supportsMaterialized = true;
  castType(type: FieldType): string {
    return type === 'decimal' ? 'NUMERIC' : type === 'number' ? 'DOUBLE PRECISION' : COMMON_TYPES[type];
  }
  /** E'' strings escape backslashes explicitly, so the literal is the same whatever standard_conforming_strings says. */
  override stringLiteral(value: string): string {
    const quoted = value.replaceAll("'", "''");
    return value.includes('\\') ? `E'${quoted.replaceAll('\\', '\\\\')}'` : `'${quoted}'`;
  }
  protected today(timezone: string): string {
    return `CAST(now() AT TIME ZONE ${this.stringLiteral(timezone)} AS DATE)`;
  }
  protected nowUtc(): string {
    return `(now() AT TIME ZONE 'UTC')`;
  }
}

export class TrinoDialect extends SqlDialect {
  readonly name = 'trino';
  protected readonly supportsMaterialized = false;
  castType(type: FieldType): string {
    return COMMON_TYPES[type];
  }
  protected today(timezone: string): string {
    return `CAST(at_timezone(current_timestamp, ${this.stringLiteral(timezone)}) AS DATE)`;
  }
  protected nowUtc(): string {
    return `CAST(at_timezone(current_timestamp, 'UTC') AS TIMESTAMP)`;
  }
}

const DIALECTS: Record<Dialect, () => SqlDialect> = {
  duckdb: () => new DuckDbDialect(),
  postgres: () => new PostgresDialect(),
  trino: () => new TrinoDialect(),
};

export function dialectFor(name: Dialect): SqlDialect {
  return DIALECTS[name]();
}
