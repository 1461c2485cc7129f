/**
 * Each optimizer pass on its own: the passes before it run, then it, and what it decided is
 * checked on the state (src/core/plan/passes/). Inputs over the semantic fixture shop.
 */
import { describe, expect, it } from 'vitest';
import { Compiler } from '../../src/core/compile.js';
import { buildModel } from '../../src/core/model/build.js';
import { PASSES, plan, runPasses } from '../../src/core/plan/planner.js';
import { initialState, type PlanState } from '../../src/core/plan/passes/state.js';
import type { TreeNode } from '../../src/core/plan/spec.js';
import { groupsOf } from '../../src/core/plan/logical-plan.js';
import { fixtureFiles } from '../semantic/harness.js';

/** The state right after `pass` (and every pass before it) for an input. */
function after(pass: string, input: string): PlanState {
  const { model, diagnostics } = buildModel([
    ...fixtureFiles('sem'),
    { path: 'q.yaml', kind: 'input', text: `name: q\n${input}` },
  ]);
  expect(diagnostics).toEqual([]);
  const index = PASSES.findIndex((p) => p.name === pass);
  expect(index).toBeGreaterThanOrEqual(0);
  const plannerInput = new Compiler(model).plannerInput('q', { dialect: 'duckdb' });
  return runPasses(initialState(plannerInput, new Set(), plan), PASSES.slice(0, index + 1));
}

const names = (nodes: Iterable<TreeNode>) => [...nodes].map((n) => n.source.name);

describe('pruneJoins', () => {
  it('keeps only the sources the query names and the paths to them', () => {
    const state = after('pruneJoins', `from: customer\nfields: [customer.name, region.name]`);
    expect(names(state.nodes)).toEqual(['customer', 'region']);
  });
});

describe('classifyNodes', () => {
  it('grain for what is selected, lookups for to-one filters, exists for one-to-many filters', () => {
    const state = after(
      'classifyNodes',
      `from: customer
fields: [customer.name, orders.total_amount]
filters:
  - { field: region.name, op: equals, value: Europe }
  - { field: payment.method, op: equals, value: card }`,
    );
    const roles = Object.fromEntries([...state.roles].map(([n, r]) => [n.source.name, r]));
    expect(roles).toEqual({ customer: 'grain', region: 'lookup', orders: 'grain', payment: 'exists' });
  });
});

describe('selectExists', () => {
  it('a filter on a filter-only fan-out is an EXISTS group; is_null on its key an anti-join', () => {
    const semi = after(
      'selectExists',
      `from: customer\nfields: [customer.name]\nfilters: [{ field: orders.status, op: equals, value: open }]`,
    );
    const groups = semi.conditions.flatMap(groupsOf);
    expect(groups).toHaveLength(1);
    expect(groups[0]!.whenNoRow).toBe('false');
    expect(semi.conditions.filter((c) => groupsOf(c).length === 0)).toEqual([]);
    const anti = after(
      'selectExists',
      `from: customer\nfields: [customer.name]\nfilters: [{ field: orders.id, op: is_null }]`,
    );
    expect(anti.conditions.flatMap(groupsOf)[0]!.relatedNeverMatches).toBe(true);
  });

  it('cuts EXISTS groups from a tree: an OR distributes, an AND holds on one related row', () => {
    const state = after(
      'selectExists',
      `from: customer
fields: [customer.name]
filters:
  - any:
      - { field: customer.name, op: equals, value: x }
      - all:
          - { field: orders.status, op: equals, value: open }
          - not: { field: orders.id, op: is_not_null }`,
    );
    const [condition] = state.conditions;
    expect(condition!.kind).toBe('or');
    const [group] = state.conditions.flatMap(groupsOf);
    expect(group!.condition.kind).toBe('and');
    // On the NULL row `status = open` is unknown: no related row does not pass.
    expect(group!.whenNoRow).toBe('false');
    expect(state.conditions.flatMap(groupsOf)).toHaveLength(1);
  });
});

describe('inferInnerJoins', () => {
  it('a filter rejecting the NULL row makes the join (and its ancestors) inner; is_null does not', () => {
    const inner = after(
      'inferInnerJoins',
      `from: order_item\nfields: [order_item.id]\nfilters: [{ field: region.name, op: equals, value: Europe }]`,
    );
    expect(names(inner.inner).sort()).toEqual(['orders', 'region']);
    const left = after(
      'inferInnerJoins',
      `from: order_item\nfields: [order_item.id]\nfilters: [{ field: region.name, op: is_null }]`,
    );
    expect(names(left.inner)).toEqual([]);
  });

  it('a tree rejects the NULL row when it cannot be TRUE with those fields NULL (three-valued)', () => {
    const innerFor = (filters: string) =>
      names(
        after('inferInnerJoins', `from: order_item\nfields: [order_item.id]\nfilters: ${filters}`).inner,
      ).sort();
    // NOT of a comparison is unknown on NULL: rejected.
    expect(innerFor(`[{ not: { field: region.name, op: equals, value: Europe } }]`)).toEqual([
      'orders',
      'region',
    ]);
    // NOT of is_not_null is TRUE on NULL: kept left.
    expect(innerFor(`[{ not: { field: region.name, op: is_not_null } }]`)).toEqual([]);
    // (region = x AND order ...) OR (region = y): region's NULL row fails both branches; orders' not.
    expect(
      innerFor(`[{ any: [{ all: [{ field: region.name, op: equals, value: A }, { field: orders.status, op: equals, value: open }] },
                        { field: region.name, op: equals, value: B }] }]`),
    ).toEqual(['orders', 'region']);
    // An OR with a branch free of region can be TRUE on its NULL row.
    expect(
      innerFor(
        `[{ any: [{ field: region.name, op: equals, value: A }, { field: order_item.id, op: gt, value: 1 }] }]`,
      ),
    ).toEqual([]);
  });
});

describe('preaggregateFanOuts', () => {
  it('a measure-only one-to-many subtree is aggregated per join key; its measures become partials', () => {
    const state = after(
      'preaggregateFanOuts',
      `from: customer\nfields: [customer.name, orders.total_amount, orders.avg_amount]`,
    );
    expect(state.preaggregates.map((p) => p.name)).toEqual(['orders_per_customer']);
    expect(names(state.collapsed)).toEqual(['orders']);
    expect([...state.outputs.values()].map((o) => o.kind).sort()).toEqual(['ratio', 'request']);
  });

  it('inside a pre-aggregate, a nested fan-out is not aggregated again unless another measure needs it', () => {
    const state = after(
      'preaggregateFanOuts',
      `from: customer\nfields: [customer.name, order_item.total_qty]`,
    );
    const [pre] = state.preaggregates;
    expect(pre!.plan.preaggregates).toEqual([]);
  });
});

describe('chooseStrategies', () => {
  it('direct where rows never repeat; once per key, by distinct rows, where they do', () => {
    const state = after(
      'chooseStrategies',
      `from: customer\nfields: [orders.status, customer.total_credit, customer.customer_count]`,
    );
    expect([...state.strategies.values()]).toEqual(['once_per_key', 'once_per_key']);
    expect(state.deduplication).toBe('distinct_rows');
    const mixed = after(
      'chooseStrategies',
      `from: customer\nfields: [orders.status, customer.total_credit, orders.total_amount]`,
    );
    expect(mixed.deduplication).toBe('aggregate_per_source');
    const direct = after('chooseStrategies', `from: orders\nfields: [customer.name, orders.total_amount]`);
    expect([...direct.strategies.values()]).toEqual(['direct']);
  });
});

describe('pushDownHaving', () => {
  it('moves a condition on a pre-aggregated measure into it when each group is one root row', () => {
    const pushed = after(
      'pushDownHaving',
      `from: customer\nfields: [customer.id, orders.total_amount]\nfilters: [{ field: orders.total_amount, op: gt, value: 100 }]`,
    );
    expect(pushed.having).toEqual([]);
    expect(pushed.preaggregates[0]!.having).toHaveLength(1);
    expect(pushed.preaggregates[0]!.inner).toBe(true);
  });

  it('keeps it when groups span root rows, and for counts (0 without rows) and is_null', () => {
    for (const input of [
      `from: customer\nfields: [customer.name, orders.total_amount]\nfilters: [{ field: orders.total_amount, op: gt, value: 100 }]`,
      `from: customer\nfields: [customer.id, orders.order_count]\nfilters: [{ field: orders.order_count, op: lt, value: 2 }]`,
      `from: customer\nfields: [customer.id, orders.total_amount]\nfilters: [{ field: orders.total_amount, op: is_null }]`,
    ]) {
      const state = after('pushDownHaving', input);
      expect(state.having).toHaveLength(1);
      expect(state.preaggregates[0]!.inner).toBe(false);
    }
  });
});

describe('pushDownFilters', () => {
  it('a filter on the root or an inner-joined source goes into its scan; one across sources stays', () => {
    const state = after(
      'pushDownFilters',
      `from: orders
fields: [orders.id]
filters:
  - { field: orders.status, op: equals, value: open }
  - { field: customer.name, op: equals, value: Ada }
  - any: [{ field: orders.amount, op: gt, value: 5 }, { field: region.name, op: is_null }]`,
    );
    expect(names(state.pushed.keys()).sort()).toEqual(['customer', 'orders']);
    expect(state.residual).toHaveLength(1);
  });
});

describe('orderJoins', () => {
  it('joins filtered inner joins first, each source after the one it hangs off', () => {
    const state = after(
      'orderJoins',
      `from: order_item
fields: [region.name, order_item.total_qty]
filters:
  - { field: product.category, op: equals, value: home }`,
    );
    expect(names(state.joinOrder)).toEqual(['product', 'orders', 'region']);
  });
});

describe('aggregateBeforeLookups', () => {
  it('aggregates the root per the columns the query reads when only left-joined lookups group it', () => {
    const state = after(
      'aggregateBeforeLookups',
      `from: orders\nfields: [customer.name, region.name, orders.total_amount]`,
    );
    expect(state.eagerRoot).toEqual({ columns: ['customer_id', 'ship_region'] });
  });

  it('not when the root key is grouped by, a lookup filters (inner join), or a fan-out is joined', () => {
    for (const input of [
      `from: orders\nfields: [orders.id, customer.name, orders.total_amount]`,
      `from: orders\nfields: [customer.name, orders.total_amount]\nfilters: [{ field: customer.name, op: equals, value: Ada }]`,
      `from: orders\nfields: [customer.name, orders.total_amount, payment.total_paid]`,
    ])
      expect(after('aggregateBeforeLookups', input).eagerRoot).toBeUndefined();
  });
});

describe('oneRowPerGroup', () => {
  it('leaves the aggregation out when the root key is grouped by and no join repeats a root row', () => {
    expect(
      after('oneRowPerGroup', `from: customer\nfields: [customer.id, region.name, orders.total_amount]`)
        .oneRowPerGroup,
    ).toBe(true);
    for (const input of [
      `from: customer\nfields: [customer.name, orders.total_amount]`,
      `from: customer\nfields: [customer.id, orders.status, customer.total_credit]`,
    ])
      expect(after('oneRowPerGroup', input).oneRowPerGroup).toBeUndefined();
  });
});

describe('the pass list', () => {
  it('names every pass once, in the order logical-plan.ts documents', () => {
    expect(PASSES.map((p) => p.name)).toEqual([
      'pruneJoins',
      'classifyNodes',
      'selectExists',
      'inferInnerJoins',
      'preaggregateFanOuts',
      'chooseStrategies',
      'pushDownHaving',
      'pushDownFilters',
      'orderJoins',
      'aggregateBeforeLookups',
      'oneRowPerGroup',
    ]);
  });
});

describe('comparisons of two fields (valueFrom) in the passes', () => {
  it('pruneJoins keeps both sides; inferInnerJoins makes both inner', () => {
    const state = after(
      'inferInnerJoins',
      `from: orders
fields: [orders.id]
filters:
  - { field: customer.region_code, op: equals, valueFrom: region.code }`,
    );
    expect(names(state.nodes).sort()).toEqual(['customer', 'orders', 'region']);
    expect(names(state.inner).sort()).toEqual(['customer', 'region']);
  });

  it('under any, a comparison next to is_null of one side leaves that join left', () => {
    const state = after(
      'inferInnerJoins',
      `from: orders
fields: [orders.id]
filters:
  - any:
      - { field: customer.region_code, op: equals, valueFrom: orders.ship_region }
      - { field: customer.id, op: is_null }`,
    );
    expect(names(state.inner)).toEqual([]);
  });

  it('selectExists: inside one subtree uncorrelated, with the joined row correlated, two subtrees tied', () => {
    const groupOf = (filter: string) => {
      const state = after('selectExists', `from: orders\nfields: [orders.id]\nfilters:\n  - ${filter}`);
      const groups = state.conditions.flatMap(groupsOf);
      expect(groups).toHaveLength(1);
      return groups[0]!;
    };
    const inside = groupOf('{ field: order_item.qty, op: lt, valueFrom: order_item.price }');
    expect([inside.form, inside.whenNoRow]).toEqual(['in_subquery', 'false']);
    const correlated = groupOf('not: { field: payment.amount, op: lt, valueFrom: orders.amount }');
    expect([correlated.form, correlated.whenNoRow]).toEqual(['exists', 'false']);
    const tied = groupOf('{ field: payment.amount, op: equals, valueFrom: order_item.price }');
    expect(names(tied.tops).sort()).toEqual(['order_item', 'payment']);
    expect(tied.whenNoRow).toBe('general');
  });

  it('pushDownFilters: one source into its scan; two sources stay above their join', () => {
    const state = after(
      'pushDownFilters',
      `from: orders
fields: [orders.id]
filters:
  - { field: orders.amount, op: gt, valueFrom: orders.id }
  - { field: customer.credit_limit, op: gte, valueFrom: orders.amount }`,
    );
    expect(names(state.pushed.keys())).toEqual(['orders']);
    expect(state.residual).toHaveLength(1);
  });
});
