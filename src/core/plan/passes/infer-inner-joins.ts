/**
 * Inner-join inference: a left join becomes inner where a filter already rejects its NULL
 * row (and then its ancestors' too), and where a plain EXISTS needs a row to hang off.
 */
import { atomNode } from '../logical-plan.js';
import { ancestorsOrSelf, isAncestorOrSelf } from '../grain.js';
import type { TreeNode } from '../spec.js';
import { parentOf, type PlanState } from './state.js';

export function inferInnerJoins(state: PlanState): PlanState {
  const root = state.input.root;
  const inner = new Set<TreeNode>();
  const reject = (node: TreeNode) => {
    for (const n of ancestorsOrSelf(node, root)) if (n !== root) inner.add(n);
  };
  const commonAncestor = (a: TreeNode, b: TreeNode): TreeNode | undefined =>
    ancestorsOrSelf(a, root).find((n) => isAncestorOrSelf(n, b, root));
  for (const conjunct of state.joinedConjuncts) {
    if (conjunct.some((a) => a.op === 'is_null')) continue;
    const nodes = conjunct.map((a) => atomNode(a)!);
    const common = nodes
      .slice(1)
      .reduce<TreeNode | undefined>((acc, n) => (acc ? commonAncestor(acc, n) : undefined), nodes[0]);
    if (common) reject(common);
  }
  for (const group of state.existsGroups)
    if (group.whenNoRow === 'false' && !group.orElse) reject(parentOf(state, group.tops[0]!)!);
  return { ...state, inner };
}
