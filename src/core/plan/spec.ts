/**
 * A resolved query: every reference bound to a node of the join tree, every value typed.
 * Built from an input definition (resolve.ts) or, for pre-aggregated subtrees, by the
 * planner itself; the planner only ever sees this shape.
 */
import type { SourceLocation } from '../diagnostics.js';
import type { FilterOp, FieldType, Granularity, GroupAggregate } from '../definitions/schema.js';
import type { FieldModel, JoinEdge, MeasureModel, SourceModel } from '../model/types.js';
import type { RelativeSpan, TypedValue } from '../values/typed-value.js';
import { atomsOf } from './condition.js';

/** One occurrence of a source in the query, reached from the root by one join path. */
export interface TreeNode {
  id: number;
  /** The path from the root, e.g. `movie>production`; equal paths share a node. */
  key: string;
  source: SourceModel;
  parent?: TreeNode;
  /** The join from the parent to this node (`edge.from` is the parent's source). */
  edge?: JoinEdge;
  children: TreeNode[];
}

/**
 * A measure bound to the node whose rows it aggregates; a derived one lists the uses of
 * the measures it refers to (`parts[i]` for its definition's `refs[i]`).
 */
export interface MeasureUse {
  node: TreeNode;
  measure: MeasureModel;
  parts?: MeasureUse[];
  /** The fields of related sources its `sql` / `filter` reads, by placeholder: nodes to-one below `node`. */
  lookups?: Lookups;
}

/** A measure's `{source.field}` references bound to nodes of the join tree. */
export type Lookups = ReadonlyMap<string, { node: TreeNode; field: FieldModel }>;

export interface ColumnBase {
  name: string;
  label: string;
  type: FieldType;
  format?: string;
  description?: string;
}

export interface DimensionColumn extends ColumnBase {
  kind: 'dimension';
  node: TreeNode;
  field: FieldModel;
  granularity?: Granularity;
  grain?: undefined;
}

/**
 * A measure at another grain selected as a dimension (`{ field: orders.order_count, per:
 * customer }`): its value per row of the `per` source, `node` (0 for a count without rows).
 */
export interface GrainDimensionColumn extends ColumnBase {
  kind: 'dimension';
  node: TreeNode;
  grain: MeasureAtGrain;
  measure: MeasureModel;
  field?: undefined;
  granularity?: undefined;
}

export interface MeasureColumn extends ColumnBase {
  kind: 'measure';
  use: MeasureUse;
}

export type ColumnSpec = DimensionColumn | GrainDimensionColumn | MeasureColumn;

export type FilterTarget =
  | { kind: 'field'; node: TreeNode; field: FieldModel }
  | { kind: 'measure'; use: MeasureUse }
  /** A measure per row of a source (`{ field: m, per: P }` in a filter): a value of the joined row. */
  | { kind: 'grain'; grain: MeasureAtGrain };

export interface Atom {
  target: FilterTarget;
  op: FilterOp;
  /**
   * A comparison of two fields (or two measures), `valueFrom:`: the target compared with this
   * one on the same joined row (`values` is then empty). UNKNOWN when either side is NULL.
   */
  other?: FilterTarget;
  /** A comparison with a measure at another grain (`valueFrom: { measure, per }`); `values` is then empty. */
  grain?: MeasureAtGrain;
  values: TypedValue[];
  span?: RelativeSpan;
  loc: SourceLocation;
}

/**
 * A measure computed apart from the query (issue 13 part 4): `query` is its own query, from
 * the measure's source, with its one measure column (last) and its filters. With `per`, it is
 * computed per row of that source (`edge` joins the measure's source to it many-to-one) and
 * compared on each row with the value for the row of `per.node` there; NULL without one. Its
 * `query` then also groups by the measure's source's columns of that join (`key_1`...), so
 * that where the `per` row is joined it is joined once, and elsewhere (inside an EXISTS) asked
 * for the one key.
 */
export interface MeasureAtGrain {
  query: QuerySpec;
  per?: { node: TreeNode; edge: JoinEdge };
  /**
   * `groupBy`/`aggregate`: `query` groups by the key of the groupBy source's rows (its
   * dimensions), and `aggregate` makes one value of its rows.
   */
  groups?: { aggregate: GroupAggregate };
  times?: number;
}

/** The measure a measure at another grain computes: its query's last column (after any group or key columns). */
export function grainMeasure(grain: MeasureAtGrain): MeasureColumn {
  const column = grain.query.columns[grain.query.columns.length - 1]!;
  if (column.kind !== 'measure') throw new Error('internal: a measure at another grain without its measure');
  return column;
}

/** An atom, possibly negated: `NOT (pred)`, which is UNKNOWN where `pred` is. */
export interface Literal {
  kind: 'atom';
  atom: Atom;
  negated?: true;
}

/**
 * A filter condition in negation normal form: NOT only on atoms (resolve.ts pushes it down
 * with De Morgan, exact under three-valued logic). A query's filters are a conjunction of
 * these (condition.ts evaluates them).
 */
export type Condition = Literal | { kind: 'and' | 'or'; items: Condition[] };

export interface SortSpec {
  column: ColumnSpec;
  direction: 'asc' | 'desc';
}

export interface QuerySpec {
  root: TreeNode;
  columns: ColumnSpec[];
  /** Sort keys that are not output columns. */
  hidden: ColumnSpec[];
  where: Condition[];
  having: Condition[];
  sort: SortSpec[];
  limit?: number;
  offset?: number;
  timezone: string;
}

export function isAggregateMeasure(m: MeasureModel): boolean {
  return m.definition.kind === 'aggregate';
}

/** The measures at another grain a query selects or compares with (not those of their own queries). */
export function grainsOf(spec: QuerySpec): MeasureAtGrain[] {
  return [
    ...[...spec.columns, ...spec.hidden].flatMap((c) => (c.kind === 'dimension' && c.grain ? [c.grain] : [])),
    ...[...spec.where, ...spec.having].flatMap(atomsOf).flatMap(atomGrains),
  ];
}

/** The measures at another grain an atom reads: as its target, or on the other side. */
export function atomGrains(atom: Atom): MeasureAtGrain[] {
  return [...(atom.target.kind === 'grain' ? [atom.target.grain] : []), ...(atom.grain ? [atom.grain] : [])];
}

/** The query and the queries of the measures at another grain in it, nested. */
export function queriesOf(spec: QuerySpec): QuerySpec[] {
  return [spec, ...grainsOf(spec).flatMap((g) => queriesOf(g.query))];
}

/** The aggregate measures a measure use finally reads (a derived one, through its parts). */
export function leafUses(use: MeasureUse): MeasureUse[] {
  if (!use.parts) return [use];
  return use.parts.flatMap(leafUses);
}
