/**
 * Access policies on the §4 fixture (issue 8): a row filter holds wherever a source is read
 * (as the root, a joined source, a filter-only semi-join or EXISTS, a pre-aggregated fan-out,
 * a CDC source on its latest row), several roles see the union of their rows, and reading
 * what a caller may not read is refused at its position. Answers are compared with
 * hand-written SQL that applies the policy by hand, on DuckDB and PostgreSQL.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Caller } from '../../src/core/access/policy.js';
import { Compiler } from '../../src/core/compile.js';
import { compareDiagnostics, StrataError } from '../../src/core/diagnostics.js';
import { buildModel, type DefinitionFile } from '../../src/core/model/build.js';
import type { Engine } from '../../src/engines/engine.js';
import { memoryDuckDb, mysql, postgres, uniqueSchema } from '../support/databases.js';
import { fixtureFiles, loadFixtureData, runCase, type SemanticCase } from './harness.js';

/** Policies added to the fixture's sources. */
const POLICIES: Record<string, string> = {
  'orders.yaml': `access:
  roles: [staff]
  rowFilters:
    - { role: regional, filter: "ship_region = {user.region}" }
    - { role: big_spender, filter: "amount > 100" }
`,
  'customer.yaml': `  - name: spend_per_customer
    expression: "{orders.total_amount} / NULLIF({customer_count}, 0)"
access:
  fields: { credit_limit: [finance] }
`,
  'payment.yaml': `access:
  roles: [staff, finance]
  rowFilters:
    - { role: card_only, filter: "method = 'card'" }
`,
  'member.yaml': `access:
  rowFilters:
    - { role: tier_viewer, filter: "tier = {user.tier}" }
`,
};

function withPolicies(schema: string): DefinitionFile[] {
  return fixtureFiles(schema).map((f) => {
    const name = f.path.slice(f.path.lastIndexOf('/') + 1);
    const policy = POLICIES[name];
    if (!policy) return f;
    // customer.yaml's addition continues its measures list, which its joins follow.
    const text =
      name === 'customer.yaml'
        ? f.text.replace('joins:\n', `${policy.split('access:')[0]}joins:\n`) +
          `access:${policy.split('access:')[1]}`
        : f.text + policy;
    return { ...f, text };
  });
}

const regional = (region: string): Caller => ({ roles: ['regional'], attributes: { region } });

const CASES: SemanticCase[] = [
  {
    name: 'root_rows_filtered',
    caller: regional('EU'),
    input: `from: orders\nfields: [orders.id, orders.amount]`,
    expected: `SELECT id, amount FROM sem.orders WHERE ship_region = 'EU'`,
  },
  {
    name: 'unrestricted_role_sees_all',
    caller: { roles: ['staff'], attributes: {} },
    input: `from: orders\nfields: [orders.id]`,
    expected: `SELECT id FROM sem.orders`,
  },
  {
    name: 'joined_source_filtered',
    caller: regional('EU'),
    input: `from: customer\nfields: [customer.name, orders.id]`,
    expected: `SELECT c.name, o.id FROM sem.customer c
      LEFT JOIN (SELECT * FROM sem.orders WHERE ship_region = 'EU') o ON o.customer_id = c.id`,
  },
  {
    name: 'preaggregated_measures_filtered',
    caller: regional('NA'),
    input: `from: customer\nfields: [customer.name, orders.order_count, orders.total_amount]`,
    expected: `SELECT c.name, count(o.id), sum(o.amount) FROM sem.customer c
      LEFT JOIN (SELECT * FROM sem.orders WHERE ship_region = 'NA') o ON o.customer_id = c.id
      GROUP BY c.name`,
  },
  {
    name: 'parent_measure_by_filtered_child',
    caller: regional('EU'),
    input: `from: customer\nfields: [orders.status, customer.customer_count]`,
    expected: `SELECT k.status, count(DISTINCT k.cid) FROM (
        SELECT DISTINCT o.status, c.id AS cid FROM sem.customer c
        LEFT JOIN (SELECT * FROM sem.orders WHERE ship_region = 'EU') o ON o.customer_id = c.id) k
      GROUP BY k.status`,
  },
  {
    name: 'filter_only_semi_join_filtered',
    caller: regional('EU'),
    input: `from: customer\nfields: [customer.id]\nfilters:\n  - { field: orders.status, op: equals, value: shipped }`,
    expected: `SELECT c.id FROM sem.customer c WHERE EXISTS (
      SELECT 1 FROM sem.orders o WHERE o.customer_id = c.id AND o.ship_region = 'EU' AND o.status = 'shipped')`,
  },
  {
    name: 'filter_only_is_null_counts_hidden_rows_as_missing',
    caller: regional('AP'),
    input: `from: customer\nfields: [customer.id]\nfilters:\n  - { field: orders.amount, op: is_null }`,
    expected: `SELECT c.id FROM sem.customer c
      LEFT JOIN (SELECT * FROM sem.orders WHERE ship_region = 'AP') o ON o.customer_id = c.id
      WHERE o.amount IS NULL GROUP BY c.id`,
  },
  {
    name: 'filter_through_two_protected_sources',
    caller: { roles: ['regional', 'card_only'], attributes: { region: 'EU' } },
    input: `from: customer\nfields: [customer.id]\nfilters:\n  - { field: payment.amount, op: gt, value: 50 }`,
    expected: `SELECT c.id FROM sem.customer c WHERE EXISTS (
      SELECT 1 FROM sem.orders o JOIN sem.payment p ON p.order_id = o.id
      WHERE o.customer_id = c.id AND o.ship_region = 'EU' AND p.method = 'card' AND p.amount > 50)`,
  },
  {
    // A correlated EXISTS over two nodes: on MariaDB one derived table joined once (docs/dialects.md).
    name: 'correlated_filter_through_two_protected_sources',
    caller: { roles: ['regional', 'card_only'], attributes: { region: 'EU' } },
    input: `from: customer\nfields: [customer.id]\nfilters:\n  - { field: payment.amount, op: gt, valueFrom: customer.id }`,
    expected: `SELECT c.id FROM sem.customer c WHERE EXISTS (
      SELECT 1 FROM sem.orders o JOIN sem.payment p ON p.order_id = o.id
      WHERE o.customer_id = c.id AND o.ship_region = 'EU' AND p.method = 'card' AND p.amount > c.id)`,
  },
  {
    name: 'two_roles_see_the_union_of_their_rows',
    caller: { roles: ['regional', 'big_spender'], attributes: { region: 'NA' } },
    input: `from: orders\nfields: [orders.id]`,
    expected: `SELECT id FROM sem.orders WHERE ship_region = 'NA' OR amount > 100`,
  },
  {
    name: 'an_unrestricted_role_wins_the_union',
    caller: { roles: ['regional', 'staff'], attributes: { region: 'NA' } },
    input: `from: orders\nfields: [orders.id]`,
    expected: `SELECT id FROM sem.orders`,
  },
  {
    name: 'measures_of_a_filtered_grandchild',
    caller: { roles: ['big_spender', 'card_only'], attributes: {} },
    input: `from: customer\nfields: [customer.name, payment.total_paid, payment.payment_count]`,
    expected: `SELECT c.name, sum(p.amount), count(p.id) FROM sem.customer c
      LEFT JOIN (SELECT * FROM sem.orders WHERE amount > 100) o ON o.customer_id = c.id
      LEFT JOIN (SELECT * FROM sem.payment WHERE method = 'card') p ON p.order_id = o.id
      GROUP BY c.name`,
  },
  {
    name: 'an_unrestricted_role_on_one_source_only',
    caller: { roles: ['staff', 'card_only'], attributes: {} },
    input: `from: customer\nfields: [customer.name, payment.total_paid]`,
    expected: `SELECT c.name, sum(p.amount) FROM sem.customer c
      LEFT JOIN sem.orders o ON o.customer_id = c.id LEFT JOIN sem.payment p ON p.order_id = o.id
      GROUP BY c.name`,
  },
  {
    name: 'derived_measure_over_a_filtered_source',
    caller: regional('EU'),
    input: `from: customer\nfields: [customer.region_code, customer.spend_per_customer]`,
    expected: `SELECT c.region_code,
        (SELECT sum(o.amount) FROM sem.orders o JOIN sem.customer c2 ON c2.id = o.customer_id
          WHERE o.ship_region = 'EU' AND c2.region_code IS NOT DISTINCT FROM c.region_code)
        / NULLIF(count(*), 0)
      FROM sem.customer c GROUP BY c.region_code`,
    expectedOnMySql: `SELECT c.region_code,
        (SELECT sum(o.amount) FROM sem.orders o JOIN sem.customer c2 ON c2.id = o.customer_id
          WHERE o.ship_region = 'EU' AND c2.region_code <=> c.region_code)
        / NULLIF(count(*), 0)
      FROM sem.customer c GROUP BY c.region_code`,
  },
  {
    name: 'cdc_rows_filtered_on_the_latest_version',
    caller: { roles: ['tier_viewer'], attributes: { tier: 'gold' } },
    input: `from: member\nfields: [member.id, member.tier, member.points]`,
    expected: `SELECT id, tier, points FROM (
        SELECT *, row_number() OVER (PARTITION BY id ORDER BY _op_ts DESC, _seq DESC) AS v FROM sem.member_changes) x
      WHERE v = 1 AND _op <> 'd' AND tier = 'gold'`,
  },
  {
    name: 'measure_at_another_grain_over_visible_rows_only',
    caller: regional('EU'),
    input: `from: customer
fields: [customer.id]
filters:
  - { field: orders.order_count, per: customer, op: gt, value: 0 }
  - { field: customer.id, op: lte, valueFrom: { measure: orders.max_amount, per: customer, times: 0.05 } }`,
    expected: `SELECT c.id FROM sem.customer c
      WHERE (SELECT count(*) FROM sem.orders o WHERE o.customer_id = c.id AND o.ship_region = 'EU') > 0
        AND c.id <= 0.05 * (SELECT max(o.amount) FROM sem.orders o WHERE o.customer_id = c.id AND o.ship_region = 'EU')`,
  },
  {
    name: 'cdc_measure_filtered_on_the_latest_version',
    caller: { roles: ['tier_viewer'], attributes: { tier: 'silver' } },
    input: `from: customer\nfields: [customer.name, member.total_points]`,
    expected: `SELECT c.name, sum(m.points) FROM sem.customer c LEFT JOIN (
        SELECT * FROM (SELECT *, row_number() OVER (PARTITION BY id ORDER BY _op_ts DESC, _seq DESC) AS v
          FROM sem.member_changes) x WHERE v = 1 AND _op <> 'd' AND tier = 'silver') m ON m.id = c.id
      GROUP BY c.name`,
  },
];

const engines: [string, () => Promise<Engine>][] = [
  ['duckdb', memoryDuckDb],
  ['postgres', postgres],
  ['mysql', mysql],
];

describe.each(engines)('row filters on %s', (name, open) => {
  let engine: Engine;
  const schema = uniqueSchema('acl');
  beforeAll(async () => {
    engine = await open();
    await loadFixtureData(engine, schema);
  });
  afterAll(async () => {
    if (name === 'postgres') await engine.execute(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
    if (name === 'mysql') await engine.execute(`DROP DATABASE IF EXISTS ${schema}`);
    await engine.close();
  });
  it.each(CASES.map((c) => [c.name, c] as const))('%s', async (_name, c) =>
    runCase(engine, schema, c, withPolicies(schema)),
  );
});

/** What compiling an input for a caller reports, as `line:col: code: message`. */
function denials(input: string, caller: Caller): string[] {
  const { model, diagnostics } = buildModel([
    ...withPolicies('sem'),
    { path: 'q.yaml', kind: 'input', text: `name: q\n${input}\n` },
  ]);
  expect(diagnostics).toEqual([]);
  try {
    new Compiler(model).compile('q', { dialect: 'duckdb', caller });
    return [];
  } catch (e) {
    if (!(e instanceof StrataError)) throw e;
    return [...e.diagnostics]
      .sort(compareDiagnostics)
      .map((d) => `${d.location?.line}:${d.location?.col}: ${d.code}: ${d.message}`);
  }
}

describe('what a caller may not read is refused, where it is asked for', () => {
  const staff: Caller = { roles: ['staff'], attributes: {} };

  it('a restricted field, selected', () => {
    expect(denials('from: customer\nfields: [customer.name, customer.credit_limit]', staff)).toEqual([
      "3:25: access_denied: access denied: 'customer.credit_limit' is readable by roles finance only (the caller has staff)",
    ]);
  });

  it('a measure computed from a restricted field, and a filter and a sort on one', () => {
    const input = `from: customer
fields: [customer.name, customer.total_credit]
filters:
  - { field: customer.credit_limit, op: gt, value: 0 }
sort:
  - { field: customer.avg_credit, direction: desc }`;
    expect(denials(input, staff)).toEqual([
      "3:25: access_denied: access denied: 'customer.total_credit' reads 'customer.credit_limit', which is readable by roles finance only (the caller has staff)",
      "5:14: access_denied: access denied: 'customer.credit_limit' is readable by roles finance only (the caller has staff)",
      "7:14: access_denied: access denied: 'customer.avg_credit' reads 'customer.credit_limit', which is readable by roles finance only (the caller has staff)",
    ]);
  });

  it('a measure at another grain computed from a restricted field', () => {
    const input = `from: orders
fields: [orders.id]
filters:
  - { field: orders.amount, op: gt, valueFrom: { measure: customer.avg_credit } }`;
    expect(denials(input, staff)).toEqual([
      "5:59: access_denied: access denied: 'customer.avg_credit' reads 'customer.credit_limit', which is readable by roles finance only (the caller has staff)",
    ]);
  });

  it('a measure at another grain of a source the caller may not read, or grouped by one', () => {
    const noRole: Caller = { roles: [], attributes: {} };
    const input = `from: customer
fields: [customer.id]
filters:
  - { field: customer.id, op: lt, valueFrom: { measure: orders.order_count, per: customer } }`;
    expect(denials(input, noRole)).toEqual([
      "5:57: access_denied: access denied: source 'orders' is readable by roles big_spender, regional, staff only (the caller has no role)",
    ]);
    const grouped = `from: region
fields: [region.name]
filters:
  - { field: region.code, op: is_not_null }
  - field: customer.customer_count
    op: lt
    valueFrom: { measure: payment.payment_count, groupBy: orders, aggregate: max }`;
    expect(denials(grouped, { roles: ['card_only'], attributes: {} })).toMatchInlineSnapshot(`
      [
        "8:59: access_denied: access denied: source 'orders' is readable by roles big_spender, regional, staff only (the caller has card_only)",
      ]
    `);
  });

  it('the same input for a caller allowed to read it', () => {
    expect(
      denials('from: customer\nfields: [customer.name, customer.total_credit]', {
        roles: ['finance'],
        attributes: {},
      }),
    ).toEqual([]);
  });

  it('a protected source, for a caller without a role', () => {
    expect(denials('from: orders\nfields: [orders.id]', { roles: [], attributes: {} })).toEqual([
      "2:7: access_denied: access denied: source 'orders' is readable by roles big_spender, regional, staff only (the caller has no role)",
    ]);
  });

  it('a protected source on the join path to a public one', () => {
    expect(
      denials('from: customer\nfields: [customer.name, order_item.qty]', {
        roles: ['other'],
        attributes: {},
      }),
    ).toEqual([
      "3:25: access_denied: access denied: source 'orders' is readable by roles big_spender, regional, staff only (the caller has other)",
    ]);
  });

  it('a derived measure built on a protected source', () => {
    expect(
      denials('from: customer\nfields: [customer.spend_per_customer]', { roles: ['other'], attributes: {} }),
    ).toEqual([
      "3:10: access_denied: access denied: 'customer.spend_per_customer' reads source 'orders', which is readable by roles big_spender, regional, staff only (the caller has other)",
    ]);
  });

  it('a row filter whose attribute the caller lacks', () => {
    expect(denials('from: orders\nfields: [orders.id]', { roles: ['regional'], attributes: {} })).toEqual([
      "2:7: access_denied: access denied: the row filter of 'orders' for role regional needs the caller attribute 'region', which the caller does not have",
    ]);
  });

  it('an attribute is a value, never SQL', () => {
    const { model } = buildModel([
      ...withPolicies('sem'),
      { path: 'q.yaml', kind: 'input', text: 'name: q\nfrom: orders\nfields: [orders.id]\n' },
    ]);
    const sql = new Compiler(model).compile('q', {
      dialect: 'postgres',
      caller: regional("EU' OR '1' = '1"),
    }).sql;
    expect(sql).toContain(`(ship_region = 'EU'' OR ''1'' = ''1')`);
  });
});

describe('access policies are validated at their position', () => {
  const source = (access: string) => `name: s
table: t.s
primaryKey: id
fields:
  - { name: id, type: string }
  - { name: owner, type: string }
  - { name: shout, type: string, sql: upper(label) }
${access}`;
  const errors = (access: string) =>
    buildModel([{ path: 's.yaml', kind: 'source', text: source(access) }])
      .diagnostics.sort(compareDiagnostics)
      .map((d) => `${d.location?.line}:${d.location?.col}: ${d.code}`);

  it('row filters read only columns the fields read', () => {
    expect(
      errors('access:\n  rowFilters:\n    - { role: r, filter: "owner = {user.id} AND label <> secret" }\n'),
    ).toEqual(['10:58: unknown_column']);
  });

  it('placeholders are {user.<attribute>}', () => {
    expect(errors('access:\n  rowFilters:\n    - { role: r, filter: "owner = {vendor_id}" }\n')).toEqual([
      '10:35: sql_syntax',
    ]);
  });

  it('roles that may read a field are among the source readers', () => {
    expect(errors('access:\n  roles: [a]\n  fields: { owner: [a, b] }\n')).toEqual(['10:24: unknown_role']);
  });
});
