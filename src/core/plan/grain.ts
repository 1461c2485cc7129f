/**
 * Ancestry and grain in a join tree, in one place: which nodes lie above which, the grain a
 * set of nodes defines (each with every ancestor up to the top), and whether a node's rows
 * repeat beyond a grain. A `top` bounds the walk (inclusive) where a plan treats a subtree
 * as the whole tree.
 */
import type { TreeNode } from './spec.js';

function parentWithin(node: TreeNode, top: TreeNode | undefined): TreeNode | undefined {
  return node === top ? undefined : node.parent;
}

/** The node and each node above it, up to `top` (or the root). */
export function ancestorsOrSelf(node: TreeNode, top?: TreeNode): TreeNode[] {
  const chain: TreeNode[] = [];
  for (let n: TreeNode | undefined = node; n; n = parentWithin(n, top)) chain.push(n);
  return chain;
}

export function isAncestorOrSelf(ancestor: TreeNode, node: TreeNode, top?: TreeNode): boolean {
  return ancestorsOrSelf(node, top).includes(ancestor);
}

/** Strictly below `top` (in its subtree, not itself). */
export function isBelow(node: TreeNode, top: TreeNode): boolean {
  return node !== top && isAncestorOrSelf(top, node);
}

/** The grain of some nodes: each of them with every ancestor up to `top`. */
export function grainOf(nodes: Iterable<TreeNode>, top?: TreeNode): Set<TreeNode> {
  const grain = new Set<TreeNode>();
  for (const node of nodes)
    for (let n: TreeNode | undefined = node; n && !grain.has(n); n = parentWithin(n, top)) grain.add(n);
  return grain;
}

/**
 * Whether a value of `node` is one value per row of `grain`: every one-to-many join between it
 * and the top is already in the grain, so joining it multiplies nothing.
 */
export function oneValuedPerRow(node: TreeNode, grain: ReadonlySet<TreeNode>, top?: TreeNode): boolean {
  for (let n: TreeNode | undefined = node; n?.edge && n !== top; n = n.parent)
    if (n.edge.relationship === 'one_to_many' && !grain.has(n)) return false;
  return true;
}
