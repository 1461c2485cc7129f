/**
 * Grouping elimination: when the query groups by the root's key and no join repeats a root
 * row (lookups are to-one, fan-outs are pre-aggregated per root row or only filter), each
 * group is exactly one joined row. The aggregation is then left out: each aggregate is the
 * row's own value (a count is 0 or 1), and HAVING is a WHERE.
 */
import { DECOMPOSABLE, DUPLICATE_INSENSITIVE, groupsByRootKey, type PlanState } from './state.js';

export function oneRowPerGroup(state: PlanState): PlanState {
  const { root, aggregated } = state.input;
  if (!aggregated || state.requests.length === 0 || !groupsByRootKey(state.input)) return state;
  const rootRepeats = state.nodes.some(
    (n) =>
      n !== root &&
      !state.collapsed.has(n) &&
      state.roles.get(n) === 'grain' &&
      n.edge!.relationship === 'one_to_many',
  );
  if (rootRepeats) return state;
  const everyDirect = state.requests.every(
    (r) =>
      state.strategies.get(r.id) === 'direct' &&
      (DECOMPOSABLE.has(r.aggregate) || DUPLICATE_INSENSITIVE.has(r.aggregate)),
  );
  return everyDirect ? { ...state, oneRowPerGroup: true } : state;
}
