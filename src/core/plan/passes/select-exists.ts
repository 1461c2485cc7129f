/**
 * Semi/anti-join selection: filters on filter-only subtrees become EXISTS groups (one per
 * set of subtrees a filter ties together), with what such a filter means when there is no
 * related row at all (left-join semantics), split into alternatives where an `any` spans
 * several subtrees, and marked as a pure anti-join where no related row can pass.
 */
import { atomNode, type ExistsGroup } from '../logical-plan.js';
import type { Conjunct, TreeNode } from '../spec.js';
import { parentOf, subtree, type PlanState } from './state.js';

export function selectExists(state: PlanState): PlanState {
  const { roles } = state;
  const isExists = (n: TreeNode) => roles.get(n) === 'exists';
  const existsTop = (node: TreeNode): TreeNode => {
    let n = node;
    while (isExists(parentOf(state, n)!)) n = parentOf(state, n)!;
    return n;
  };
  const tops = state.nodes.filter((n) => isExists(n) && !isExists(parentOf(state, n)!));
  // Union-find over subtree tops: one conjunct touching two subtrees puts them in one EXISTS.
  const leader = new Map<TreeNode, TreeNode>(tops.map((t) => [t, t]));
  const find = (t: TreeNode): TreeNode => (leader.get(t) === t ? t : find(leader.get(t)!));
  const conjunctTops = new Map<Conjunct, TreeNode[]>();
  for (const conjunct of state.input.where) {
    const touched = [
      ...new Set(
        conjunct
          .map((a) => atomNode(a)!)
          .filter(isExists)
          .map(existsTop),
      ),
    ];
    conjunctTops.set(conjunct, touched);
    for (const t of touched.slice(1)) leader.set(find(t), find(touched[0]!));
  }
  const groups = new Map<TreeNode, ExistsGroup>();
  for (const top of tops) {
    const key = find(top);
    const group: ExistsGroup = groups.get(key) ?? {
      tops: [],
      nodes: [],
      conjuncts: [],
      whenNoRow: 'false',
      form: 'exists',
    };
    group.tops.push(top);
    group.nodes.push(...subtree(state, top));
    groups.set(key, group);
  }
  for (const conjunct of state.input.where) {
    const touched = conjunctTops.get(conjunct)!;
    if (touched.length > 0) groups.get(find(touched[0]!))!.conjuncts.push(conjunct);
  }
  const existsGroups = [...groups.values()].filter((g) => g.conjuncts.length > 0);
  for (const group of existsGroups) {
    if (group.tops.length > 1 && group.conjuncts.length === 1) splitAlternatives(state, group);
    else if (group.tops.length === 1) splitOuterAtoms(group);
    group.whenNoRow = group.tops.length > 1 ? 'general' : whenNoRow(group);
    // No related row passes: only "no related row" is left to ask, unless the filters fail on
    // it too (whenNoRow false), where the plain EXISTS (never true) stays.
    if (
      group.tops.length === 1 &&
      group.whenNoRow !== 'false' &&
      group.conjuncts.some((c) => onlyNullKeysOf(group.tops[0]!, c))
    )
      group.relatedNeverMatches = true;
    for (const g of [group, ...(group.alternatives ?? [])]) g.form = formOf(g);
  }
  const joinedConjuncts = state.input.where.filter((c) => c.every((a) => !isExists(atomNode(a)!)));
  return { ...state, existsGroups, joinedConjuncts };
}

/** `any` over several filter-only subtrees: one EXISTS per subtree, ORed (plus joined atoms). */
function splitAlternatives(state: PlanState, group: ExistsGroup): void {
  const [conjunct] = group.conjuncts as [Conjunct];
  const alternatives = group.tops.map((top): ExistsGroup => {
    const nodes = subtree(state, top);
    const atoms = conjunct.filter((a) => nodes.includes(atomNode(a)!));
    const alternative: ExistsGroup = {
      tops: [top],
      nodes,
      conjuncts: [atoms],
      whenNoRow: 'false',
      form: 'exists',
    };
    alternative.whenNoRow = whenNoRow(alternative);
    if (alternative.whenNoRow !== 'false' && onlyNullKeysOf(top, atoms))
      alternative.relatedNeverMatches = true;
    return alternative;
  });
  const inGroup = new Set(group.nodes);
  const outer = conjunct.filter((a) => !inGroup.has(atomNode(a)!));
  if (outer.length > 0) group.orElse = outer;
  group.alternatives = alternatives;
}

/** An uncorrelated semi-join where the key is one column and the filters read only related rows. */
function formOf(group: ExistsGroup): ExistsGroup['form'] {
  const inGroup = new Set(group.nodes);
  const uncorrelated = group.conjuncts.every((c) => c.every((a) => inGroup.has(atomNode(a)!)));
  return group.whenNoRow !== 'general' && group.tops[0]!.edge!.on.length === 1 && uncorrelated
    ? 'in_subquery'
    : 'exists';
}

/**
 * One filter `outer OR related` over a subtree is `outer OR EXISTS(related)` (the left
 * join always yields at least one row, so the existential distributes over the OR).
 */
function splitOuterAtoms(group: ExistsGroup): void {
  if (group.conjuncts.length !== 1) return;
  const inGroup = new Set(group.nodes);
  const [conjunct] = group.conjuncts as [Conjunct];
  const outer = conjunct.filter((a) => !inGroup.has(atomNode(a)!));
  if (outer.length === 0) return;
  group.orElse = outer;
  group.conjuncts = [conjunct.filter((a) => inGroup.has(atomNode(a)!))];
}

/**
 * The group's filters evaluated on the NULL row a left join gives when nothing is related:
 * `is_null` holds there, every other op fails (NULLs never match), other atoms stay.
 */
function whenNoRow(group: ExistsGroup): ExistsGroup['whenNoRow'] {
  const inGroup = new Set(group.nodes);
  const remaining: Conjunct[] = [];
  for (const conjunct of group.conjuncts) {
    if (conjunct.some((a) => inGroup.has(atomNode(a)!) && a.op === 'is_null')) continue;
    const outer = conjunct.filter((a) => !inGroup.has(atomNode(a)!));
    if (outer.length === 0) return 'false';
    remaining.push(outer);
  }
  return remaining.length === 0 ? 'true' : remaining;
}

/**
 * A filter only of `is_null` on plain primary-key fields of `top`, the related source whose
 * rows the EXISTS enumerates: none of them passes it. (Below `top`, a left join's NULL row
 * would.)
 */
function onlyNullKeysOf(top: TreeNode, conjunct: Conjunct): boolean {
  return (
    conjunct.length > 0 &&
    conjunct.every(
      (atom) =>
        atom.op === 'is_null' &&
        atom.target.kind === 'field' &&
        atom.target.node === top &&
        !atom.target.field.sql &&
        atom.target.node.source.primaryKey.includes(atom.target.field.name),
    )
  );
}
