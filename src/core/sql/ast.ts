/**
 * A small SQL syntax tree: the planner builds it, one renderer per dialect prints it.
 * Values only enter as `literal` nodes (escaped by the dialect); definition authors' SQL
 * only as `fragment` nodes and `definitionQuery` items: parsed and validated when the
 * project loads, re-printed from their tokens (src/core/sql/fragments).
 */
import type { FieldType, Granularity } from '../definitions/schema.js';
import type { DialectFragment } from '../model/types.js';
import type { SqlFragment } from './fragments/fragment.js';
import type { RelativeSpan, TypedValue } from '../values/typed-value.js';

export type ComparisonOp = '=' | '<>' | '<' | '<=' | '>' | '>=';
export type ArithmeticOp = '+' | '-' | '*' | '/';

export type Expr =
  | { kind: 'column'; table?: string; name: string }
  /**
   * A definition's expression; its `{placeholders}` (a derived measure's measures, a row
   * filter's caller attributes) are replaced by the expressions given for them.
   */
  | {
      kind: 'fragment';
      sql: DialectFragment;
      owner: string;
      placeholders?: ReadonlyMap<string, Expr>;
      /**
       * Printed outside its source's scan (a measure reading related sources' fields): each
       * column it names, as `facts.columns` holds it, replaced by this expression.
       */
      columns?: ReadonlyMap<string, Expr>;
    }
  | { kind: 'literal'; value: TypedValue | null }
  | { kind: 'compare'; op: ComparisonOp; left: Expr; right: Expr }
  /** Equal, NULL equal to NULL (`IS NOT DISTINCT FROM`). */
  | { kind: 'notDistinct'; left: Expr; right: Expr }
  | { kind: 'arithmetic'; op: ArithmeticOp; left: Expr; right: Expr }
  | { kind: 'logical'; op: 'AND' | 'OR'; operands: Expr[] }
  | { kind: 'not'; operand: Expr }
  | { kind: 'isNull'; operand: Expr; negated: boolean }
  | { kind: 'inList'; operand: Expr; list: Expr[]; negated: boolean }
  | { kind: 'between'; operand: Expr; low: Expr; high: Expr }
  /** `lower(operand) LIKE lower(pattern) ESCAPE '!'`; `pattern` is already LIKE-escaped. */
  /** `pattern` is escaped with LIKE_ESCAPE; case-insensitive unless `caseSensitive`. */
  | { kind: 'like'; operand: Expr; pattern: string; caseSensitive?: boolean }
  | { kind: 'call'; name: string; args: Expr[]; distinct?: boolean; filter?: Expr }
  | { kind: 'star' }
  | { kind: 'cast'; operand: Expr; type: FieldType }
  | { kind: 'truncate'; unit: Granularity; operand: Expr; type: 'date' | 'timestamp' }
  /** Today (a date, in `timezone`) or now (a UTC timestamp), shifted by a span. */
  | {
      kind: 'relativeTime';
      anchor: 'today' | 'now';
      shift: RelativeSpan | null;
      direction: 1 | -1;
      timezone: string;
    }
  | { kind: 'rowNumber'; partitionBy: Expr[]; orderBy: OrderItem[] }
  | { kind: 'exists'; query: Select }
  | { kind: 'case'; when: Expr; then: Expr; else?: Expr }
  | { kind: 'inSubquery'; operand: Expr; query: Select; negated: boolean }
  /** A SELECT of one column and at most one row, as a value (NULL without a row). */
  | { kind: 'scalarSubquery'; query: Select };

export interface OrderItem {
  expr: Expr;
  direction: 'asc' | 'desc';
}

export interface SelectItem {
  expr: Expr;
  alias?: string;
}

export type FromItem =
  | { kind: 'table'; path: string[]; alias?: string }
  /** SQL that Strata generated itself (never text from a definition). */
  | { kind: 'rawQuery'; sql: string; alias: string }
  /** A source's `sql:`, as parsed and validated. */
  | { kind: 'definitionQuery'; query: SqlFragment; alias: string }
  | { kind: 'subquery'; query: Select; alias: string }
  /** A subquery that may refer to the FROM items before it (and to outer queries). */
  | { kind: 'lateral'; query: Select; alias: string }
  | { kind: 'ref'; name: string; alias?: string };

export interface Join {
  type: 'left' | 'inner' | 'cross';
  item: FromItem;
  /** Absent for a cross join. */
  on?: Expr;
}

export interface Cte {
  name: string;
  query: Select;
  /** A comment line above the CTE saying what it is. */
  comment?: string;
}

export interface Select {
  ctes?: Cte[];
  /** SELECT DISTINCT: one row per distinct combination of the columns. */
  distinct?: boolean;
  columns: SelectItem[];
  from?: FromItem;
  joins?: Join[];
  where?: Expr;
  groupBy?: Expr[];
  having?: Expr;
  orderBy?: OrderItem[];
  limit?: number;
  offset?: number;
  /** `UNION ALL` with another query of the same columns. */
  unionAll?: Select;
}

export const col = (table: string | undefined, name: string): Expr =>
  table ? { kind: 'column', table, name } : { kind: 'column', name };
export const lit = (value: TypedValue | null): Expr => ({ kind: 'literal', value });
export const TRUE: Expr = { kind: 'literal', value: { type: 'boolean', value: true } };
export const FALSE: Expr = { kind: 'literal', value: { type: 'boolean', value: false } };

export function and(operands: Expr[]): Expr | undefined {
  const flat = operands.flatMap((o) => (o.kind === 'logical' && o.op === 'AND' ? o.operands : [o]));
  if (flat.length === 0) return undefined;
  return flat.length === 1 ? flat[0] : { kind: 'logical', op: 'AND', operands: flat };
}

export function or(operands: Expr[]): Expr {
  const flat = operands.flatMap((o) => (o.kind === 'logical' && o.op === 'OR' ? o.operands : [o]));
  return flat.length === 1 ? flat[0]! : { kind: 'logical', op: 'OR', operands: flat };
}

export const call = (
  name: string,
  args: Expr[],
  extra: { distinct?: boolean; filter?: Expr } = {},
): Expr => ({
  kind: 'call',
  name,
  args,
  ...extra,
});
