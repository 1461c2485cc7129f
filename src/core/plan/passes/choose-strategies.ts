/**
 * Fan-out safety for what is joined: each aggregate reads the joined rows directly when no
 * join can repeat its source's rows (or repeats cannot change it: min, max, count distinct),
 * else once per primary key per group: over the distinct rows of the group, its key and its
 * inputs (a hash distinct, no sort); with several such sources, or others read directly,
 * each part is aggregated per group on its own and the parts joined on the group. A
 * pre-aggregated subtree whose partials would need a key its source lacks is given up:
 * `retryWithout` asks the planner to plan again without collapsing it.
 */
import type { AggregateRequest, Deduplication, Strategy } from '../logical-plan.js';
import { isAncestorOrSelf } from '../grain.js';
import type { TreeNode } from '../spec.js';
import { DUPLICATE_INSENSITIVE, type PlanState } from './state.js';

export function chooseStrategies(state: PlanState): PlanState {
  const strategies = new Map<string, Strategy>();
  const keyNodes = new Map<string, TreeNode>();
  for (const request of state.requests) {
    if (DUPLICATE_INSENSITIVE.has(request.aggregate) || rowsNeverRepeat(state, request.node)) {
      strategies.set(request.id, 'direct');
    } else if (request.node.source.primaryKey.length > 0) {
      strategies.set(request.id, 'once_per_key');
      keyNodes.set(request.id, request.node);
    } else {
      // A partial on a node without a key cannot be de-duplicated: aggregate its subtree in place.
      const input = request.input;
      const culprit = input.kind === 'partial' ? input.preaggregate.top : state.preaggregates[0]?.top;
      if (!culprit) throw new Error(`no primary key to de-duplicate ${request.id}`);
      return { ...state, retryWithout: culprit };
    }
  }
  const deduplication = chooseDeduplication(state.requests, strategies, keyNodes);
  return { ...state, strategies, keyNodes, ...(deduplication ? { deduplication } : {}) };
}

/**
 * True when no join of the grain can repeat a row of `node`: walking away from it, every
 * join is to-one (going down a one_to_many, or up a many_to_one, would repeat it).
 */
function rowsNeverRepeat(state: PlanState, node: TreeNode): boolean {
  const root = state.input.root;
  for (const other of state.nodes) {
    if (other === root || state.collapsed.has(other) || state.roles.get(other) !== 'grain') continue;
    const relationship = other.edge!.relationship;
    const onPathUp = isAncestorOrSelf(other, node, root);
    if (onPathUp ? relationship === 'many_to_one' : relationship === 'one_to_many') return false;
  }
  return true;
}

/**
 * DISTINCT rows when every aggregate reads its rows once per key of the same source: its
 * key and inputs are then all the columns, and distinct rows are those rows once each.
 * With a second source, or an aggregate reading all rows, each part is aggregated apart.
 */
function chooseDeduplication(
  requests: readonly AggregateRequest[],
  strategies: ReadonlyMap<string, Strategy>,
  keyNodes: ReadonlyMap<string, TreeNode>,
): Deduplication | undefined {
  if (![...strategies.values()].includes('once_per_key')) return undefined;
  const keyed = new Set(
    requests.map((r) => (strategies.get(r.id) === 'once_per_key' ? keyNodes.get(r.id) : undefined)),
  );
  return keyed.size === 1 && !keyed.has(undefined) ? 'distinct_rows' : 'aggregate_per_source';
}
