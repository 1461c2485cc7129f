/**
 * The SQL printer. One class holds what the dialects share; each dialect overrides only
 * what differs (types, date functions, "now", string escaping). Output is deterministic
 * and laid out for review: one clause per line, one CTE per plan step.
 */
import { StrataError, error } from '../diagnostics.js';
import type { Dialect, FieldType } from '../definitions/schema.js';
import type { RelativeSpan, TypedValue } from '../values/typed-value.js';
import type { DialectFragment } from '../model/types.js';
import type { Cte, Expr, FromItem, OrderItem, Select } from './ast.js';
import { printFragment, type SqlFragment } from './fragments/fragment.js';
import { quoteIdentifier } from './identifiers.js';

const INDENT = '  ';
/** Not a backslash: its meaning in string literals differs between engines and settings. */
export const LIKE_ESCAPE = '!';

export abstract class SqlDialect {
  abstract readonly name: Dialect;
  /** Whether `WITH x AS MATERIALIZED (...)` is understood. */
  protected abstract readonly supportsMaterialized: boolean;

  abstract castType(type: FieldType): string;
  /** Today's date in a time zone. */
  protected abstract today(timezone: string): string;
  /** The current instant as a UTC timestamp without time zone. */
  protected abstract nowUtc(): string;

  /** Prints a query; `depth` indents it for embedding in a larger statement. */
  render(select: Select, materialize: ReadonlySet<string> = new Set(), depth = 0): string {
    return new Printer(this, materialize).select(select, depth);
  }

  identifier(name: string): string {
    return quoteIdentifier(name);
  }

  stringLiteral(value: string): string {
    return `'${value.replaceAll("'", "''")}'`;
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
        return value.value ? 'TRUE' : 'FALSE';
      case 'date':
        return `DATE '${value.value}'`;
      case 'timestamp':
        return `TIMESTAMP '${value.value}'`;
    }
  }

  truncate(unit: string, operand: string, type: 'date' | 'timestamp'): string {
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

  materializedKeyword(): string {
    return this.supportsMaterialized ? ' MATERIALIZED' : '';
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

class Printer {
  constructor(
    private readonly dialect: SqlDialect,
    private readonly materialize: ReadonlySet<string>,
  ) {}

  select(s: Select, depth: number): string {
    const pad = INDENT.repeat(depth);
    const lines: string[] = [];
    if (s.ctes && s.ctes.length > 0) {
      lines.push(`${pad}WITH`);
      s.ctes.forEach((cte, i) => lines.push(this.cte(cte, depth + 1) + (i < s.ctes!.length - 1 ? ',' : '')));
    }
    lines.push(this.columns(s, depth));
    if (s.from) lines.push(`${pad}FROM ${this.fromItem(s.from, depth)}`);
    for (const join of s.joins ?? []) {
      const keyword =
        join.type === 'left' ? 'LEFT JOIN' : join.type === 'inner' ? 'INNER JOIN' : 'CROSS JOIN';
      const on = join.on ? ` ON ${this.expr(join.on, depth)}` : '';
      lines.push(`${pad}${keyword} ${this.fromItem(join.item, depth)}${on}`);
    }
    if (s.where) lines.push(this.clauseWithConjuncts('WHERE', s.where, depth));
    if (s.groupBy && s.groupBy.length > 0)
      lines.push(`${pad}GROUP BY ${s.groupBy.map((e) => this.expr(e, depth)).join(', ')}`);
    if (s.having) lines.push(this.clauseWithConjuncts('HAVING', s.having, depth));
    if (s.orderBy && s.orderBy.length > 0)
      lines.push(`${pad}ORDER BY ${s.orderBy.map((o) => this.orderItem(o, depth)).join(', ')}`);
    if (s.limit !== undefined) lines.push(`${pad}LIMIT ${s.limit}`);
    if (s.offset !== undefined) lines.push(`${pad}OFFSET ${s.offset}`);
    if (s.unionAll) lines.push(`${pad}UNION ALL`, this.select(s.unionAll, depth));
    return lines.join('\n');
  }

  private cte(cte: Cte, depth: number): string {
    const pad = INDENT.repeat(depth);
    const comment = cte.comment ? `${pad}-- ${cte.comment.replaceAll('\n', ' ')}\n` : '';
    const materialized = this.materialize.has(cte.name) ? this.dialect.materializedKeyword() : '';
    return `${comment}${pad}${this.dialect.identifier(cte.name)} AS${materialized} (\n${this.select(cte.query, depth + 1)}\n${pad})`;
  }

  private columns(s: Select, depth: number): string {
    const pad = INDENT.repeat(depth);
    const items = s.columns.map((c) => {
      const text = this.expr(c.expr, depth + 1);
      const sameName = c.expr.kind === 'column' && c.expr.name === c.alias;
      return c.alias === undefined || sameName ? text : `${text} AS ${this.dialect.identifier(c.alias)}`;
    });
    if (items.length === 1 && !items[0]!.includes('\n')) return `${pad}SELECT ${items[0]}`;
    return `${pad}SELECT\n${items.map((i) => `${pad}${INDENT}${i}`).join(',\n')}`;
  }

  private clauseWithConjuncts(keyword: string, e: Expr, depth: number): string {
    const pad = INDENT.repeat(depth);
    const conjuncts = e.kind === 'logical' && e.op === 'AND' ? e.operands : [e];
    if (conjuncts.length === 1) return `${pad}${keyword} ${this.expr(conjuncts[0]!, depth)}`;
    return `${pad}${keyword}\n${conjuncts.map((c, i) => `${pad}${INDENT}${i > 0 ? 'AND ' : ''}${this.wrapOr(c, depth + 1)}`).join('\n')}`;
  }

  private fromItem(item: FromItem, depth: number): string {
    const pad = INDENT.repeat(depth);
    const alias = (name: string | undefined, own: string) =>
      name === undefined || name === own ? '' : ` AS ${this.dialect.identifier(name)}`;
    switch (item.kind) {
      case 'table':
        return (
          item.path.map((p) => this.dialect.identifier(p)).join('.') +
          alias(item.alias, item.path[item.path.length - 1]!)
        );
      case 'ref':
        return this.dialect.identifier(item.name) + alias(item.alias, item.name);
      case 'rawQuery':
        return `(\n${pad}${INDENT}${item.sql.trim().replaceAll('\n', `\n${pad}${INDENT}`)}\n${pad}) AS ${this.dialect.identifier(item.alias)}`;
      case 'definitionQuery': {
        const sql = this.fragment(item.query, depth + 1, `${pad}${INDENT}`);
        return `(\n${pad}${INDENT}${sql}\n${pad}) AS ${this.dialect.identifier(item.alias)}`;
      }
      case 'subquery':
        return `(\n${this.select(item.query, depth + 1)}\n${pad}) AS ${this.dialect.identifier(item.alias)}`;
      case 'lateral':
        return `LATERAL (\n${this.select(item.query, depth + 1)}\n${pad}) AS ${this.dialect.identifier(item.alias)}`;
    }
  }

  private orderItem(o: OrderItem, depth: number): string {
    return `${this.expr(o.expr, depth)} ${o.direction === 'asc' ? 'ASC' : 'DESC'} NULLS LAST`;
  }

  private wrapOr(e: Expr, depth: number): string {
    const text = this.expr(e, depth);
    return e.kind === 'logical' && e.op === 'OR' ? `(${text})` : text;
  }

  /** An operand inside a larger expression: parenthesised unless it is atomic. */
  private operand(e: Expr, depth: number): string {
    const text = this.expr(e, depth);
    const atomic = ['column', 'literal', 'call', 'star', 'cast', 'truncate', 'rowNumber'].includes(e.kind);
    return atomic ? text : `(${text})`;
  }

  expr(e: Expr, depth: number): string {
    const d = this.dialect;
    switch (e.kind) {
      case 'column':
        return e.table ? `${d.identifier(e.table)}.${d.identifier(e.name)}` : d.identifier(e.name);
      case 'fragment': {
        // A bare column name needs no parentheses; any other expression keeps them.
        const fragment = d.fragmentFor(e.sql, e.owner);
        const sql = this.fragment(fragment, depth, undefined, e.placeholders);
        return fragment.bareColumn !== undefined ? sql : `(${sql})`;
      }
      case 'literal':
        return d.literal(e.value);
      case 'compare':
      case 'arithmetic':
        return `${this.operand(e.left, depth)} ${e.op} ${this.operand(e.right, depth)}`;
      case 'logical':
        return e.operands
          .map((o) => (o.kind === 'logical' ? `(${this.expr(o, depth)})` : this.expr(o, depth)))
          .join(` ${e.op} `);
      case 'not':
        return `NOT ${this.operand(e.operand, depth)}`;
      case 'isNull':
        return `${this.operand(e.operand, depth)} IS ${e.negated ? 'NOT ' : ''}NULL`;
      case 'inList':
        return `${this.operand(e.operand, depth)} ${e.negated ? 'NOT IN' : 'IN'} (${e.list.map((x) => this.expr(x, depth)).join(', ')})`;
      case 'between':
        return `${this.operand(e.operand, depth)} BETWEEN ${this.operand(e.low, depth)} AND ${this.operand(e.high, depth)}`;
      case 'like':
        return `lower(${this.expr(e.operand, depth)}) LIKE lower(${d.stringLiteral(e.pattern)}) ESCAPE '${LIKE_ESCAPE}'`;
      case 'call': {
        const args = e.args.map((a) => this.expr(a, depth)).join(', ');
        const filter = e.filter ? ` FILTER (WHERE ${this.expr(e.filter, depth)})` : '';
        return `${e.name}(${e.distinct ? 'DISTINCT ' : ''}${args})${filter}`;
      }
      case 'star':
        return '*';
      case 'cast':
        return `CAST(${this.expr(e.operand, depth)} AS ${d.castType(e.type)})`;
      case 'truncate':
        return d.truncate(e.unit, this.expr(e.operand, depth), e.type);
      case 'relativeTime':
        return d.relativeTime(e.anchor, e.shift, e.direction, e.timezone);
      case 'rowNumber': {
        const parts = [
          e.partitionBy.length > 0
            ? `PARTITION BY ${e.partitionBy.map((p) => this.expr(p, depth)).join(', ')}`
            : '',
          e.orderBy.length > 0 ? `ORDER BY ${e.orderBy.map((o) => this.orderItem(o, depth)).join(', ')}` : '',
        ].filter(Boolean);
        return `row_number() OVER (${parts.join(' ')})`;
      }
      case 'exists':
        return `EXISTS (\n${this.select(e.query, depth + 1)}\n${INDENT.repeat(depth)})`;
      case 'inSubquery':
        return `${this.operand(e.operand, depth)} ${e.negated ? 'NOT IN' : 'IN'} (\n${this.select(e.query, depth + 1)}\n${INDENT.repeat(depth)})`;
    }
  }

  private fragment(
    fragment: SqlFragment,
    depth: number,
    clauseIndent?: string,
    placeholders?: ReadonlyMap<string, Expr>,
  ): string {
    const d = this.dialect;
    return printFragment(fragment, {
      identifier: (name) => d.identifier(name),
      stringLiteral: (value) => d.stringLiteral(value),
      placeholder: (path) => {
        const replacement = placeholders?.get(path);
        if (!replacement) throw new Error(`internal: no value for {${path}} in ${fragment.text}`);
        return this.operand(replacement, depth);
      },
      ...(clauseIndent !== undefined ? { clauseIndent } : {}),
    });
  }
}
