/**
 * What the optimizer passes read and decide. The planner runs the passes in order
 * (planner.ts); each is a function of this state to a new one, in its own file, deciding one
 * thing (logical-plan.ts lists them). Decisions are added, never changed by a later pass.
 */
import type { Aggregate } from '../../definitions/schema.js';
import type {
  AggregateRequest,
  Deduplication,
  Dimension,
  MeasureOutput,
  NodeRole,
  Preaggregate,
  QueryShape,
  RowCondition,
  Strategy,
} from '../logical-plan.js';
import type { Condition, TreeNode } from '../spec.js';
import { isAncestorOrSelf } from '../grain.js';

export interface PlannerInput {
  root: TreeNode;
  dimensions: Dimension[];
  sortOnly: Dimension[];
  requests: AggregateRequest[];
  outputs: Map<string, MeasureOutput>;
  where: Condition[];
  /** The columns, HAVING (conditions on measures), order and row window of the result. */
  shape: QueryShape;
  aggregated: boolean;
  /**
   * A pre-aggregate's own plan: it groups by the join key already, so a fan-out inside it is
   * collapsed only where another aggregate's rows would repeat (a second aggregation of the
   * rows otherwise costs more than it saves).
   */
  nested?: boolean;
  /** Allocates unique names for pre-aggregate CTEs. */
  nameFor(base: string): string;
}

export interface PlanState {
  readonly input: PlannerInput;
  /** Subtrees a previous attempt could not pre-aggregate (see chooseStrategies). */
  readonly blocked: ReadonlySet<TreeNode>;
  /** Plans a pre-aggregate's subtree (the planner itself, for preaggregateFanOuts). */
  readonly planNested: (input: PlannerInput) => import('../logical-plan.js').LogicalPlan;
  /** pruneJoins: the nodes the query uses, in pre-order. */
  readonly nodes: readonly TreeNode[];
  /** classifyNodes */
  readonly roles: ReadonlyMap<TreeNode, NodeRole>;
  /** selectExists: the filters on joined rows, ANDed, with EXISTS groups for filter-only subtrees. */
  readonly conditions: readonly RowCondition[];
  /** inferInnerJoins */
  readonly inner: ReadonlySet<TreeNode>;
  /** preaggregateFanOuts: the aggregated subtrees, and the requests and outputs rewritten for them. */
  readonly preaggregates: readonly Preaggregate[];
  readonly requests: readonly AggregateRequest[];
  readonly outputs: ReadonlyMap<string, MeasureOutput>;
  readonly collapsed: ReadonlySet<TreeNode>;
  /** chooseStrategies; `retryWithout` asks the planner to start again without pre-aggregating that subtree. */
  readonly strategies: ReadonlyMap<string, Strategy>;
  readonly keyNodes: ReadonlyMap<string, TreeNode>;
  readonly deduplication?: Deduplication;
  readonly retryWithout?: TreeNode;
  /** pushDownHaving: the HAVING conditions left for the query itself. */
  readonly having: readonly Condition[];
  /** pushDownFilters */
  readonly pushed: ReadonlyMap<TreeNode, Condition[]>;
  readonly residual: readonly RowCondition[];
  /** orderJoins */
  readonly joinOrder: readonly TreeNode[];
  /** aggregateBeforeLookups */
  readonly eagerRoot?: { columns: string[] };
  /** oneRowPerGroup */
  readonly oneRowPerGroup?: boolean;
}

export type Pass = (state: PlanState) => PlanState;

/** Aggregates that repeated rows cannot change. */
export const DUPLICATE_INSENSITIVE: ReadonlySet<Aggregate> = new Set(['count_distinct', 'min', 'max']);
/** Aggregates that can be computed per subtree and combined afterwards. */
export const DECOMPOSABLE: ReadonlySet<Aggregate> = new Set(['count', 'sum', 'avg', 'min', 'max']);

/** The state before any pass: nothing decided yet. */
export function initialState(
  input: PlannerInput,
  blocked: ReadonlySet<TreeNode>,
  planNested: PlanState['planNested'],
): PlanState {
  return {
    input,
    blocked,
    planNested,
    nodes: [],
    roles: new Map(),
    conditions: input.where,
    inner: new Set(),
    preaggregates: [],
    requests: input.requests,
    outputs: input.outputs,
    collapsed: new Set(),
    strategies: new Map(),
    keyNodes: new Map(),
    having: input.shape.having,
    pushed: new Map(),
    residual: [],
    joinOrder: [],
  };
}

export function parentOf(state: PlanState, node: TreeNode): TreeNode | undefined {
  return node === state.input.root ? undefined : node.parent;
}

/** `top` and the nodes of the query below it. */
export function subtree(state: PlanState, top: TreeNode): TreeNode[] {
  return state.nodes.filter((n) => isAncestorOrSelf(top, n, state.input.root));
}

/** Whether the query groups by the root's whole primary key (plain fields, no granularity). */
export function groupsByRootKey(input: PlannerInput): boolean {
  const { root, dimensions } = input;
  const key = root.source.primaryKey;
  const grouped = new Set(
    dimensions.flatMap((d) =>
      d.node === root && d.field && !d.granularity && !d.field.sql ? [d.field.name] : [],
    ),
  );
  return key.length > 0 && key.every((k) => grouped.has(k));
}
