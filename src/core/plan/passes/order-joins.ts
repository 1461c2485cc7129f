/**
 * Join ordering: the joined sources (grain and lookups, not filter-only or pre-aggregated),
 * each after the source it hangs off, inner joins with a filter of their own first, then the
 * other inner joins, then left joins: the rows a selective join removes are never carried
 * through the others. Siblings commute (every ON reads only a node and its parent, and an
 * inner join's ancestors are inner too), so the answer cannot change.
 */
import type { TreeNode } from '../spec.js';
import { parentOf, type PlanState } from './state.js';

export function orderJoins(state: PlanState): PlanState {
  const root = state.input.root;
  const joined = state.nodes.filter(
    (n) => n !== root && state.roles.get(n) !== 'exists' && !state.collapsed.has(n),
  );
  const rank = (n: TreeNode) => (state.inner.has(n) ? (state.pushed.has(n) ? 0 : 1) : 2);
  const placed = new Set<TreeNode>([root]);
  const joinOrder: TreeNode[] = [];
  while (joinOrder.length < joined.length) {
    const ready = joined.filter((n) => !placed.has(n) && placed.has(parentOf(state, n)!));
    const next = ready.reduce((best, n) => (rank(n) < rank(best) ? n : best));
    placed.add(next);
    joinOrder.push(next);
  }
  return { ...state, joinOrder };
}
