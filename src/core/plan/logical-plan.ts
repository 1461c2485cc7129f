/**
 * The logical plan: the decisions the optimizer passes take about a query, before any SQL.
 * The passes run in this order (planner.ts), one file each in ./passes/:
 *
 *   pruneJoins             only the sources the query names, and the paths to them
 *   classifyNodes          which sources define the grain, which are one-valued lookups, and
 *                          which are filter-only fan-outs (checked with EXISTS, never joined)
 *   selectExists           which filters belong to which EXISTS (semi join), what such a
 *                          filter means without any related row (left-join semantics), and
 *                          where only "no related row" is left (anti join)
 *   inferInnerJoins        left joins become inner where a filter already rejects the NULL row
 *   preaggregateFanOuts    measure-only fan-out subtrees are aggregated at their own grain,
 *                          by the join key, before joining (they then join one-to-one)
 *   chooseStrategies       each remaining aggregate reads joined rows directly when no join
 *                          can repeat its source's rows, else once per primary key per group:
 *                          over DISTINCT rows of the group, key and inputs (a hash distinct),
 *                          each such source aggregated on its own and the parts joined
 *   pushDownHaving         a HAVING on measures of one pre-aggregate, when each group is one
 *                          root row, filters inside that aggregate and makes its join inner
 *   pushDownFilters        single-source filters move into that source's scan
 *   orderJoins             filtered inner joins first, then other inner joins, then left joins
 *   aggregateBeforeLookups measures of the root only, grouped by left-joined lookups: the root
 *                          is aggregated per join key first, then joined (eager aggregation)
 *   oneRowPerGroup         grouped by the root's key with no root row repeated: each group is
 *                          one row, so the aggregation is left out (HAVING becomes WHERE)
 */
import type { Aggregate } from '../definitions/schema.js';
import type { FieldModel, MeasureModel } from '../model/types.js';
import {
  atomGrains,
  type Atom,
  type Condition,
  type FilterTarget,
  type Literal,
  type Lookups,
  type MeasureAtGrain,
  type TreeNode,
} from './spec.js';

export type NodeRole = 'grain' | 'lookup' | 'exists';

/**
 * A selected non-measure column: a field of a node, possibly truncated; or a measure at
 * another grain, per the row of `node` (a correlated scalar subquery).
 */
export type Dimension =
  | {
      name: string;
      node: TreeNode;
      field: FieldModel;
      granularity?: import('../definitions/schema.js').Granularity;
      grain?: undefined;
    }
  | { name: string; node: TreeNode; grain: MeasureAtGrain; field?: undefined; granularity?: undefined };

/** What one aggregate call reads. */
export type AggregateInput =
  | { kind: 'rows' }
  | { kind: 'value'; measure: MeasureModel }
  | { kind: 'partial'; preaggregate: Preaggregate; column: string };

export interface AggregateRequest {
  id: string;
  /** The node whose rows carry the input (for partials: the node the pre-aggregate hangs off). */
  node: TreeNode;
  aggregate: Aggregate;
  input: AggregateInput;
  /** The measure whose `filter:` restricts the rows aggregated. */
  filter?: MeasureModel;
  /** Fields of to-one related nodes the measure's `sql` / `filter` reads (joined, never repeating a row). */
  lookups?: Lookups;
}

/** How a final measure value is made from aggregate calls. */
export type MeasureOutput =
  | { kind: 'request'; id: string }
  | { kind: 'coalesce_zero'; id: string }
  | { kind: 'ratio'; numerator: string; denominator: string }
  /** A derived measure: its expression, with `parts[i]` for its i-th measure reference. */
  | { kind: 'derived'; measure: MeasureModel; parts: MeasureOutput[] };

/**
 * "Some combination of related rows of filter-only subtrees makes `condition` TRUE", where a
 * subtree with no related row gives one NULL row (left-join meaning). selectExists cuts a
 * query's filters into these as small as the existential allows: it distributes over OR and
 * over an AND of parts on different subtrees, and a part on joined rows only stays outside.
 */
export interface ExistsGroup {
  /** Tops of the filter-only subtrees, each with the joined node it hangs off. */
  tops: TreeNode[];
  nodes: TreeNode[];
  /** On related rows, and possibly on joined ones (then the EXISTS is correlated). */
  condition: Condition;
  /**
   * What the condition says about a row with no related row at all (evaluated on the NULL
   * row): FALSE (a plain EXISTS), TRUE, or a condition on joined nodes. Only computed for
   * single-subtree groups (`general` otherwise: every combination is asked for).
   */
  whenNoRow: 'false' | 'true' | Condition | 'general';
  /**
   * No existing related row can make the condition TRUE (it needs `is_null` on a primary-key
   * field, which an existing row never has NULL): only "nothing related" is left to ask, an
   * anti-join instead of a semi-join ORed with one.
   */
  relatedNeverMatches?: boolean;
  /**
   * How related rows are asked for: `key IN (SELECT ...)` (a single-column key, filters only
   * on the related rows: an uncorrelated semi-join), or a correlated `EXISTS` (over every
   * combination of related rows, for `general`).
   */
  form: 'in_subquery' | 'exists';
}

/** A filter on the joined rows of the query, where an EXISTS group may stand for a part. */
export type RowCondition =
  Literal | { kind: 'and' | 'or'; items: RowCondition[] } | { kind: 'exists'; group: ExistsGroup };

/** The EXISTS groups of a row condition. */
export function groupsOf(condition: RowCondition): ExistsGroup[] {
  if (condition.kind === 'exists') return [condition.group];
  return condition.kind === 'atom' ? [] : condition.items.flatMap(groupsOf);
}

/** The atoms of a row condition, those inside its EXISTS groups included. */
export function rowAtomsOf(condition: RowCondition): Atom[] {
  if (condition.kind === 'exists') {
    const noRow = condition.group.whenNoRow;
    return [
      ...rowAtomsOf(condition.group.condition),
      ...(typeof noRow === 'object' ? rowAtomsOf(noRow) : []),
    ];
  }
  return condition.kind === 'atom' ? [condition.atom] : condition.items.flatMap(rowAtomsOf);
}

/** The nodes a row condition reads (for an EXISTS: the nodes it hangs off, and its atoms'). */
export function rowNodesOf(condition: RowCondition): TreeNode[] {
  const hung = groupsOf(condition).flatMap((g) => g.tops.map((t) => t.parent!));
  return [...new Set([...rowAtomsOf(condition).flatMap(atomNodes), ...hung])];
}

export interface Preaggregate {
  name: string;
  /** The top of the collapsed subtree and the node it hangs off. */
  top: TreeNode;
  parent: TreeNode;
  inner: boolean;
  plan: LogicalPlan;
  /** Output columns holding the join key, in `top.edge.on` order. */
  keyColumns: string[];
  /** HAVING conditions moved into this aggregate (pushDownHaving), its measure atoms' output columns. */
  having?: Condition[];
  havingKeys: Map<FilterTarget, string>;
}

export type Strategy = 'direct' | 'once_per_key';

/**
 * How `once_per_key` aggregates see each source row once per group: `distinct_rows` when
 * they all read one source (the joined rows reduced to distinct group, key and input
 * values, then aggregated), else `aggregate_per_source` (each source's aggregates over its
 * own distinct rows, the others over all rows, per group, joined on the group columns).
 */
export type Deduplication = 'distinct_rows' | 'aggregate_per_source';

export type SortKey =
  | { kind: 'output'; name: string }
  | { kind: 'dimension'; dimension: Dimension }
  | { kind: 'measure'; useKey: string };

/** What the query returns: its columns, HAVING, order and row window. */
export interface QueryShape {
  /** Output columns in order: a dimension's name, or a measure use key. */
  columns: (
    { kind: 'dimension'; dimension: Dimension } | { kind: 'measure'; name: string; useKey: string }
  )[];
  having: Condition[];
  sort: { key: SortKey; direction: 'asc' | 'desc' }[];
  limit?: number;
  offset?: number;
  /** The key of a measure target's use (an atom's, or the other side of a comparison), to find its output. */
  useKeyOf(target: FilterTarget): string;
}

export interface LogicalPlan {
  root: TreeNode;
  /** The query's columns, order and row window, and the HAVING left after pushDownHaving. */
  shape: QueryShape;
  dimensions: Dimension[];
  /** Hidden sort keys of a non-aggregated query. */
  sortOnly: Dimension[];
  requests: AggregateRequest[];
  outputs: Map<string, MeasureOutput>;
  aggregated: boolean;
  roles: Map<TreeNode, NodeRole>;
  /** Joined nodes (grain and lookup, not collapsed) in join order, root excluded. */
  joinOrder: TreeNode[];
  innerJoins: Set<TreeNode>;
  pushed: Map<TreeNode, Condition[]>;
  /** The filters left for the joined rows (EXISTS groups inside), ANDed. */
  residual: RowCondition[];
  preaggregates: Preaggregate[];
  strategies: Map<string, Strategy>;
  /** For `once_per_key` requests: the node whose primary key identifies a row. */
  keyNodes: Map<string, TreeNode>;
  /** Set when some request is `once_per_key`. */
  deduplication?: Deduplication;
  /**
   * aggregateBeforeLookups: the root's rows are aggregated in its scan, per the root columns
   * the rest of the query reads (`columns`: dimensions, join keys, filters), into partial
   * aggregates that the query combines after joining its lookups (fewer rows to join).
   */
  eagerRoot?: { columns: string[] };
  /** oneRowPerGroup: each group is one joined row, so nothing is aggregated. */
  oneRowPerGroup?: boolean;
}

/** The nodes a request reads: its own, and those of the fields its measure looks up. */
export function requestNodes(r: AggregateRequest): TreeNode[] {
  return [r.node, ...[...(r.lookups?.values() ?? [])].map((l) => l.node)];
}

export function atomNode(atom: Atom): TreeNode | undefined {
  return atom.target.kind === 'field' ? atom.target.node : undefined;
}

/**
 * The nodes a field atom reads: its field's, for a comparison of two fields the other's too,
 * and for a measure at another grain the node it is computed per.
 */
export function atomNodes(atom: Atom): TreeNode[] {
  const nodes = [atom.target, ...(atom.other ? [atom.other] : [])].flatMap((t) =>
    t.kind === 'field' ? [t.node] : [],
  );
  const perNodes = atomGrains(atom).flatMap((g) => (g.per ? [g.per.node] : []));
  return [...new Set([...nodes, ...perNodes])];
}

/** The targets an atom reads: its own, and the other side of a comparison. */
export function atomTargets(atom: Atom): FilterTarget[] {
  return [atom.target, ...(atom.other ? [atom.other] : [])];
}
