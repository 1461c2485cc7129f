/**
 * The SQL printer: lays out the syntax tree for review (one clause per line, one CTE per
 * plan step) and asks the dialect for every construct whose spelling differs. Output is
 * deterministic.
 */
import type { Cte, Expr, FromItem, OrderItem, Select } from './ast.js';
import type { SqlDialect } from './dialect.js';
import { printFragment, type SqlFragment } from './fragments/fragment.js';

const INDENT = '  ';

export class Printer {
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
      lines.push(
        `${pad}ORDER BY ${this.orderItems(s)
          .map((o) => this.orderItem(o, depth))
          .join(', ')}`,
      );
    for (const clause of this.dialect.limitOffset(s.limit, s.offset)) lines.push(`${pad}${clause}`);
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
    const select = s.distinct ? 'SELECT DISTINCT' : 'SELECT';
    if (items.length === 1 && !items[0]!.includes('\n')) return `${pad}${select} ${items[0]}`;
    return `${pad}${select}\n${items.map((i) => `${pad}${INDENT}${i}`).join(',\n')}`;
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

  /**
   * Without NULLS LAST a dialect spells NULL placement as an expression over the sort key,
   * and an output name inside an expression may not resolve to the output column (MySQL
   * reads it as a table column): such keys are replaced by the expressions they name.
   */
  private orderItems(s: Select): OrderItem[] {
    const orderBy = s.orderBy ?? [];
    if (this.dialect.capabilities.nullsOrdering) return orderBy;
    const outputs = new Map(s.columns.filter((c) => c.alias !== undefined).map((c) => [c.alias!, c.expr]));
    return orderBy.map((o) =>
      o.expr.kind === 'column' && o.expr.table === undefined && outputs.has(o.expr.name)
        ? { ...o, expr: outputs.get(o.expr.name)! }
        : o,
    );
  }

  private orderItem(o: OrderItem, depth: number): string {
    return this.dialect.orderItem(this.expr(o.expr, depth), o.direction);
  }

  private wrapOr(e: Expr, depth: number): string {
    const text = this.expr(e, depth);
    return e.kind === 'logical' && e.op === 'OR' ? `(${text})` : text;
  }

  /** An operand inside a larger expression: parenthesised unless it is atomic. */
  private operand(e: Expr, depth: number): string {
    const text = this.expr(e, depth);
    const atomic = [
      'column',
      'literal',
      'call',
      'star',
      'cast',
      'truncate',
      'rowNumber',
      'exists',
      'scalarSubquery',
      'case',
    ].includes(e.kind);
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
        const sql = this.fragment(fragment, depth, undefined, e.placeholders, e.columns);
        return fragment.bareColumn !== undefined ? sql : `(${sql})`;
      }
      case 'literal':
        return d.literal(e.value);
      case 'notDistinct':
        return d.nullSafeEquals(this.operand(e.left, depth), this.operand(e.right, depth));
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
        return d.like(this.expr(e.operand, depth), e.pattern, e.caseSensitive);
      case 'call':
        return d.functionCall(
          e.name,
          e.args.map((a) => this.expr(a, depth)),
          e.distinct ?? false,
          e.filter ? this.expr(e.filter, depth) : undefined,
        );
      case 'star':
        return '*';
      case 'cast':
        return d.cast(this.expr(e.operand, depth), e.type);
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
      case 'case':
        return `CASE WHEN ${this.expr(e.when, depth)} THEN ${this.expr(e.then, depth)}${e.else ? ` ELSE ${this.expr(e.else, depth)}` : ''} END`;
      case 'exists':
        return `EXISTS (\n${this.select(e.query, depth + 1)}\n${INDENT.repeat(depth)})`;
      case 'scalarSubquery':
        return `(\n${this.select(e.query, depth + 1)}\n${INDENT.repeat(depth)})`;
      case 'inSubquery':
        return `${this.operand(e.operand, depth)} ${e.negated ? 'NOT IN' : 'IN'} (\n${this.select(e.query, depth + 1)}\n${INDENT.repeat(depth)})`;
    }
  }

  private fragment(
    fragment: SqlFragment,
    depth: number,
    clauseIndent?: string,
    placeholders?: ReadonlyMap<string, Expr>,
    columns?: ReadonlyMap<string, Expr>,
  ): string {
    const d = this.dialect;
    return printFragment(fragment, {
      ...(columns
        ? {
            column: (name) => {
              const replacement = columns.get(name);
              if (!replacement) throw new Error(`internal: no column ${name} for ${fragment.text}`);
              return this.expr(replacement, depth);
            },
          }
        : {}),
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
