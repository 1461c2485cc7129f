/**
 * MySQL 8 and MariaDB 10.11+: no FILTER clause, no NULLS LAST, no LATERAL in MariaDB, no
 * date_trunc, no MATERIALIZED, backtick-quoted names, backslash escapes in strings, and
 * CAST targets of their own. The engine pins the session's sql_mode (backslash escapes on,
 * ANSI_QUOTES off) and time zone (UTC), so this SQL means one thing.
 */
import type { FieldType, Granularity } from '../../definitions/schema.js';
import { SqlDialect, type DialectCapabilities } from '../dialect.js';
import { MYSQL_RESERVED } from '../reserved-words.js';

const CAST_TYPES: Record<Exclude<FieldType, 'boolean'>, string> = {
  string: 'CHAR',
  integer: 'SIGNED',
  decimal: 'DECIMAL(38, 9)',
  number: 'DOUBLE',
  date: 'DATE',
  timestamp: 'DATETIME(6)',
};

/** The largest row count MySQL accepts: its documented way of writing OFFSET without LIMIT. */
const NO_LIMIT = '18446744073709551615';

export class MySqlDialect extends SqlDialect {
  readonly name = 'mysql';
  readonly capabilities: DialectCapabilities = {
    aggregateFilter: false,
    nullsOrdering: false,
    lateral: false,
    materializedCte: false,
    correlatedJoins: false,
  };
  protected readonly reservedWords = MYSQL_RESERVED;

  protected override quote(name: string): string {
    return `\`${name.replaceAll('`', '``')}\``;
  }

  override stringLiteral(value: string): string {
    return `'${value.replaceAll('\\', '\\\\').replaceAll("'", "''")}'`;
  }

  /** Where booleans are TINYINT(1): the CAST target for other types. */
  castType(type: FieldType): string {
    return type === 'boolean' ? 'SIGNED' : CAST_TYPES[type];
  }

  /** BOOLEAN is no CAST target: a truth value is a non-zero number (NULL stays NULL). */
  override cast(operand: string, type: FieldType): string {
    return type === 'boolean' ? `(${operand} <> 0)` : super.cast(operand, type);
  }

  /** NULL sorts first ascending and last descending: push NULLs down explicitly when ascending. */
  override orderItem(expr: string, direction: 'asc' | 'desc'): string {
    return direction === 'asc' ? `${expr} IS NULL, ${expr} ASC` : `${expr} DESC`;
  }

  override nullSafeEquals(left: string, right: string): string {
    return `${left} <=> ${right}`;
  }

  override limitOffset(limit: number | undefined, offset: number | undefined): string[] {
    if (offset === undefined) return super.limitOffset(limit, undefined);
    return [`LIMIT ${limit ?? NO_LIMIT} OFFSET ${offset}`];
  }

  override truncate(unit: Granularity, operand: string, type: 'date' | 'timestamp'): string {
    const day = `CAST(${operand} AS DATE)`;
    const start: Record<Granularity, string> = {
      day,
      week: `DATE_SUB(${day}, INTERVAL WEEKDAY(${operand}) DAY)`,
      month: `DATE_SUB(${day}, INTERVAL (DAYOFMONTH(${operand}) - 1) DAY)`,
      quarter: `DATE_ADD(MAKEDATE(YEAR(${operand}), 1), INTERVAL (QUARTER(${operand}) - 1) QUARTER)`,
      year: `MAKEDATE(YEAR(${operand}), 1)`,
    };
    return type === 'date' ? start[unit] : `CAST(${start[unit]} AS DATETIME(6))`;
  }

  /** Named zones need the server's time zone tables (mysql_tzinfo_to_sql); UTC does not. */
  protected today(timezone: string): string {
    if (timezone === 'UTC') return 'UTC_DATE()';
    return `CAST(CONVERT_TZ(UTC_TIMESTAMP(6), '+00:00', ${this.stringLiteral(timezone)}) AS DATE)`;
  }
  protected nowUtc(): string {
    return 'UTC_TIMESTAMP(6)';
  }
}
