/**
 * What a SQL dialect is to the compiler: capability flags the planner and printer consult,
 * and hooks for every construct whose spelling differs between warehouses. The shared
 * printer (render.ts) never spells such a construct itself; a new warehouse is one subclass
 * of SqlDialect in ./dialects/, registered in ./dialects/index.ts.
 */
import { StrataError, error } from '../diagnostics.js';
import type { Dialect, FieldType, Granularity } from '../definitions/schema.js';
import type { RelativeSpan, TypedValue } from '../values/typed-value.js';
import type { DialectFragment } from '../model/types.js';
import type { Select } from './ast.js';
import type { SqlFragment } from './fragments/fragment.js';
import { Printer } from './render.js';

/** Not a backslash: its meaning in string literals differs between engines and settings. */
export const LIKE_ESCAPE = '!';

export interface DialectCapabilities {
  /** `sum(x) FILTER (WHERE c)`; without it aggregates read `sum(CASE WHEN c THEN x END)`. */
  readonly aggregateFilter: boolean;
  /** `ORDER BY x ASC NULLS LAST`; without it NULL placement is spelled by `orderItem`. */
  readonly nullsOrdering: boolean;
  /**
   * `CROSS JOIN LATERAL (subquery)`; without it the planner joins related rows with left
   * joins inside EXISTS, whose ON clauses may then refer to the outer query.
   */
  readonly lateral: boolean;
  /** `WITH x AS MATERIALIZED (...)`, to keep a CTE read twice from being computed twice. */
  readonly materializedCte: boolean;
  /**
   * Joins inside a correlated subquery are planned well (hash joins, selectivity estimates).
   * Without it a correlated EXISTS over several related nodes reads them from one derived
   * table joined once (`SELECT DISTINCT ... FROM top LEFT JOIN ...`), not per outer row.
   */
  readonly correlatedJoins: boolean;
}

const PLAIN_IDENTIFIER = /^[a-z_][a-z0-9_]*$/;

export abstract class SqlDialect {
  abstract readonly name: Dialect;
  abstract readonly capabilities: DialectCapabilities;
  /** Words that must be quoted as identifiers. */
  protected abstract readonly reservedWords: ReadonlySet<string>;

  /** The type a value of `type` is cast to. */
  abstract castType(type: FieldType): string;
  /** Today's date in a time zone. */
  protected abstract today(timezone: string): string;
  /** The current instant as a UTC timestamp without time zone. */
  protected abstract nowUtc(): string;

  /** Prints a query; `depth` indents it for embedding in a larger statement. */
  render(select: Select, materialize: ReadonlySet<string> = new Set(), depth = 0): string {
    return new Printer(this, materialize).select(select, depth);
  }

  /** A name, quoted only when it is not a plain lower-case word or is reserved here. */
  identifier(name: string): string {
    return PLAIN_IDENTIFIER.test(name) && !this.reservedWords.has(name) ? name : this.quote(name);
  }

  protected quote(name: string): string {
    return `"${name.replaceAll('"', '""')}"`;
  }

  stringLiteral(value: string): string {
    return `'${value.replaceAll("'", "''")}'`;
  }

  booleanLiteral(value: boolean): string {
    return value ? 'TRUE' : 'FALSE';
  }

  literal(value: TypedValue | null): string {
    if (value === null) return 'NULL';
    switch (value.type) {
      case 'string':
        return this.stringLiteral(value.value);
      case 'integer':
      case 'decimal':
      case 'number':
        return numberLiteral(value.value);
      case 'boolean':
        return this.booleanLiteral(value.value);
      case 'date':
        return `DATE '${value.value}'`;
      case 'timestamp':
        return `TIMESTAMP '${value.value}'`;
    }
  }

  cast(operand: string, type: FieldType): string {
    return `CAST(${operand} AS ${this.castType(type)})`;
  }

  /** A function call; an aggregate's `filter` restricts the rows it reads (a measure's `filter:`). */
  functionCall(name: string, args: string[], distinct: boolean, filter: string | undefined): string {
    const prefix = distinct ? 'DISTINCT ' : '';
    if (filter === undefined) return `${name}(${prefix}${args.join(', ')})`;
    if (this.capabilities.aggregateFilter)
      return `${name}(${prefix}${args.join(', ')}) FILTER (WHERE ${filter})`;
    // Every aggregate Strata emits ignores NULLs, so CASE without ELSE drops the other rows.
    const filtered = (args.length === 0 || args[0] === '*' ? ['1'] : args).map((arg, i) =>
      i === 0 ? `CASE WHEN ${filter} THEN ${arg} END` : arg,
    );
    return `${name}(${prefix}${filtered.join(', ')})`;
  }

  /** One ORDER BY item, NULLs last in both directions (spec §5). */
  orderItem(expr: string, direction: 'asc' | 'desc'): string {
    return `${expr} ${direction === 'asc' ? 'ASC' : 'DESC'} NULLS LAST`;
  }

  /** The clauses that skip `offset` rows and return at most `limit`, in this dialect's order. */
  limitOffset(limit: number | undefined, offset: number | undefined): string[] {
    return [
      ...(limit !== undefined ? [`LIMIT ${limit}`] : []),
      ...(offset !== undefined ? [`OFFSET ${offset}`] : []),
    ];
  }

  /** The start of the day, week (Monday), month, quarter or year holding `operand`. */
  truncate(unit: Granularity, operand: string, type: 'date' | 'timestamp'): string {
    const truncated = `date_trunc('${unit}', ${operand})`;
    return type === 'date' ? `CAST(${truncated} AS DATE)` : truncated;
  }

  interval(span: RelativeSpan): string {
    const [amount, unit] =
      span.unit === 'week' ? [span.amount * 7, 'DAY'] : [span.amount, span.unit.toUpperCase()];
    return `INTERVAL '${amount}' ${unit}`;
  }

  relativeTime(
    anchor: 'today' | 'now',
    shift: RelativeSpan | null,
    direction: 1 | -1,
    timezone: string,
  ): string {
    const base = anchor === 'today' ? this.today(timezone) : this.nowUtc();
    if (!shift) return base;
    const shifted = `${base} ${direction === 1 ? '+' : '-'} ${this.interval(shift)}`;
    return anchor === 'today' ? `CAST(${shifted} AS DATE)` : shifted;
  }

  /** Equality where NULL equals NULL (joining per-group parts on group columns that may be NULL). */
  nullSafeEquals(left: string, right: string): string {
    return `${left} IS NOT DISTINCT FROM ${right}`;
  }

  /** LIKE, case-insensitive unless asked; `pattern` is already escaped with LIKE_ESCAPE. */
  like(operand: string, pattern: string, caseSensitive = false): string {
    if (caseSensitive) return `${operand} LIKE ${this.stringLiteral(pattern)} ESCAPE '${LIKE_ESCAPE}'`;
    return `lower(${operand}) LIKE lower(${this.stringLiteral(pattern)}) ESCAPE '${LIKE_ESCAPE}'`;
  }

  materializedKeyword(): string {
    return this.capabilities.materializedCte ? ' MATERIALIZED' : '';
  }

  /** The fragment written for this dialect (or for all). */
  fragmentFor(sql: DialectFragment, owner: string): SqlFragment {
    if (sql.kind === 'shared') return sql.fragment;
    const chosen = sql.fragments[this.name];
    if (chosen === undefined) {
      throw new StrataError([
        error(
          'missing_dialect_sql',
          `${owner} has no SQL for dialect ${this.name}`,
          undefined,
          `add sql.${this.name}: ... to it`,
        ),
      ]);
    }
    return chosen;
  }
}

function numberLiteral(n: number): string {
  if (Number.isInteger(n) && Math.abs(n) < 1e21) return n.toString();
  const text = n.toString();
  return text.startsWith('.') ? `0${text}` : text;
}
