/**
 * Semi/anti-join selection: the parts of the filters on filter-only subtrees become EXISTS
 * groups. Spec §4 rule 5 keeps a row when some combination of related rows (one NULL row
 * where a subtree has none) makes the filters TRUE; that existential distributes over OR,
 * and over an AND of parts on different subtrees, and leaves parts on joined rows outside
 * (the left join always yields a row). So each group is as small as that allows: the parts
 * an AND ties to one set of subtrees, or the related parts of an OR on one set. A group
 * knows what its condition means with no related row at all, and whether no related row can
 * pass it (a pure anti-join).
 */
import { atomNodes, type ExistsGroup, type RowCondition } from '../logical-plan.js';
import { atomOnNull, atomsOf, canBeTrue, combine, signed, simplify } from '../condition.js';
import type { Condition, Literal, TreeNode } from '../spec.js';
import { parentOf, subtree, type PlanState } from './state.js';

export function selectExists(state: PlanState): PlanState {
  const { where } = state.input;
  // The query's filters are one AND: subtrees tied by one of them share an EXISTS.
  const placed = where.length === 0 ? [] : conjunctsOfRow(new Placer(state).place(combine('and', where)));
  return { ...state, conditions: placed };
}

/** Places the EXISTS groups in a condition on the joined rows. */
class Placer {
  constructor(private readonly state: PlanState) {}

  place(c: Condition): RowCondition {
    const tops = this.topsOf(c);
    if (tops.length === 0) return c;
    if (c.kind === 'atom') return this.group(c, tops);
    return c.kind === 'or' ? this.placeOr(c.items) : this.placeAnd(c.items);
  }

  /** Joined parts first; the parts only on related rows of one subtree share one EXISTS. */
  private placeOr(items: Condition[]): RowCondition {
    const joined = items.filter((i) => this.topsOf(i).length === 0);
    const related = new Map<TreeNode, Condition[]>();
    const others: Condition[] = [];
    for (const item of items.filter((i) => this.topsOf(i).length > 0)) {
      const [top, ...more] = this.topsOf(item);
      if (more.length > 0 || !this.relatedOnly(item)) others.push(item);
      else related.set(top!, [...(related.get(top!) ?? []), item]);
    }
    const parts = this.order([...related.keys()]).map((top) => {
      const same = related.get(top)!;
      return same.length === 1 ? this.place(same[0]!) : this.group(combine('or', same), [top]);
    });
    return orOf([...joined, ...parts, ...others.map((o) => this.place(o))]);
  }

  /** Parts tied to one set of subtrees (through shared subtrees) hold on one combination. */
  private placeAnd(items: Condition[]): RowCondition {
    const parts = connect(items, (i) => this.topsOf(i)).map((component) =>
      component.length === 1
        ? this.place(component[0]!)
        : this.group(
            combine('and', component),
            component.flatMap((i) => this.topsOf(i)),
          ),
    );
    return andOf([...items.filter((i) => this.topsOf(i).length === 0), ...parts]);
  }

  private group(condition: Condition, tops: TreeNode[]): RowCondition {
    return { kind: 'exists', group: existsGroup(this.state, condition, this.order(tops)) };
  }

  private isExists(n: TreeNode): boolean {
    return this.state.roles.get(n) === 'exists';
  }

  private existsTop(node: TreeNode): TreeNode {
    let n = node;
    while (this.isExists(parentOf(this.state, n)!)) n = parentOf(this.state, n)!;
    return n;
  }

  /** The filter-only subtrees (by their tops) a condition reads. */
  private topsOf(c: Condition): TreeNode[] {
    const nodes = atomsOf(c).flatMap(atomNodes);
    return [...new Set(nodes.filter((n) => this.isExists(n)).map((n) => this.existsTop(n)))];
  }

  private relatedOnly(c: Condition): boolean {
    return atomsOf(c)
      .flatMap(atomNodes)
      .every((n) => this.isExists(n));
  }

  /** Distinct, in the query's node order. */
  private order(tops: TreeNode[]): TreeNode[] {
    return [...new Set(tops)].sort((a, b) => this.state.nodes.indexOf(a) - this.state.nodes.indexOf(b));
  }
}

function orOf(items: RowCondition[]): RowCondition {
  return items.length === 1 ? items[0]! : { kind: 'or', items };
}

function andOf(items: RowCondition[]): RowCondition {
  const flat = items.flatMap((i) => (i.kind === 'and' ? i.items : [i]));
  return flat.length === 1 ? flat[0]! : { kind: 'and', items: flat };
}

function conjunctsOfRow(c: RowCondition): RowCondition[] {
  return c.kind === 'and' ? c.items : [c];
}

/**
 * The items that touch subtrees, in connected components: two items touching one subtree
 * are in one component. Items touching none are left out. Components keep the items' order.
 */
function connect(items: Condition[], topsOf: (c: Condition) => TreeNode[]): Condition[][] {
  const components: { tops: Set<TreeNode>; items: Condition[] }[] = [];
  for (const item of items) {
    const tops = topsOf(item);
    if (tops.length === 0) continue;
    const touching = components.filter((comp) => tops.some((t) => comp.tops.has(t)));
    const merged = {
      tops: new Set([...tops, ...touching.flatMap((comp) => [...comp.tops])]),
      items: [...touching.flatMap((comp) => comp.items), item],
    };
    const first = touching.length > 0 ? components.indexOf(touching[0]!) : components.length;
    for (const comp of touching) components.splice(components.indexOf(comp), 1);
    components.splice(Math.min(first, components.length), 0, merged);
  }
  return components.map((comp) => sortByOrder(comp.items, items));
}

function sortByOrder(some: Condition[], all: Condition[]): Condition[] {
  return [...some].sort((a, b) => all.indexOf(a) - all.indexOf(b));
}

function existsGroup(state: PlanState, condition: Condition, tops: TreeNode[]): ExistsGroup {
  const nodes = tops.flatMap((t) => subtree(state, t));
  const group: ExistsGroup = { tops, nodes, condition, whenNoRow: 'general', form: 'exists' };
  if (tops.length === 1) {
    group.whenNoRow = whenNoRow(nodes, condition);
    if (group.whenNoRow !== 'false' && !canBeTrue(condition, (l) => onExistingRow(tops[0]!, l)))
      group.relatedNeverMatches = true;
  }
  group.form = formOf(group);
  return group;
}

/** An uncorrelated semi-join where the key is one column and the filters read only related rows. */
function formOf(group: ExistsGroup): ExistsGroup['form'] {
  const inGroup = new Set(group.nodes);
  const uncorrelated = atomsOf(group.condition)
    .flatMap(atomNodes)
    .every((n) => inGroup.has(n));
  return group.whenNoRow !== 'general' && group.tops[0]!.edge!.on.length === 1 && uncorrelated
    ? 'in_subquery'
    : 'exists';
}

/** The condition on the NULL row a left join gives when nothing is related. */
function whenNoRow(nodes: TreeNode[], condition: Condition): ExistsGroup['whenNoRow'] {
  const inGroup = new Set(nodes);
  const left = simplify(condition, (l) =>
    // A comparison with one side on the NULL row is unknown, whatever the other side is.
    atomNodes(l.atom).some((n) => inGroup.has(n)) ? signed(l, atomOnNull(l.atom)) : undefined,
  );
  return left === true ? 'true' : left === false ? 'false' : left;
}

/**
 * A literal's value on every existing row of `top` (the rows the EXISTS enumerates), where
 * it is known: a plain primary-key field of it is never NULL there.
 */
function onExistingRow(top: TreeNode, l: Literal): 'true' | 'false' | undefined {
  const { atom } = l;
  const t = atom.target;
  const keyField =
    t.kind === 'field' && t.node === top && !t.field.sql && top.source.primaryKey.includes(t.field.name);
  if (!keyField || (atom.op !== 'is_null' && atom.op !== 'is_not_null')) return undefined;
  return signed(l, atom.op === 'is_not_null' ? 'true' : 'false') as 'true' | 'false';
}
