/** Trino (over Iceberg): no MATERIALIZED hint, and OFFSET comes before LIMIT. */
import type { FieldType } from '../../definitions/schema.js';
import { SqlDialect, type DialectCapabilities } from '../dialect.js';
import { TRINO_RESERVED } from '../reserved-words.js';
import { STANDARD_TYPES } from './common.js';

export class TrinoDialect extends SqlDialect {
  readonly name = 'trino';
  readonly capabilities: DialectCapabilities = {
    aggregateFilter: true,
    nullsOrdering: true,
    lateral: true,
    materializedCte: false,
    correlatedJoins: true,
  };
  protected readonly reservedWords = TRINO_RESERVED;

  castType(type: FieldType): string {
    return STANDARD_TYPES[type];
  }
  override limitOffset(limit: number | undefined, offset: number | undefined): string[] {
    return [
      ...(offset !== undefined ? [`OFFSET ${offset}`] : []),
      ...(limit !== undefined ? [`LIMIT ${limit}`] : []),
    ];
  }
  protected today(timezone: string): string {
    return `CAST(at_timezone(current_timestamp, ${this.stringLiteral(timezone)}) AS DATE)`;
  }
  protected nowUtc(): string {
    return `CAST(at_timezone(current_timestamp, 'UTC') AS TIMESTAMP)`;
  }
}
