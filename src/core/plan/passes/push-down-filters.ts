/**
 * Filter pushdown: a filter on one joined source moves into that source's scan, where it is
 * the root or inner-joined (on a left-joined source it must see the NULL row, so it stays
 * above the join, as do filters across sources, those with an EXISTS, and comparisons with
 * a measure computed per a joined row).
 */
import { groupsOf, rowAtomsOf, rowNodesOf, type RowCondition } from '../logical-plan.js';
import { atomGrains, type Condition, type TreeNode } from '../spec.js';
import type { PlanState } from './state.js';

export function pushDownFilters(state: PlanState): PlanState {
  const pushed = new Map<TreeNode, Condition[]>();
  const residual: RowCondition[] = [];
  for (const condition of state.conditions) {
    const [only, ...more] = rowNodesOf(condition);
    // A measure computed per a joined row is a subquery correlated to that row's columns,
    // which must be named by their joined source (inside a scan they would be bare names).
    const plain =
      groupsOf(condition).length === 0 &&
      !rowAtomsOf(condition).some((a) => atomGrains(a).some((g) => g.per));
    if (plain && only && more.length === 0 && (only === state.input.root || state.inner.has(only))) {
      pushed.set(only, [...(pushed.get(only) ?? []), condition as Condition]);
    } else residual.push(condition);
  }
  // Filters on joined rows first, then those that ask for related rows.
  const plainFirst = [
    ...residual.filter((c) => groupsOf(c).length === 0),
    ...residual.filter((c) => groupsOf(c).length > 0),
  ];
  return { ...state, pushed, residual: plainFirst };
}
