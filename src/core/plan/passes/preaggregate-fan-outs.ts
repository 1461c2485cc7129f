/**
 * Pre-aggregation at each source's grain (fan-out safety by construction): a one-to-many
 * subtree whose measures are all that the query reads from it is aggregated on its own, per
 * its join key, and joined one row per key; its measures become partial aggregates that the
 * query combines (counts add up, averages are sums over counts).
 */
import type { Aggregate } from '../../definitions/schema.js';
import {
  atomNodes,
  type AggregateRequest,
  type Dimension,
  type LogicalPlan,
  type MeasureOutput,
  type Preaggregate,
  rowNodesOf,
} from '../logical-plan.js';
import { atomsOf } from '../condition.js';
import { ancestorsOrSelf } from '../grain.js';
import type { TreeNode } from '../spec.js';
import { DECOMPOSABLE, DUPLICATE_INSENSITIVE, parentOf, subtree, type PlanState } from './state.js';

export function preaggregateFanOuts(state: PlanState): PlanState {
  const preaggregates: Preaggregate[] = [];
  const collapsed = new Set<TreeNode>();
  const rewrites = new Map<string, MeasureOutput>();
  let requests = [...state.input.requests];
  if (state.input.aggregated) {
    for (const node of state.nodes) {
      if (collapsed.has(node) || !canCollapse(state, node)) continue;
      const nodes = subtree(state, node);
      const pre = preaggregate(state, node, requests, rewrites);
      preaggregates.push(pre.preaggregate);
      requests = [...requests.filter((r) => !nodes.includes(r.node)), ...pre.outerRequests];
      for (const n of nodes) collapsed.add(n);
    }
  }
  const rewrite = (o: MeasureOutput): MeasureOutput =>
    o.kind === 'request'
      ? (rewrites.get(o.id) ?? o)
      : o.kind === 'derived'
        ? { ...o, parts: o.parts.map(rewrite) }
        : o;
  const outputs = new Map([...state.input.outputs].map(([k, o]) => [k, rewrite(o)]));
  // Filters inside a collapsed subtree are its own plan's business now.
  const conditions = state.conditions.filter((c) => rowNodesOf(c).some((n) => !collapsed.has(n)));
  return { ...state, preaggregates, requests, outputs, collapsed, conditions };
}

function canCollapse(state: PlanState, top: TreeNode): boolean {
  const { input } = state;
  if (top === input.root || state.blocked.has(top)) return false;
  if (state.roles.get(top) !== 'grain' || top.edge!.relationship !== 'one_to_many') return false;
  const inside = new Set(subtree(state, top));
  if ([...input.dimensions, ...input.sortOnly].some((d) => inside.has(d.node))) return false;
  const requests = input.requests.filter((r) => inside.has(r.node));
  if (requests.length === 0 || requests.some((r) => !DECOMPOSABLE.has(r.aggregate))) return false;
  const repeatedOutside = input.requests.some(
    (r) => !inside.has(r.node) && !DUPLICATE_INSENSITIVE.has(r.aggregate),
  );
  if (input.nested && !repeatedOutside) return false;
  // Partial aggregates add up per parent row only if each measure row belongs to one parent:
  // a many_to_one step below the top would let parents share a row (and count it twice).
  if (requests.some((r) => sharedBelow(top, r.node))) return false;
  const local = state.conditions.map(rowNodesOf).filter((nodes) => nodes.some((n) => inside.has(n)));
  if (local.some((nodes) => nodes.some((n) => !inside.has(n)))) return false;
  return local.length === 0 || state.inner.has(top);
}

/** True when the path from `top` down to `node` has a many_to_one join. */
function sharedBelow(top: TreeNode, node: TreeNode): boolean {
  return ancestorsOrSelf(node, top).some((n) => n !== top && n.edge!.relationship === 'many_to_one');
}

function preaggregate(
  state: PlanState,
  top: TreeNode,
  requests: AggregateRequest[],
  rewrites: Map<string, MeasureOutput>,
): { preaggregate: Preaggregate; outerRequests: AggregateRequest[] } {
  const inside = new Set(subtree(state, top));
  const parent = parentOf(state, top)!;
  const name = state.input.nameFor(`${top.source.name}_per_${parent.source.name}`);
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
    inner: state.inner.has(top),
    keyColumns: keyDimensions.map((d) => d.name),
    havingKeys: new Map(),
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
  preaggregate.plan = state.planNested({
    root: top,
    dimensions: keyDimensions,
    sortOnly: [],
    requests: innerRequests,
    outputs: new Map(innerRequests.map((r) => [r.id, { kind: 'request', id: r.id }])),
    where: state.input.where.filter((c) => atomsOf(c).every((a) => atomNodes(a).every((n) => inside.has(n)))),
    shape: {
      columns: [
        ...keyDimensions.map((dimension) => ({ kind: 'dimension' as const, dimension })),
        ...innerRequests.map((r) => ({
          kind: 'measure' as const,
          name: r.id.slice(r.id.lastIndexOf('.') + 1),
          useKey: r.id,
        })),
      ],
      having: [],
      sort: [],
      useKeyOf: (target) => preaggregate.havingKeys.get(target)!,
    },
    aggregated: true,
    nested: true,
    nameFor: state.input.nameFor,
  });
  return { preaggregate, outerRequests };
}
