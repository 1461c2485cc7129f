/**
 * Aggregation before lookups (eager aggregation): when every measure reads the root's own
 * rows once each and the query joins lookups (to-one sources) only to group or filter, the
 * root's rows are aggregated first, per the root columns the query reads (dimensions, join
 * keys, filter columns), and the lookups joined to those groups. Only worth it when those
 * columns do not include the root's key (else every row is its own group), and when every
 * lookup is left joined (an inner join filters rows, which is better done before). A
 * measure reading a lookup's field is computed on joined rows, so it is not aggregated early.
 */
import { atomTargets, groupsOf, rowAtomsOf } from '../logical-plan.js';
import { DECOMPOSABLE, type PlanState } from './state.js';

export function aggregateBeforeLookups(state: PlanState): PlanState {
  const { root, aggregated, nested, dimensions, sortOnly } = state.input;
  if (!aggregated || nested || root.source.cdc) return state;
  if (state.joinOrder.length === 0 || state.preaggregates.length > 0 || state.requests.length === 0)
    return state;
  // An inner join filters: rows it removes are better removed before aggregating them.
  if (state.joinOrder.some((n) => state.inner.has(n))) return state;
  const rootOnly = state.requests.every(
    (r) =>
      r.node === root &&
      !r.lookups &&
      r.input.kind !== 'partial' &&
      state.strategies.get(r.id) === 'direct' &&
      DECOMPOSABLE.has(r.aggregate),
  );
  // A measure at another grain as a dimension is a subquery over the root's joined row.
  if (!rootOnly || dimensions.some((d) => d.grain)) return state;
  const read = new Set<string>();
  for (const d of [...dimensions, ...sortOnly])
    if (d.node === root && d.field)
      read.add(
        d.granularity
          ? `${d.granularity}(${d.field.name})`
          : d.field.sql
            ? `${d.field.name} (computed)`
            : d.field.name,
      );
  const existsTops = state.residual.flatMap(groupsOf).flatMap((g) => g.tops);
  for (const child of [...state.joinOrder, ...existsTops].filter((n) => n.parent === root))
    for (const pair of child.edge!.on) read.add(pair.from);
  for (const target of state.residual.flatMap(rowAtomsOf).flatMap(atomTargets))
    if (target.kind === 'field' && target.node === root) read.add(target.field.name);
  const key = root.source.primaryKey;
  if (key.length > 0 && key.every((k) => read.has(k))) return state;
  return { ...state, eagerRoot: { columns: [...read].sort() } };
}
