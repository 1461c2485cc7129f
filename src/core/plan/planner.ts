/**
 * The optimizer: its passes (./passes/, one file each; logical-plan.ts lists what each
 * decides), run in order over one state. Pure functions of the query: the same plan comes
 * out for the same input, whatever the dialect.
 */
import type { LogicalPlan } from './logical-plan.js';
import { aggregateBeforeLookups } from './passes/aggregate-before-lookups.js';
import { chooseStrategies } from './passes/choose-strategies.js';
import { classifyNodes } from './passes/classify-nodes.js';
import { inferInnerJoins } from './passes/infer-inner-joins.js';
import { oneRowPerGroup } from './passes/one-row-per-group.js';
import { orderJoins } from './passes/order-joins.js';
import { preaggregateFanOuts } from './passes/preaggregate-fan-outs.js';
import { pruneJoins } from './passes/prune-joins.js';
import { pushDownFilters } from './passes/push-down-filters.js';
import { pushDownHaving } from './passes/push-down-having.js';
import { selectExists } from './passes/select-exists.js';
import { initialState, type Pass, type PlannerInput, type PlanState } from './passes/state.js';
import type { TreeNode } from './spec.js';

export type { PlannerInput } from './passes/state.js';

/** The passes, in the order they run: each may read what the ones before it decided. */
export const PASSES: readonly { name: string; run: Pass }[] = [
  { name: 'pruneJoins', run: pruneJoins },
  { name: 'classifyNodes', run: classifyNodes },
  { name: 'selectExists', run: selectExists },
  { name: 'inferInnerJoins', run: inferInnerJoins },
  { name: 'preaggregateFanOuts', run: preaggregateFanOuts },
  { name: 'chooseStrategies', run: chooseStrategies },
  { name: 'pushDownHaving', run: pushDownHaving },
  { name: 'pushDownFilters', run: pushDownFilters },
  { name: 'orderJoins', run: orderJoins },
  { name: 'aggregateBeforeLookups', run: aggregateBeforeLookups },
  { name: 'oneRowPerGroup', run: oneRowPerGroup },
];

export function plan(input: PlannerInput): LogicalPlan {
  const blocked = new Set<TreeNode>();
  for (;;) {
    const state = runPasses(initialState(input, blocked, plan));
    if (!state.retryWithout) return logicalPlan(state);
    blocked.add(state.retryWithout);
  }
}

/** Runs the passes in order, stopping where one asks to start again. */
export function runPasses(start: PlanState, passes: readonly { run: Pass }[] = PASSES): PlanState {
  let state = start;
  for (const pass of passes) {
    state = pass.run(state);
    if (state.retryWithout) return state;
  }
  return state;
}

function logicalPlan(state: PlanState): LogicalPlan {
  const { input } = state;
  return {
    root: input.root,
    dimensions: input.dimensions,
    sortOnly: input.sortOnly,
    requests: [...state.requests],
    outputs: new Map(state.outputs),
    aggregated: input.aggregated,
    roles: new Map(state.roles),
    joinOrder: [...state.joinOrder],
    innerJoins: new Set(state.inner),
    pushed: new Map(state.pushed),
    residual: [...state.residual],
    preaggregates: [...state.preaggregates],
    strategies: new Map(state.strategies),
    keyNodes: new Map(state.keyNodes),
    ...(state.deduplication ? { deduplication: state.deduplication } : {}),
    shape: { ...input.shape, having: [...state.having] },
    ...(state.eagerRoot ? { eagerRoot: state.eagerRoot } : {}),
    ...(state.oneRowPerGroup ? { oneRowPerGroup: true } : {}),
  };
}
