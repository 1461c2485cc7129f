/**
 * The plan as an operator tree (scan, filter, join, semi/anti join, aggregate, distinct,
 * project, sort, limit), for `strata compile --explain` and the plan snapshots beside the
 * golden SQL. `naiveOperators` is the query as written, before any pass: every source left
 * joined, every filter over the joined rows, one aggregation over them; `planOperators` is
 * what the passes decided (logical-plan.ts): filters pushed into scans, inner joins,
 * filter-only sources as semi/anti joins, fan-outs pre-aggregated at their own grain,
 * aggregation before lookups, and distinct rows where a measure's rows can repeat.
 */
import type { FieldModel } from '../model/types.js';
import type { TypedValue } from '../values/typed-value.js';
import type {
  AggregateRequest,
  Dimension,
  ExistsGroup,
  LogicalPlan,
  MeasureOutput,
  Preaggregate,
  QueryShape,
  RowCondition,
} from './logical-plan.js';
import type { PlannerInput } from './planner.js';
import {
  grainMeasure,
  type Atom,
  type Condition,
  type FilterTarget,
  type MeasureAtGrain,
  type TreeNode,
} from './spec.js';
import { conjunctsOf } from './condition.js';

export type JoinKind = 'left' | 'inner';
export type ExistsMode = 'semi' | 'anti' | 'semi_or_none' | 'combinations';

export type PlanOperator =
  /** `table` is undefined for a source defined by its own `sql:` SELECT. */
  | { op: 'scan'; source: string; table?: string; filters: string[] }
  | { op: 'filter'; conditions: string[]; input: PlanOperator; having?: boolean }
  | { op: 'join'; kind: JoinKind; on: string[]; left: PlanOperator; right: PlanOperator }
  /** Rows of `left` with (semi) or without (anti) related rows in `right` that pass `conditions`. */
  | {
      op: 'exists';
      mode: ExistsMode;
      /** How related rows are asked for: an uncorrelated `IN (SELECT ...)` or a correlated EXISTS. */
      form: 'in_subquery' | 'exists';
      on: string[];
      conditions: string[];
      left: PlanOperator;
      right: PlanOperator;
    }
  | { op: 'aggregate'; groupBy: string[]; aggregates: string[]; input: PlanOperator }
  /** Rows computed once and read again by another part of the plan. */
  | { op: 'shared'; name: string }
  /** Distinct rows of the group and key columns (and the inputs they determine): the same, by hashing. */
  | { op: 'distinct'; columns: string[]; purpose: string; input: PlanOperator }
  | { op: 'project'; columns: string[]; input: PlanOperator }
  | { op: 'sort'; keys: string[]; input: PlanOperator }
  | { op: 'limit'; count?: number; offset?: number; input: PlanOperator };

/** Names of nodes in plan text: the source's name, or its join path where a source occurs twice. */
class NodeNames {
  private readonly repeated = new Set<string>();

  constructor(root: TreeNode) {
    const seen = new Set<string>();
    const visit = (node: TreeNode) => {
      if (seen.has(node.source.name)) this.repeated.add(node.source.name);
      seen.add(node.source.name);
      node.children.forEach(visit);
    };
    visit(root);
  }

  of(node: TreeNode): string {
    return this.repeated.has(node.source.name) ? node.key : node.source.name;
  }

  field(node: TreeNode, field: FieldModel): string {
    return `${this.of(node)}.${field.name}`;
  }
}

const OP_TEXT: Record<string, string> = {
  equals: '=',
  not_equals: '<>',
  in: 'IN',
  not_in: 'NOT IN',
  gt: '>',
  gte: '>=',
  lt: '<',
  lte: '<=',
};

function valueText(value: TypedValue): string {
  return value.type === 'string' || value.type === 'date' || value.type === 'timestamp'
    ? `'${value.value}'`
    : String(value.value);
}

/** `0.2 * lineitem.avg_qty per part` (computed as a query of its own). */
function grainText(grain: MeasureAtGrain, names: NodeNames): string {
  const use = grainMeasure(grain).use.measure;
  const per = grain.per ? ` per ${names.of(grain.per.node)}` : ' over all rows';
  const filters = grain.query.where.length > 0 ? ' (filtered)' : '';
  return `${grain.times !== undefined ? `${grain.times} * ` : ''}${use.source}.${use.name}${per}${filters}`;
}

class PlanText {
  constructor(
    readonly names: NodeNames,
    private readonly shape: QueryShape,
  ) {}

  atom(atom: Atom): string {
    const text = (t: FilterTarget) =>
      t.kind === 'field'
        ? this.names.field(t.node, t.field)
        : t.kind === 'grain'
          ? grainText(t.grain, this.names)
          : `${t.use.measure.source}.${t.use.measure.name}`;
    const target = text(atom.target);
    const values = atom.grain
      ? [grainText(atom.grain, this.names)]
      : atom.other
        ? [text(atom.other)]
        : atom.values.map(valueText);
    const op = OP_TEXT[atom.op];
    if (op === 'IN' || op === 'NOT IN') return `${target} ${op} (${values.join(', ')})`;
    if (op !== undefined) return `${target} ${op} ${values[0]}`;
    switch (atom.op) {
      case 'is_null':
        return `${target} IS NULL`;
      case 'is_not_null':
        return `${target} IS NOT NULL`;
      case 'between':
        return `${target} BETWEEN ${values[0]} AND ${values[1]}`;
      case 'in_last':
      case 'in_next':
        return `${target} ${atom.op} ${atom.span ? `${atom.span.amount} ${atom.span.unit}` : values.join(', ')}`;
      default:
        return `${target} ${atom.op} ${values.join(', ')}`;
    }
  }

  /** A filter: groups parenthesised, a negated atom `NOT (...)`, an EXISTS group described. */
  condition(c: RowCondition): string {
    if (c.kind === 'exists') return describeGroup(c.group, this);
    if (c.kind === 'atom') return c.negated ? `NOT (${this.atom(c.atom)})` : this.atom(c.atom);
    return `(${c.items.map((i) => this.condition(i)).join(c.kind === 'and' ? ' AND ' : ' OR ')})`;
  }

  joinOn(node: TreeNode): string[] {
    return node.edge!.on.map(
      (pair) => `${this.names.of(node)}.${pair.to} = ${this.names.of(node.parent!)}.${pair.from}`,
    );
  }

  dimension(d: Dimension): string {
    if (d.grain) return grainText(d.grain, this.names);
    const field = this.names.field(d.node, d.field);
    return d.granularity ? `${d.granularity}(${field})` : field;
  }

  request(r: AggregateRequest): string {
    const input =
      r.input.kind === 'rows'
        ? '*'
        : r.input.kind === 'value'
          ? `${this.names.of(r.node)}.${r.input.measure.name}`
          : `${r.input.preaggregate.name}.${r.input.column}`;
    const filter = r.filter ? ` FILTER (${r.filter.name})` : '';
    return `${r.aggregate}(${input})${filter} AS ${r.id}`;
  }

  output(o: MeasureOutput): string {
    switch (o.kind) {
      case 'request':
        return o.id;
      case 'coalesce_zero':
        return `coalesce(${o.id}, 0)`;
      case 'ratio':
        return `${o.numerator} / ${o.denominator}`;
      case 'derived':
        return `${o.measure.name}(${o.parts.map((p) => this.output(p)).join(', ')})`;
    }
  }

  /** Output columns: dimensions, and each measure with the expression making it where that is more than one aggregate. */
  columns(outputs: Map<string, MeasureOutput>): string[] {
    return this.shape.columns.map((c) => {
      if (c.kind === 'dimension') return this.dimension(c.dimension);
      const output = outputs.get(c.useKey);
      const made = output ? this.output(output) : c.name;
      return made === c.name ? c.name : `${c.name} = ${made}`;
    });
  }

  sortKeys(): string[] {
    return this.shape.sort.map((s) => {
      const key =
        s.key.kind === 'output'
          ? s.key.name
          : s.key.kind === 'dimension'
            ? this.dimension(s.key.dimension)
            : s.key.useKey;
      return `${key} ${s.direction.toUpperCase()} NULLS LAST`;
    });
  }
}

function scan(node: TreeNode, text: PlanText, filters: Condition[] = []): PlanOperator {
  const relation = node.source.relation;
  return {
    op: 'scan',
    source: text.names.of(node),
    ...(relation.kind === 'table' ? { table: relation.path.join('.') } : {}),
    filters: filters.map((c) => text.condition(c)),
  };
}

function filtered(input: PlanOperator, conditions: string[], having = false): PlanOperator {
  return conditions.length === 0 ? input : { op: 'filter', conditions, input, ...(having ? { having } : {}) };
}

/** Aggregate, HAVING, sort, limit and the output columns: the same shape before and after the passes. */
function finish(
  rows: PlanOperator,
  text: PlanText,
  shape: QueryShape,
  outputs: Map<string, MeasureOutput>,
  aggregate: { groupBy: string[]; aggregates: string[]; having: Condition[] } | undefined,
): PlanOperator {
  let top: PlanOperator = rows;
  if (aggregate) {
    const { having, ...grouping } = aggregate;
    top = filtered(
      { op: 'aggregate', ...grouping, input: rows },
      having.map((c) => text.condition(c)),
      true,
    );
  }
  if (shape.sort.length > 0) top = { op: 'sort', keys: text.sortKeys(), input: top };
  if (shape.limit !== undefined || shape.offset !== undefined)
    top = {
      op: 'limit',
      ...(shape.limit !== undefined ? { count: shape.limit } : {}),
      ...(shape.offset !== undefined ? { offset: shape.offset } : {}),
      input: top,
    };
  return { op: 'project', columns: text.columns(outputs), input: top };
}

/** The query before any pass: every source left joined, every filter above the joins. */
export function naiveOperators(input: PlannerInput): PlanOperator {
  const { shape } = input;
  const text = new PlanText(new NodeNames(input.root), shape);
  let rows = scan(input.root, text);
  const visit = (node: TreeNode) => {
    for (const child of node.children) {
      rows = { op: 'join', kind: 'left', on: text.joinOn(child), left: rows, right: scan(child, text) };
      visit(child);
    }
  };
  visit(input.root);
  rows = filtered(
    rows,
    input.where.map((c) => text.condition(c)),
  );
  const aggregate = input.aggregated
    ? {
        groupBy: input.dimensions.map((d) => text.dimension(d)),
        aggregates: input.requests.map((r) => text.request(r)),
        having: shape.having,
      }
    : undefined;
  return finish(rows, text, shape, input.outputs, aggregate);
}

/** The plan the passes chose. */
export function planOperators(plan: LogicalPlan): PlanOperator {
  const { shape } = plan;
  const text = new PlanText(new NodeNames(plan.root), shape);
  const rows = joinedRows(plan, text);
  if (!plan.aggregated) return finish(rows, text, shape, plan.outputs, undefined);
  if (plan.oneRowPerGroup) {
    // Each group is one row: the aggregates are that row's values, HAVING a filter.
    const values = filtered(
      rows,
      shape.having.map((c) => text.condition(c)),
    );
    return finish(values, text, shape, plan.outputs, undefined);
  }
  const groupBy = plan.dimensions.map((d) => text.dimension(d));
  const parts = aggregateParts(plan);
  const partOperator = (
    [node, requests]: [TreeNode | undefined, AggregateRequest[]],
    i: number,
  ): PlanOperator => {
    const input: PlanOperator = i === 0 ? rows : { op: 'shared', name: 'the joined rows above' };
    const once: PlanOperator = node
      ? {
          op: 'distinct',
          columns: [...groupBy, ...node.source.primaryKey.map((k) => `${text.names.of(node)}.${k}`)],
          purpose: `each ${text.names.of(node)} row once for ${requests.map((r) => r.id).join(', ')}`,
          input,
        }
      : input;
    return { op: 'aggregate', groupBy, aggregates: requests.map((r) => text.request(r)), input: once };
  };
  if (parts.length <= 1) {
    const [node, requests] = parts[0] ?? [undefined, plan.requests];
    const input = node ? (partOperator([node, requests], 0) as { input: PlanOperator }).input : rows;
    return finish(input, text, shape, plan.outputs, {
      groupBy,
      aggregates: plan.requests.map((r) => text.request(r)),
      having: plan.shape.having,
    });
  }
  const [first, ...rest] = parts.map(partOperator) as [PlanOperator, ...PlanOperator[]];
  const joined = rest.reduce<PlanOperator>(
    (left, right) => ({
      op: 'join',
      kind: 'inner',
      on: groupBy.map((g) => `${g} IS NOT DISTINCT FROM ${g}`),
      left,
      right,
    }),
    first,
  );
  return finish(
    filtered(
      joined,
      plan.shape.having.map((c) => text.condition(c)),
    ),
    text,
    shape,
    plan.outputs,
    undefined,
  );
}

/** The requests of each source read once per key (and, under undefined, those reading every row), when some are. */
function aggregateParts(plan: LogicalPlan): [TreeNode | undefined, AggregateRequest[]][] {
  if (![...plan.strategies.values()].includes('once_per_key')) return [];
  const parts = new Map<TreeNode | undefined, AggregateRequest[]>();
  for (const r of plan.requests) {
    const node = plan.keyNodes.get(r.id);
    parts.set(node, [...(parts.get(node) ?? []), r]);
  }
  return [...parts];
}

function joinedRows(plan: LogicalPlan, text: PlanText): PlanOperator {
  let rows = scan(plan.root, text, plan.pushed.get(plan.root));
  if (plan.eagerRoot) {
    const root = text.names.of(plan.root);
    rows = {
      op: 'aggregate',
      groupBy: plan.eagerRoot.columns.map((c) => `${root}.${c}`),
      aggregates: plan.requests.map((r) => `partial ${text.request(r)}`),
      input: rows,
    };
  }
  for (const node of plan.joinOrder) {
    const kind: JoinKind = plan.innerJoins.has(node) ? 'inner' : 'left';
    rows = {
      op: 'join',
      kind,
      on: text.joinOn(node),
      left: rows,
      right: scan(node, text, plan.pushed.get(node)),
    };
  }
  for (const pre of plan.preaggregates) rows = joinPreaggregate(rows, pre, text);
  // A filter that is one EXISTS group is a semi/anti join; the others filter the joined rows.
  for (const c of plan.residual) if (c.kind === 'exists') rows = existsOperator(rows, c.group, text);
  rows = filtered(
    rows,
    plan.residual.filter((c) => c.kind !== 'exists').map((c) => text.condition(c)),
  );
  return rows;
}

function joinPreaggregate(rows: PlanOperator, pre: Preaggregate, text: PlanText): PlanOperator {
  const inner = joinedRows(pre.plan, new PlanText(new NodeNames(pre.plan.root), emptyShape));
  const aggregate = filtered(
    {
      op: 'aggregate',
      groupBy: pre.keyColumns.map((k) => `${pre.name}.${k}`),
      aggregates: pre.plan.requests.map((r) => text.request(r)),
      input: inner,
    },
    (pre.having ?? []).map((c) => text.condition(c)),
    true,
  );
  const on = pre.top.edge!.on.map(
    (pair, i) => `${pre.name}.${pre.keyColumns[i]} = ${text.names.of(pre.parent)}.${pair.from}`,
  );
  return { op: 'join', kind: pre.inner ? 'inner' : 'left', on, left: rows, right: aggregate };
}

function existsOperator(rows: PlanOperator, group: ExistsGroup, text: PlanText): PlanOperator {
  const top = group.tops[0]!;
  let related = scan(top, text);
  for (const node of group.nodes.filter((n) => n !== top))
    related = { op: 'join', kind: 'inner', on: text.joinOn(node), left: related, right: scan(node, text) };
  const mode: ExistsMode =
    group.whenNoRow === 'general'
      ? 'combinations'
      : group.relatedNeverMatches
        ? 'anti'
        : group.whenNoRow === 'false'
          ? 'semi'
          : 'semi_or_none';
  const conditions = group.relatedNeverMatches
    ? []
    : conjunctsOf(group.condition).map((c) => text.condition(c));
  return {
    op: 'exists',
    mode,
    form: group.relatedNeverMatches ? 'exists' : group.form,
    on: text.joinOn(top),
    conditions,
    left: rows,
    right: related,
  };
}

function describeGroup(group: ExistsGroup, text: PlanText): string {
  const names = group.nodes.map((n) => text.names.of(n)).join(', ');
  return `EXISTS ${names} WHERE ${conjunctsOf(group.condition)
    .map((c) => text.condition(c))
    .join(' AND ')}`;
}

const emptyShape: QueryShape = { columns: [], having: [], sort: [], useKeyOf: () => '' };

const EXISTS_NAMES: Record<ExistsMode, string> = {
  semi: 'Semi Join',
  anti: 'Anti Join',
  semi_or_none: 'Semi Join or no related row',
  combinations: 'Exists over related combinations',
};

/** One line per operator, children indented below their parent, as EXPLAIN prints. */
export function explainOperators(root: PlanOperator): string {
  const lines: string[] = [];
  const visit = (op: PlanOperator, depth: number) => {
    const pad = '  '.repeat(depth);
    const arrow = depth === 0 ? '' : '-> ';
    lines.push(`${pad}${arrow}${describe(op)}`);
    for (const child of children(op)) visit(child, depth + 1);
  };
  visit(root, 0);
  return lines.join('\n');
}

function describe(op: PlanOperator): string {
  const list = (items: string[]) => items.join(', ');
  switch (op.op) {
    case 'scan':
      return `Scan ${op.source} ${op.table ?? '(its sql: SELECT)'}${op.filters.length ? ` filter: ${op.filters.join(' AND ')}` : ''}`;
    case 'filter':
      return `${op.having ? 'Having' : 'Filter'} ${op.conditions.join(' AND ')}`;
    case 'join':
      return `${op.kind === 'inner' ? 'Inner' : 'Left'} Join on ${op.on.join(' AND ')}`;
    case 'exists':
      return `${EXISTS_NAMES[op.mode]} (${op.form === 'in_subquery' ? 'IN subquery' : op.mode === 'anti' ? 'NOT EXISTS' : 'EXISTS'}) on ${op.on.join(' AND ')}${op.conditions.length ? ` where ${op.conditions.join(' AND ')}` : ''}`;
    case 'aggregate':
      return `Aggregate${op.groupBy.length ? ` by ${list(op.groupBy)}` : ''}: ${list(op.aggregates)}`;
    case 'shared':
      return `Reuse ${op.name}`;
    case 'distinct':
      return `Distinct ${list(op.columns)} (${op.purpose})`;
    case 'project':
      return `Project ${list(op.columns)}`;
    case 'sort':
      return `Sort ${list(op.keys)}`;
    case 'limit':
      return `Limit${op.count !== undefined ? ` ${op.count}` : ''}${op.offset !== undefined ? ` offset ${op.offset}` : ''}`;
  }
}

function children(op: PlanOperator): PlanOperator[] {
  switch (op.op) {
    case 'scan':
    case 'shared':
      return [];
    case 'join':
    case 'exists':
      return [op.left, op.right];
    default:
      return [op.input];
  }
}
