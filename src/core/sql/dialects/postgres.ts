/** PostgreSQL 13+. */
import type { FieldType } from '../../definitions/schema.js';
import { SqlDialect, type DialectCapabilities } from '../dialect.js';
import { POSTGRES_RESERVED } from '../reserved-words.js';
import { STANDARD_TYPES } from './common.js';

export class PostgresDialect extends SqlDialect {
  readonly name = 'postgres';
  readonly capabilities: DialectCapabilities = {
    aggregateFilter: true,
    nullsOrdering: true,
    lateral: true,
    materializedCte: true,
    correlatedJoins: true,
  };
  protected readonly reservedWords = POSTGRES_RESERVED;

  castType(type: FieldType): string {
    return type === 'decimal' ? 'NUMERIC' : type === 'number' ? 'DOUBLE PRECISION' : STANDARD_TYPES[type];
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
