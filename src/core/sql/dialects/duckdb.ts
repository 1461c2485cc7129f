/** DuckDB: the embedded default. It has every construct the printer knows. */
import type { FieldType } from '../../definitions/schema.js';
import { SqlDialect, type DialectCapabilities } from '../dialect.js';
import { DUCKDB_RESERVED } from '../reserved-words.js';
import { STANDARD_TYPES } from './common.js';

export class DuckDbDialect extends SqlDialect {
  readonly name = 'duckdb';
  readonly capabilities: DialectCapabilities = {
    aggregateFilter: true,
    nullsOrdering: true,
    lateral: true,
    materializedCte: true,
    correlatedJoins: true,
  };
  protected readonly reservedWords = DUCKDB_RESERVED;

  castType(type: FieldType): string {
    return STANDARD_TYPES[type];
  }
  protected today(timezone: string): string {
    return `CAST(timezone(${this.stringLiteral(timezone)}, now()) AS DATE)`;
  }
  protected nowUtc(): string {
    return `timezone('UTC', now())`;
  }
}
