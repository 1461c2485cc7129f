/**
 * Join pruning: the query uses the root, the nodes its columns, measures and filters name,
 * and the nodes on the paths to those; nothing else is ever joined.
 */
import { grainOf } from '../grain.js';
import { atomNodes, requestNodes } from '../logical-plan.js';
import { atomsOf } from '../condition.js';
import type { TreeNode } from '../spec.js';
import type { PlanState } from './state.js';

export function pruneJoins(state: PlanState): PlanState {
  const { root, dimensions, sortOnly, requests, where } = state.input;
  const used = grainOf(
    [
      root,
      ...[...dimensions, ...sortOnly].map((d) => d.node),
      ...requests.flatMap(requestNodes),
      ...where.flatMap(atomsOf).flatMap(atomNodes),
    ],
    root,
  );
  const nodes: TreeNode[] = [];
  const visit = (node: TreeNode) => {
    nodes.push(node);
    for (const child of node.children) if (used.has(child)) visit(child);
  };
  visit(root);
  return { ...state, nodes };
}
