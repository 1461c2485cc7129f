/**
 * The optimizer passes (see logical-plan.ts for what each decides). Pure functions of the
 * query; the same plan comes out for the same input, whatever the dialect.
 */
import type { Aggregate } from '../definitions/schema.js';
import type { Conjunct, TreeNode } from './spec.js';
import { grainOf, isAncestorOrSelf } from './grain.js';
import type {
  AggregateRequest,
  Dimension,
  ExistsGroup,
  LogicalPlan,
  MeasureOutput,
  NodeRole,
  Preaggregate,
  Strategy,
} from './logical-plan.js';
import { atomNode } from './logical-plan.js';

export interface PlannerInput {
  root: TreeNode;
  dimensions: Dimension[];
  sortOnly: Dimension[];
  requests: AggregateRequest[];
  outputs: Map<string, MeasureOutput>;
  where: Conjunct[];
  aggregated: boolean;
  /** Allocates unique names for pre-aggregate CTEs. */
  nameFor(base: string): string;
}

/** Aggregates that repeated rows cannot change. */
const DUPLICATE_INSENSITIVE: ReadonlySet<Aggregate> = new Set(['count_distinct', 'min', 'max']);
/** Aggregates that can be computed per subtree and combined afterwards. */
const DECOMPOSABLE: ReadonlySet<Aggregate> = new Set(['count', 'sum', 'avg', 'min', 'max']);

export function plan(input: PlannerInput): LogicalPlan {
  const blocked = new Set<TreeNode>();
  for (;;) {
    const attempt = new Planner(input, blocked).run();
    if (attempt.ok) return attempt.plan;
    blocked.add(attempt.retryWithout);
  }
}

type Attempt = { ok: true; plan: LogicalPlan } | { ok: false; retryWithout: TreeNode };

class Planner {
  private readonly roles = new Map<TreeNode, NodeRole>();
  private readonly nodes: TreeNode[] = [];
  private readonly inner = new Set<TreeNode>();

  constructor(
    private readonly input: PlannerInput,
    private readonly blocked: ReadonlySet<TreeNode>,
  ) {}

  run(): Attempt {
    this.collectNodes();
    this.classifyNodes();
    const existsGroups = this.groupExistsFilters();
    const joinedConjuncts = this.input.where.filter((c) =>
      c.every((a) => this.roles.get(atomNode(a)!) !== 'exists'),
    );
    this.inferInnerJoins(joinedConjuncts, existsGroups);
    const { preaggregates, requests, outputs, collapsed } = this.collapseFanOuts(existsGroups);
    const strategies = new Map<string, Strategy>();
    const keyNodes = new Map<string, TreeNode>();
    for (const request of requests) {
      const decision = this.chooseStrategy(request, collapsed, preaggregates);
      if (!decision.ok) return decision;
      strategies.set(request.id, decision.strategy);
      if (decision.keyNode) keyNodes.set(request.id, decision.keyNode);
    }
    const local = (c: Conjunct) => c.every((a) => !collapsed.has(atomNode(a)!));
    const { pushed, residual } = this.pushDownFilters(joinedConjuncts.filter(local));
    const joinOrder = this.nodes.filter(
      (n) => n !== this.input.root && this.roles.get(n) !== 'exists' && !collapsed.has(n),
    );
    return {
      ok: true,
      plan: {
        root: this.input.root,
        dimensions: this.input.dimensions,
        sortOnly: this.input.sortOnly,
        requests,
        outputs,
        aggregated: this.input.aggregated,
        roles: this.roles,
        joinOrder,
        innerJoins: this.inner,
        pushed,
        residual,
        existsGroups: existsGroups.filter((g) => g.tops.every((t) => !collapsed.has(t.parent!))),
        preaggregates,
        strategies,
        keyNodes,
      },
    };
  }

  // ---- the tree ----------------------------------------------------------------------------

  /** The nodes this query uses (join pruning: nothing else is ever joined), in pre-order. */
  private collectNodes(): void {
    const used = new Set<TreeNode>();
    const add = (node: TreeNode) => {
      for (
        let n: TreeNode | undefined = node;
        n && !used.has(n);
        n = n === this.input.root ? undefined : n.parent
      )
        used.add(n);
    };
    add(this.input.root);
    for (const d of [...this.input.dimensions, ...this.input.sortOnly]) add(d.node);
    for (const r of this.input.requests) add(r.node);
    for (const c of this.input.where) for (const a of c) add(atomNode(a)!);
    const visit = (node: TreeNode) => {
      this.nodes.push(node);
      for (const child of node.children) if (used.has(child)) visit(child);
    };
    visit(this.input.root);
  }

  private parentOf(node: TreeNode): TreeNode | undefined {
    return node === this.input.root ? undefined : node.parent;
  }

  private isAncestorOrSelf(ancestor: TreeNode, node: TreeNode): boolean {
    return isAncestorOrSelf(ancestor, node, this.input.root);
  }

  private subtree(top: TreeNode): TreeNode[] {
    return this.nodes.filter((n) => this.isAncestorOrSelf(top, n));
  }

  // ---- pass: classify ----------------------------------------------------------------------

  private classifyNodes(): void {
    const grain = grainOf(
      [
        this.input.root,
        ...[...this.input.dimensions, ...this.input.sortOnly].map((d) => d.node),
        ...this.input.requests.map((r) => r.node),
      ],
      this.input.root,
    );
    for (const node of this.nodes) {
      if (grain.has(node)) this.roles.set(node, 'grain');
      else {
        const parentRole = this.roles.get(this.parentOf(node)!)!;
        const toOne = node.edge!.relationship !== 'one_to_many';
        this.roles.set(node, parentRole !== 'exists' && toOne ? 'lookup' : 'exists');
      }
    }
  }

  // ---- pass: EXISTS filters ----------------------------------------------------------------

  private existsTop(node: TreeNode): TreeNode {
    let n = node;
    while (this.roles.get(this.parentOf(n)!) === 'exists') n = this.parentOf(n)!;
    return n;
  }

  private groupExistsFilters(): ExistsGroup[] {
    const tops = this.nodes.filter(
      (n) => this.roles.get(n) === 'exists' && this.roles.get(this.parentOf(n)!) !== 'exists',
    );
    // Union-find over subtree tops: one conjunct touching two subtrees puts them in one EXISTS.
    const leader = new Map<TreeNode, TreeNode>(tops.map((t) => [t, t]));
    const find = (t: TreeNode): TreeNode => (leader.get(t) === t ? t : find(leader.get(t)!));
    const conjunctTops = new Map<Conjunct, TreeNode[]>();
    for (const conjunct of this.input.where) {
      const touched = [
        ...new Set(
          conjunct
            .map((a) => atomNode(a)!)
            .filter((n) => this.roles.get(n) === 'exists')
            .map((n) => this.existsTop(n)),
        ),
      ];
      conjunctTops.set(conjunct, touched);
      for (const t of touched.slice(1)) leader.set(find(t), find(touched[0]!));
    }
    const groups = new Map<TreeNode, ExistsGroup>();
    for (const top of tops) {
      const key = find(top);
      const group = groups.get(key) ?? { tops: [], nodes: [], conjuncts: [], whenNoRow: 'false' as const };
      group.tops.push(top);
      group.nodes.push(...this.subtree(top));
      groups.set(key, group);
    }
    for (const conjunct of this.input.where) {
      const touched = conjunctTops.get(conjunct)!;
      if (touched.length > 0) groups.get(find(touched[0]!))!.conjuncts.push(conjunct);
    }
    const result = [...groups.values()].filter((g) => g.conjuncts.length > 0);
    for (const group of result) {
      if (group.tops.length > 1 && group.conjuncts.length === 1) this.splitAlternatives(group);
      else if (group.tops.length === 1) this.splitOuterAtoms(group);
      group.whenNoRow = group.tops.length > 1 ? 'general' : this.whenNoRow(group);
      if (group.tops.length === 1 && group.conjuncts.some((c) => onlyNullKeysOf(group.tops[0]!, c)))
        group.relatedNeverMatches = true;
    }
    return result;
  }

  /** `any` over several filter-only subtrees: one EXISTS per subtree, ORed (plus joined atoms). */
  private splitAlternatives(group: ExistsGroup): void {
    const [conjunct] = group.conjuncts as [Conjunct];
    const alternatives = group.tops.map((top): ExistsGroup => {
      const nodes = this.subtree(top);
      const atoms = conjunct.filter((a) => nodes.includes(atomNode(a)!));
      const alternative: ExistsGroup = { tops: [top], nodes, conjuncts: [atoms], whenNoRow: 'false' };
      alternative.whenNoRow = this.whenNoRow(alternative);
      if (onlyNullKeysOf(top, atoms)) alternative.relatedNeverMatches = true;
      return alternative;
    });
    const inGroup = new Set(group.nodes);
    const outer = conjunct.filter((a) => !inGroup.has(atomNode(a)!));
    if (outer.length > 0) group.orElse = outer;
    group.alternatives = alternatives;
  }

  /**
   * One filter `outer OR related` over a subtree is `outer OR EXISTS(related)` (the left
   * join always yields at least one row, so the existential distributes over the OR).
   */
  private splitOuterAtoms(group: ExistsGroup): void {
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
  private whenNoRow(group: ExistsGroup): ExistsGroup['whenNoRow'] {
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

  // ---- pass: inner joins -------------------------------------------------------------------

  /** A node is inner-joinable when some filter fails on its NULL row (and so on its ancestors'). */
  private inferInnerJoins(conjuncts: Conjunct[], groups: ExistsGroup[]): void {
    const reject = (node: TreeNode) => {
      for (let n: TreeNode | undefined = node; n && n !== this.input.root; n = this.parentOf(n))
        this.inner.add(n);
    };
    for (const conjunct of conjuncts) {
      if (conjunct.some((a) => a.op === 'is_null')) continue;
      const nodes = conjunct.map((a) => atomNode(a)!);
      const common = nodes
        .slice(1)
        .reduce<TreeNode | undefined>((acc, n) => (acc ? this.commonAncestor(acc, n) : undefined), nodes[0]);
      if (common) reject(common);
    }
    for (const group of groups)
      if (group.whenNoRow === 'false' && !group.orElse) reject(this.parentOf(group.tops[0]!)!);
  }

  private commonAncestor(a: TreeNode, b: TreeNode): TreeNode | undefined {
    for (let n: TreeNode | undefined = a; n; n = this.parentOf(n)) if (this.isAncestorOrSelf(n, b)) return n;
    return undefined;
  }

  // ---- pass: push filters down -------------------------------------------------------------

  private pushDownFilters(conjuncts: Conjunct[]): {
    pushed: Map<TreeNode, Conjunct[]>;
    residual: Conjunct[];
  } {
    const pushed = new Map<TreeNode, Conjunct[]>();
    const residual: Conjunct[] = [];
    for (const conjunct of conjuncts) {
      const nodes = new Set(conjunct.map((a) => atomNode(a)!));
      const [only] = nodes;
      if (nodes.size === 1 && only && (only === this.input.root || this.inner.has(only))) {
        pushed.set(only, [...(pushed.get(only) ?? []), conjunct]);
      } else residual.push(conjunct);
    }
    return { pushed, residual };
  }

  // ---- pass: pre-aggregate fan-out subtrees ------------------------------------------------

  private collapseFanOuts(groups: ExistsGroup[]) {
    const preaggregates: Preaggregate[] = [];
    const collapsed = new Set<TreeNode>();
    const rewrites = new Map<string, MeasureOutput>();
    let requests = [...this.input.requests];
    if (this.input.aggregated) {
      for (const node of this.nodes) {
        if (collapsed.has(node) || !this.canCollapse(node, groups)) continue;
        const subtree = this.subtree(node);
        const pre = this.preaggregate(node, subtree, groups, requests, rewrites);
        preaggregates.push(pre.preaggregate);
        requests = [...requests.filter((r) => !subtree.includes(r.node)), ...pre.outerRequests];
        for (const n of subtree) collapsed.add(n);
      }
    }
    const rewrite = (o: MeasureOutput): MeasureOutput =>
      o.kind === 'request'
        ? (rewrites.get(o.id) ?? o)
        : o.kind === 'derived'
          ? { ...o, parts: o.parts.map(rewrite) }
          : o;
    const outputs = new Map([...this.input.outputs].map(([k, o]) => [k, rewrite(o)]));
    return { preaggregates, requests, outputs, collapsed };
  }

  private canCollapse(top: TreeNode, groups: ExistsGroup[]): boolean {
    if (top === this.input.root || this.blocked.has(top)) return false;
    if (this.roles.get(top) !== 'grain' || top.edge!.relationship !== 'one_to_many') return false;
    const inside = new Set(this.subtree(top));
    if ([...this.input.dimensions, ...this.input.sortOnly].some((d) => inside.has(d.node))) return false;
    const requests = this.input.requests.filter((r) => inside.has(r.node));
    if (requests.length === 0 || requests.some((r) => !DECOMPOSABLE.has(r.aggregate))) return false;
    // Partial aggregates add up per parent row only if each measure row belongs to one parent:
    // a many_to_one step below the top would let parents share a row (and count it twice).
    if (requests.some((r) => this.sharedBelow(top, r.node))) return false;
    const local = this.input.where.filter((c) => c.some((a) => inside.has(atomNode(a)!)));
    if (local.some((c) => c.some((a) => !inside.has(atomNode(a)!)))) return false;
    if (groups.some((g) => g.tops.some((t) => inside.has(t)) && g.tops.some((t) => !inside.has(t))))
      return false;
    return local.length === 0 || this.inner.has(top);
  }

  /** True when the path from `top` down to `node` has a many_to_one join. */
  private sharedBelow(top: TreeNode, node: TreeNode): boolean {
    for (let n: TreeNode | undefined = node; n && n !== top; n = this.parentOf(n)) {
      if (n.edge!.relationship === 'many_to_one') return true;
    }
    return false;
  }

  private preaggregate(
    top: TreeNode,
    subtree: TreeNode[],
    _groups: ExistsGroup[],
    requests: AggregateRequest[],
    rewrites: Map<string, MeasureOutput>,
  ): { preaggregate: Preaggregate; outerRequests: AggregateRequest[] } {
    const inside = new Set(subtree);
    const parent = this.parentOf(top)!;
    const name = this.input.nameFor(`${top.source.name}_per_${parent.source.name}`);
    const keyDimensions: Dimension[] = top.edge!.on.map((pair) => ({
      name: pair.to,
      node: top,
      field: top.source.fields.get(pair.to)!,
    }));
    const innerRequests: AggregateRequest[] = [];
    const outerRequests: AggregateRequest[] = [];
    const preaggregate: Preaggregate = {
      name,
      top,
      parent,
      inner: this.inner.has(top),
      keyColumns: keyDimensions.map((d) => d.name),
      plan: undefined as unknown as LogicalPlan,
    };
    const partial = (
      request: AggregateRequest,
      aggregate: Aggregate,
      suffix: string,
      combine: Aggregate,
    ): string => {
      const column = `${request.id}${suffix}`;
      innerRequests.push({ ...request, id: column, aggregate });
      outerRequests.push({
        id: `${name}.${column}`,
        node: parent,
        aggregate: combine,
        input: { kind: 'partial', preaggregate, column },
      });
      return `${name}.${column}`;
    };
    for (const request of requests.filter((r) => inside.has(r.node))) {
      switch (request.aggregate) {
        case 'count':
          rewrites.set(request.id, { kind: 'coalesce_zero', id: partial(request, 'count', '', 'sum') });
          break;
        case 'avg': {
          const numerator = partial(request, 'sum', '_sum', 'sum');
          const denominator = partial(request, 'count', '_count', 'sum');
          rewrites.set(request.id, { kind: 'ratio', numerator, denominator });
          break;
        }
        default:
          rewrites.set(request.id, {
            kind: 'request',
            id: partial(request, request.aggregate, '', request.aggregate),
          });
      }
    }
    preaggregate.plan = plan({
      root: top,
      dimensions: keyDimensions,
      sortOnly: [],
      requests: innerRequests,
      outputs: new Map(innerRequests.map((r) => [r.id, { kind: 'request', id: r.id }])),
      where: this.input.where.filter((c) => c.every((a) => inside.has(atomNode(a)!))),
      aggregated: true,
      nameFor: this.input.nameFor,
    });
    return { preaggregate, outerRequests };
  }

  // ---- pass: aggregate strategies ----------------------------------------------------------

  private chooseStrategy(
    request: AggregateRequest,
    collapsed: ReadonlySet<TreeNode>,
    preaggregates: Preaggregate[],
  ): { ok: true; strategy: Strategy; keyNode?: TreeNode } | { ok: false; retryWithout: TreeNode } {
    if (DUPLICATE_INSENSITIVE.has(request.aggregate) || this.rowsNeverRepeat(request.node, collapsed)) {
      return { ok: true, strategy: 'direct' };
    }
    if (request.node.source.primaryKey.length > 0)
      return { ok: true, strategy: 'once_per_key', keyNode: request.node };
    // A partial on a node without a key cannot be de-duplicated: aggregate its subtree in place.
    const input = request.input;
    const culprit = input.kind === 'partial' ? input.preaggregate.top : preaggregates[0]?.top;
    if (!culprit) throw new Error(`no primary key to de-duplicate ${request.id}`);
    return { ok: false, retryWithout: culprit };
  }

  /**
   * True when no join of the grain can repeat a row of `node`: walking away from it, every
   * join is to-one (going down a one_to_many, or up a many_to_one, would repeat it).
   */
  private rowsNeverRepeat(node: TreeNode, collapsed: ReadonlySet<TreeNode>): boolean {
    for (const other of this.nodes) {
      if (other === this.input.root || collapsed.has(other) || this.roles.get(other) !== 'grain') continue;
      const relationship = other.edge!.relationship;
      const onPathUp = this.isAncestorOrSelf(other, node);
      if (onPathUp ? relationship === 'many_to_one' : relationship === 'one_to_many') return false;
    }
    return true;
  }
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
