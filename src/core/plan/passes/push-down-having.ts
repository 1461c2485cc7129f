/**
 * HAVING pushdown into per-key aggregates: a condition on measures of one pre-aggregate
 * moves into it when each group of the query is one row of the root (its key is grouped by)
 * and the pre-aggregate hangs off the root: the group's value is then that root row's
 * pre-aggregated value. A condition that cannot be TRUE with its measures NULL (evaluated
 * three-valued; counts, which are 0 without rows, stay) also turns that join inner. The pre-aggregate records the condition;
 * what is left is the query's own HAVING.
 */
import { atomTargets, type Preaggregate } from '../logical-plan.js';
import { atomOnNull, atomsOf, canBeTrue, signed } from '../condition.js';
import type { Condition, FilterTarget } from '../spec.js';
import { groupsByRootKey, type PlanState } from './state.js';

export function pushDownHaving(state: PlanState): PlanState {
  const { root } = state.input;
  const { useKeyOf } = state.input.shape;
  if (!groupsByRootKey(state.input)) return state;
  const byId = new Map(state.requests.map((r) => [r.id, r]));
  const preaggregateOf = (target: FilterTarget): { pre: Preaggregate; column: string } | undefined => {
    const output = state.outputs.get(useKeyOf(target));
    const input = output?.kind === 'request' ? byId.get(output.id)?.input : undefined;
    if (input?.kind !== 'partial' || input.preaggregate.parent !== root) return undefined;
    return { pre: input.preaggregate, column: input.column };
  };
  const having: Condition[] = [];
  for (const condition of state.having) {
    // Both sides of a comparison of two measures are read from the pre-aggregate.
    const measures = atomsOf(condition).flatMap(atomTargets);
    const targets = measures.map(preaggregateOf);
    const pre = targets[0]?.pre;
    const nullFails = !canBeTrue(condition, (l) => signed(l, atomOnNull(l.atom)));
    if (!pre || !nullFails || targets.some((t) => t?.pre !== pre)) {
      having.push(condition);
      continue;
    }
    pre.inner = true;
    pre.having = [...(pre.having ?? []), condition];
    measures.forEach((target, i) => pre.havingKeys.set(target, targets[i]!.column));
  }
  return { ...state, having };
}
