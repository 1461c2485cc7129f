/**
 * Join pruning: the query uses the root, the nodes its columns, measures and filters name,
 * and the nodes on the paths to those; nothing else is ever joined.
 */
import { atomNode } from '../logical-plan.js';
import type { TreeNode } from '../spec.js';
import type { PlanState } from './state.js';

export function pruneJoins(state: PlanState): PlanState {
  const { root, dimensions, sortOnly, requests, where } = state.input;
  const used = new Set<TreeNode>();
  const add = (node: TreeNode) => {
    for (let n: TreeNode | undefined = node; n && !used.has(n); n = n === root ? undefined : n.parent)
      used.add(n);
  };
  add(root);
  for (const d of [...dimensions, ...sortOnly]) add(d.node);
  for (const r of requests) add(r.node);
  for (const c of where) for (const a of c) add(atomNode(a)!);
  const nodes: TreeNode[] = [];
  const visit = (node: TreeNode) => {
    nodes.push(node);
    for (const child of node.children) if (used.has(child)) visit(child);
  };
  visit(root);
  return { ...state, nodes };
}
