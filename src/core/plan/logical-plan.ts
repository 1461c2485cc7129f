/**
 * The logical plan: the decisions the optimizer passes take about a query, before any SQL.
 *
 *   classifyNodes        which sources define the grain, which are one-valued lookups, and
 *                        which are filter-only fan-outs (checked with EXISTS, never joined)
 *   groupExistsFilters   which filters belong to which EXISTS, and what such a filter means
 *                        when there is no related row at all (left-join semantics)
 *   inferInnerJoins      left joins become inner where a filter already rejects the NULL row
 *   pushDownFilters      single-source filters move into that source's scan
 *   collapseFanOuts      measure-only fan-out subtrees are aggregated at their own grain,
 *                        by the join key, before joining (they then join one-to-one)
 *   pushDownHaving       a HAVING on measures of one pre-aggregate, when each group is one
 *                        root row, filters inside that aggregate and makes its join inner
 *   aggregateBeforeLookups  measures of the root only, grouped by lookups' fields: the root
 *                        is aggregated per join key first, then joined (eager aggregation)
 *   chooseStrategies     each remaining aggregate reads joined rows directly when no join
 *                        can repeat its source's rows, else once per primary key per group:
 *                        over DISTINCT rows of the group, key and inputs (a hash distinct),
 *                        each such source aggregated on its own and the parts joined
 */
import type { Aggregate } from '../definitions/schema.js';
import type { FieldModel, MeasureModel } from '../model/types.js';
import type { Atom, Conjunct, TreeNode } from './spec.js';

export type NodeRole = 'grain' | 'lookup' | 'exists';

/** A selected non-measure column: a field of a node, possibly truncated. */
export interface Dimension {
  name: string;
  node: TreeNode;
  field: FieldModel;
  granularity?: import('../definitions/schema.js').Granularity;
}

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
}

/** How a final measure value is made from aggregate calls. */
export type MeasureOutput =
  | { kind: 'request'; id: string }
  | { kind: 'coalesce_zero'; id: string }
  | { kind: 'ratio'; numerator: string; denominator: string }
  /** A derived measure: its expression, with `parts[i]` for its i-th measure reference. */
  | { kind: 'derived'; measure: MeasureModel; parts: MeasureOutput[] };

export interface ExistsGroup {
  /** Tops of the filter-only subtrees, each with the joined node it hangs off. */
  tops: TreeNode[];
  nodes: TreeNode[];
  conjuncts: Conjunct[];
  /**
   * Atoms on joined nodes ORed with the whole EXISTS: `region = 'AP' OR <some order is
   * cancelled>`, split out of a group's only filter so the subquery stays uncorrelated.
   */
  orElse?: Conjunct;
  /**
   * One filter ORing atoms of several filter-only subtrees: `EXISTS(a) OR EXISTS(b)`, one
   * single-subtree group each (the left join always yields a row, so the OR distributes).
   */
  alternatives?: ExistsGroup[];
  /**
   * What the filters say about a row with no related row at all: FALSE (a plain EXISTS),
   * TRUE, or conditions on joined nodes. Only computed for single-subtree groups.
   */
  whenNoRow: 'false' | 'true' | Conjunct[] | 'general';
  /**
   * No related row can pass the filters (one of them is only `is_null` on primary-key
   * fields, which an existing row never has NULL): only "nothing related" is left to ask,
   * an anti-join instead of a semi-join ORed with one.
   */
  relatedNeverMatches?: boolean;
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
  having?: Conjunct[];
  havingKeys: Map<Atom, string>;
}

export type Strategy = 'direct' | 'once_per_key';

/**
 * How `once_per_key` aggregates see each source row once per group: `distinct_rows` when
 * they all read one source (the joined rows reduced to distinct group, key and input
 * values, then aggregated), else `aggregate_per_source` (each source's aggregates over its
 * own distinct rows, the others over all rows, per group, joined on the group columns).
 */
export type Deduplication = 'distinct_rows' | 'aggregate_per_source';

export interface LogicalPlan {
  root: TreeNode;
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
  pushed: Map<TreeNode, Conjunct[]>;
  residual: Conjunct[];
  existsGroups: ExistsGroup[];
  preaggregates: Preaggregate[];
  strategies: Map<string, Strategy>;
  /** For `once_per_key` requests: the node whose primary key identifies a row. */
  keyNodes: Map<string, TreeNode>;
  /** Set when some request is `once_per_key`. */
  deduplication?: Deduplication;
  /** The query's HAVING conditions left after pushDownHaving. */
  having: Conjunct[];
  /**
   * aggregateBeforeLookups: the root's rows are aggregated in its scan, per the root columns
   * the rest of the query reads (`columns`: dimensions, join keys, filters), into partial
   * aggregates that the query combines after joining its lookups (fewer rows to join).
   */
  eagerRoot?: { columns: string[] };
}

export function atomNode(atom: Atom): TreeNode | undefined {
  return atom.target.kind === 'field' ? atom.target.node : undefined;
}
