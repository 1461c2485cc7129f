/**
 * Inner-join inference: a left join becomes inner where the filters already reject its NULL
 * row (and then its ancestors' too). A filter rejects a node's NULL row when it cannot be
 * TRUE with every field of that node, and of the nodes below it, NULL: evaluated three-valued
 * with their atoms on NULL (`is_null` TRUE, `is_not_null` FALSE, comparisons UNKNOWN), any
 * other atom free. An EXISTS hanging off such a NULL row finds nothing related, so it is
 * what its condition says on the NULL row.
 */
import { atomNodes, type ExistsGroup, type RowCondition } from '../logical-plan.js';
import { ancestorsOrSelf } from '../grain.js';
import { atomOnNull, signed } from '../condition.js';
import type { TreeNode } from '../spec.js';
import { subtree, type PlanState } from './state.js';

export function inferInnerJoins(state: PlanState): PlanState {
  const root = state.input.root;
  const inner = new Set<TreeNode>();
  const candidates = state.nodes.filter((n) => n !== root && state.roles.get(n) !== 'exists');
  for (const node of candidates) {
    if (inner.has(node)) continue;
    const nulls = new Set(subtree(state, node));
    if (state.conditions.some((c) => !rowCanBeTrue(c, nulls)))
      for (const n of ancestorsOrSelf(node, root)) if (n !== root) inner.add(n);
  }
  return { ...state, inner };
}

/** Whether a row condition can be TRUE on a row where the `nulls` nodes are NULL. */
function rowCanBeTrue(c: RowCondition, nulls: ReadonlySet<TreeNode>): boolean {
  switch (c.kind) {
    case 'atom':
      return !atomNodes(c.atom).some((n) => nulls.has(n)) || signed(c, atomOnNull(c.atom)) === 'true';
    case 'and':
      return c.items.every((i) => rowCanBeTrue(i, nulls));
    case 'or':
      return c.items.some((i) => rowCanBeTrue(i, nulls));
    case 'exists':
      return existsCanBeTrue(c.group, nulls);
  }
}

function existsCanBeTrue(group: ExistsGroup, nulls: ReadonlySet<TreeNode>): boolean {
  // Only where the group hangs off a NULL row is nothing related for certain.
  if (!nulls.has(group.tops[0]!.parent!) || group.whenNoRow === 'general') return true;
  if (group.whenNoRow === 'true' || group.whenNoRow === 'false') return group.whenNoRow === 'true';
  return rowCanBeTrue(group.whenNoRow, nulls);
}
