/**
 * The plan as operators (`strata compile --explain`): before the passes, the query as
 * written; after them, each pass's decision is visible as an operator. One case per pass,
 * on the semantic fixture shop.
 */
import { describe, expect, it } from 'vitest';
import { Compiler } from '../../src/core/compile.js';
import { buildModel } from '../../src/core/model/build.js';
import { fixtureFiles } from '../semantic/harness.js';

function explain(input: string) {
  const { model, diagnostics } = buildModel([
    ...fixtureFiles('sem'),
    { path: 'q.yaml', kind: 'input', text: `name: q\n${input}` },
  ]);
  expect(diagnostics).toEqual([]);
  return new Compiler(model).explain('q', { dialect: 'duckdb' });
}

describe('before the passes', () => {
  it('every source is left joined, every filter sits above the joins, one aggregate on top', () => {
    const { before } = explain(`from: customer
fields: [customer.name, orders.total_amount]
filters:
  - { field: orders.status, op: equals, value: shipped }
  - { field: orders.total_amount, op: gt, value: 100 }
sort: [{ field: orders.total_amount, direction: desc }]
limit: 2`);
    expect(before.split('\n')).toEqual([
      'Project customer.name, total_amount',
      '  -> Limit 2',
      '    -> Sort total_amount DESC NULLS LAST',
      '      -> Having orders.total_amount > 100',
      '        -> Aggregate by customer.name: sum(orders.total_amount) AS total_amount',
      "          -> Filter orders.status = 'shipped'",
      '            -> Left Join on orders.customer_id = customer.id',
      '              -> Scan customer sem.customer',
      '              -> Scan orders sem.orders',
    ]);
  });
});

describe('after the passes', () => {
  it('filter pushdown and inner-join inference: a filter on a joined source moves into its scan, the join becomes inner', () => {
    const { after } = explain(`from: orders
fields: [orders.id, customer.name]
filters: [{ field: customer.region_code, op: equals, value: EU }]`);
    expect(after).toContain('-> Inner Join on customer.id = orders.customer_id');
    expect(after).toContain("-> Scan customer sem.customer filter: customer.region_code = 'EU'");
    expect(after).not.toContain('Filter');
  });

  it('join pruning: a source that only filters is not joined, it is a semi join', () => {
    const { after } = explain(`from: customer
fields: [customer.name]
filters: [{ field: orders.status, op: equals, value: cancelled }]`);
    expect(after).toContain(
      "-> Semi Join (IN subquery) on orders.customer_id = customer.id where orders.status = 'cancelled'",
    );
    expect(after).not.toContain('Left Join');
  });

  it('anti-join selection: is_null on a related primary key asks for no related row', () => {
    const { after } = explain(`from: customer
fields: [customer.name]
filters: [{ field: orders.id, op: is_null }]`);
    expect(after).toContain('-> Anti Join (NOT EXISTS) on orders.customer_id = customer.id');
  });

  it('pre-aggregation at the grain of a fan-out: child measures are aggregated per join key, then joined', () => {
    const { after } = explain(`from: customer
fields: [customer.name, orders.total_amount]`);
    const lines = after.split('\n').map((l) => l.trim());
    const join = lines.findIndex((l) =>
      l.startsWith('-> Left Join on orders_per_customer.customer_id = customer.id'),
    );
    expect(join).toBeGreaterThan(0);
    expect(lines[join + 2]).toBe(
      '-> Aggregate by orders_per_customer.customer_id: sum(orders.total_amount) AS total_amount',
    );
  });

  it('fan-out safety: a parent measure grouped by a child dimension counts each parent row once', () => {
    const { after } = explain(`from: customer
fields: [orders.status, customer.total_credit]`);
    expect(after).toContain(
      '-> Distinct orders.status, customer.id (each customer row once for total_credit)',
    );
  });

  it('HAVING pushdown: a condition on a pre-aggregated measure of each root row filters inside that aggregate', () => {
    const { after } = explain(`from: customer
fields: [customer.id, order_item.total_qty]
filters: [{ field: order_item.total_qty, op: gt, value: 5 }]`);
    const lines = after.split('\n').map((l) => l.trim());
    expect(lines).toContain('-> Inner Join on orders_per_customer.customer_id = customer.id');
    const having = lines.indexOf('-> Having order_item.total_qty > 5');
    expect(lines[having + 1]).toMatch(/^-> Aggregate by orders_per_customer.customer_id:/);
    expect(lines[0]).not.toMatch(/Having/);
  });

  it('aggregate before lookups: measures of the root grouped by a lookup are aggregated per join key first', () => {
    const { after } = explain(`from: orders
fields: [customer.name, orders.total_amount]`);
    expect(after.split('\n')).toEqual([
      'Project customer.name, total_amount',
      '  -> Aggregate by customer.name: sum(orders.total_amount) AS total_amount',
      '    -> Left Join on customer.id = orders.customer_id',
      '      -> Aggregate by orders.customer_id: partial sum(orders.total_amount) AS total_amount',
      '        -> Scan orders sem.orders',
      '      -> Scan customer sem.customer',
    ]);
  });

  it('no aggregation before lookups when the root key is grouped by (every row its own group)', () => {
    const { after } = explain(`from: orders
fields: [orders.id, customer.name, orders.total_amount]`);
    expect(after).not.toContain('partial');
  });
});
