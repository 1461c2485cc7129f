/**
 * Which nodes define the grain (the root, and the paths to what is selected or aggregated),
 * which are one-valued lookups hanging off it, and which are filter-only fan-outs (checked
 * with EXISTS, never joined).
 */
import { grainOf } from '../grain.js';
import type { NodeRole } from '../logical-plan.js';
import type { TreeNode } from '../spec.js';
import { parentOf, type PlanState } from './state.js';

export function classifyNodes(state: PlanState): PlanState {
  const { root, dimensions, sortOnly, requests } = state.input;
  const grain = grainOf(
    [root, ...[...dimensions, ...sortOnly].map((d) => d.node), ...requests.map((r) => r.node)],
    root,
  );
  const roles = new Map<TreeNode, NodeRole>();
  for (const node of state.nodes) {
    if (grain.has(node)) roles.set(node, 'grain');
    else {
      const parentRole = roles.get(parentOf(state, node)!)!;
      const toOne = node.edge!.relationship !== 'one_to_many';
      roles.set(node, parentRole !== 'exists' && toOne ? 'lookup' : 'exists');
    }
  }
  return { ...state, roles };
}
