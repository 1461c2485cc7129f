/**
 * Filter pushdown: a filter on one joined source moves into that source's scan, where it is
 * the root or inner-joined (on a left-joined source it must see the NULL row, so it stays
 * above the join, as do filters across sources).
 */
import { atomNode } from '../logical-plan.js';
import type { Conjunct, TreeNode } from '../spec.js';
import type { PlanState } from './state.js';

export function pushDownFilters(state: PlanState): PlanState {
  const pushed = new Map<TreeNode, Conjunct[]>();
  const residual: Conjunct[] = [];
  for (const conjunct of state.joinedConjuncts) {
    const nodes = new Set(conjunct.map((a) => atomNode(a)!));
    const [only] = nodes;
    if (nodes.size === 1 && only && (only === state.input.root || state.inner.has(only))) {
      pushed.set(only, [...(pushed.get(only) ?? []), conjunct]);
    } else residual.push(conjunct);
  }
  return { ...state, pushed, residual };
}
