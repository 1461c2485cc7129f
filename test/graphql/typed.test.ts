/**
 * The typed API gives what `strata run` gives for the same question (issue 8): on the §4
 * fixture, on DuckDB and PostgreSQL, each typed query is compared with the rows of the
 * equivalent input definition compiled and run the usual way; nested one-to-many lists hold
 * each parent's related rows, measures never fan out, a level costs one query.
 */
import { graphql, type ExecutionResult } from 'graphql';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Caller } from '../../src/core/access/policy.js';
import { Compiler } from '../../src/core/compile.js';
import { buildModel } from '../../src/core/model/build.js';
import type { SemanticModel } from '../../src/core/model/types.js';
import type { Row } from '../../src/core/values/cell.js';
import { collect, type Engine } from '../../src/engines/engine.js';
import type { ApiContext } from '../../src/graphql/context.js';
import { buildApiSchema } from '../../src/graphql/schema.js';
import { memoryDuckDb, postgres, uniqueSchema } from '../support/databases.js';
import { fixtureFiles, loadFixtureData } from '../semantic/harness.js';

const TRUSTED: Caller = { roles: ['any'], attributes: {} };

/** Rows of an input (YAML body, without `name:`), compiled and run as `strata run` does, keyed by column. */
async function runInput(
  engine: Engine,
  _model: SemanticModel,
  input: string,
): Promise<Record<string, unknown>[]> {
  const { model, diagnostics } = buildModel([
    ...sourceFiles,
    { path: 'q.yaml', kind: 'input', text: `name: q\n${input}` },
  ]);
  expect(diagnostics).toEqual([]);
  const compiled = new Compiler(model).compile('q', { dialect: engine.dialect });
  const rows = await collect(engine.stream(compiled.sql));
  return rows.map((r) => Object.fromEntries(compiled.columns.map((c, i) => [c.name, r[i] ?? null])));
}

let sourceFiles: ReturnType<typeof fixtureFiles> = [];

function context(engine: Engine, model: SemanticModel, statements: string[]): ApiContext {
  return {
    caller: TRUSTED,
    model,
    compiler: new Compiler(model),
    engine: engine.name,
    limits: { maxRows: 1000 },
    signal: new AbortController().signal,
    run: async (compiled) => {
      statements.push(compiled.sql);
      const rows: Row[] = await collect(engine.stream(compiled.sql));
      return { rows, durationMs: 0, cached: false };
    },
    trackerRuns: async () => [],
    trackerFreshness: async () => {
      throw new Error('not in this test');
    },
    syncTracker: async () => {
      throw new Error('not in this test');
    },
  };
}

const sorted = <T>(rows: T[]) => [...rows].map((r) => JSON.stringify(r)).sort();

/** Typed values as the API serializes them: decimals as strings, the rest as they are. */
function asApi(rows: Record<string, unknown>[], decimals: string[] = []): Record<string, unknown>[] {
  return rows.map((row) =>
    Object.fromEntries(
      Object.entries(row).map(([k, v]) => [k, decimals.includes(k) && typeof v === 'number' ? String(v) : v]),
    ),
  );
}

const engines: [string, () => Promise<Engine>][] = [
  ['duckdb', memoryDuckDb],
  ['postgres', postgres],
];

describe.each(engines)('typed API answers equal strata run on %s', (name, open) => {
  let engine: Engine;
  let model: SemanticModel;
  const schema = uniqueSchema('gql');
  const query = async (source: string, statements: string[] = []): Promise<ExecutionResult> =>
    graphql({
      schema: buildApiSchema(model, ['any']),
      source,
      contextValue: context(engine, model, statements),
    });

  beforeAll(async () => {
    engine = await open();
    await loadFixtureData(engine, schema);
    sourceFiles = fixtureFiles(schema);
    model = buildModel(sourceFiles).model;
  });
  afterAll(async () => {
    if (name === 'postgres') await engine.execute(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
    await engine.close();
  });

  it('fields of a source', async () => {
    const result = await query('{ customer { id name credit_limit signup_date } }');
    expect(result.errors).toBeUndefined();
    const expected = await runInput(
      engine,
      model,
      'from: customer\nfields: [customer.id, customer.name, customer.credit_limit, customer.signup_date]',
    );
    expect(sorted(result.data!.customer as unknown[])).toEqual(sorted(asApi(expected, ['credit_limit'])));
  });

  it('a to-one join as a nested object, null when there is no related row', async () => {
    const result = await query('{ orders { id region { name } } }');
    expect(result.errors).toBeUndefined();
    const expected = await runInput(engine, model, 'from: orders\nfields: [orders.id, region.name]');
    const flat = (result.data!.orders as { id: number; region: { name: string } | null }[]).map((o) => ({
      id: o.id,
      name: o.region?.name ?? null,
    }));
    expect(sorted(flat)).toEqual(sorted(expected));
    expect(
      (result.data!.orders as { id: number; region: unknown }[]).find((o) => o.id === 11)!.region,
    ).toBeNull();
  });

  it('a one-to-many join as a list of each parent rows, in one more query', async () => {
    const statements: string[] = [];
    const result = await query('{ customer { id orders { id amount } } }', statements);
    expect(result.errors).toBeUndefined();
    expect(statements).toHaveLength(2);
    const expected = await runInput(
      engine,
      model,
      'from: orders\nfields: [orders.customer_id, orders.id, orders.amount]',
    );
    for (const customer of result.data!.customer as { id: number; orders: { id: number }[] }[]) {
      const mine = expected
        .filter((o) => o.customer_id === customer.id)
        .map((o) => ({ id: o.id, amount: o.amount }));
      expect(sorted(customer.orders)).toEqual(sorted(asApi(mine, ['amount'])));
    }
  });

  it('measures grouped by the selected fields, never fanned out', async () => {
    const result = await query('{ customer { region_code customer_count total_credit } }');
    expect(result.errors).toBeUndefined();
    const expected = await runInput(
      engine,
      model,
      'from: customer\nfields: [customer.region_code, customer.customer_count, customer.total_credit]',
    );
    expect(sorted(result.data!.customer as unknown[])).toEqual(sorted(asApi(expected, ['total_credit'])));
  });

  it('measures in a nested list, per parent', async () => {
    const result = await query('{ customer { id orders { status order_count total_amount } } }');
    expect(result.errors).toBeUndefined();
    const expected = await runInput(
      engine,
      model,
      'from: orders\nfields: [orders.customer_id, orders.status, orders.order_count, orders.total_amount]',
    );
    for (const customer of result.data!.customer as { id: number; orders: unknown[] }[]) {
      const mine = expected
        .filter((o) => o.customer_id === customer.id)
        .map(({ customer_id: _c, ...rest }) => rest);
      expect(sorted(customer.orders)).toEqual(sorted(asApi(mine, ['total_amount'])));
    }
  });

  it('a where through a join restricts without multiplying rows', async () => {
    const result = await query('{ customer(where: { orders: { status: { equals: "shipped" } } }) { id } }');
    expect(result.errors).toBeUndefined();
    const expected = await runInput(
      engine,
      model,
      'from: customer\nfields: [customer.id]\nfilters:\n  - { field: orders.status, op: equals, value: shipped }',
    );
    expect(sorted(result.data!.customer as unknown[])).toEqual(sorted(expected));
  });

  it('where with OR, orderBy, limit and offset', async () => {
    const result = await query(
      '{ orders(where: { OR: [{ status: { equals: "open" } }, { amount: { gt: "100" } }] }, orderBy: [{ field: id, direction: DESC }], limit: 2, offset: 1) { id } }',
    );
    expect(result.errors).toBeUndefined();
    const expected = await runInput(
      engine,
      model,
      'from: orders\nfields: [orders.id]\nfilters:\n  - any:\n      - { field: orders.status, op: equals, value: open }\n      - { field: orders.amount, op: gt, value: 100 }\nsort:\n  - { field: orders.id, direction: desc }',
    );
    expect(result.data!.orders).toEqual(expected.slice(1, 3));
  });

  it('NOT negates its conditions, ANDed, three-valued: a null comparison stays unmatched', async () => {
    const result = await query(
      '{ orders(where: { NOT: { status: { equals: "shipped" }, amount: { lt: "100" } } }) { id } }',
    );
    expect(result.errors).toBeUndefined();
    const { rows } = await engine.query(
      `SELECT id FROM ${schema}.orders WHERE NOT (status = 'shipped' AND amount < 100)`,
    );
    expect(rows.length).toBeGreaterThan(1);
    expect(sorted(result.data!.orders as unknown[])).toEqual(sorted(rows.map(([id]) => ({ id }))));
  });

  it('like: a case-sensitive pattern, compared with hand-written LIKE', async () => {
    const result = await query('{ orders(where: { status: { like: "%ipp%" } }) { id } }');
    expect(result.errors).toBeUndefined();
    const { rows } = await engine.query(`SELECT id FROM ${schema}.orders WHERE status LIKE '%ipp%'`);
    expect(rows.length).toBeGreaterThan(0);
    expect(sorted(result.data!.orders as unknown[])).toEqual(sorted(rows.map(([id]) => ({ id }))));
    const upper = await query('{ orders(where: { status: { like: "%IPP%" } }) { id } }');
    expect(upper.data!.orders).toEqual([]);
  });

  it('an OR alternative with several conditions ANDs them (an `all` inside `any`)', async () => {
    const result = await query(
      '{ orders(where: { OR: [{ status: { equals: "shipped" }, amount: { lt: "100" } }, { status: { is_null: true } }] }) { id } }',
    );
    expect(result.errors).toBeUndefined();
    const expected = await runInput(
      engine,
      model,
      `from: orders
fields: [orders.id]
filters:
  - any:
      - all:
          - { field: orders.status, op: equals, value: shipped }
          - { field: orders.amount, op: lt, value: 100 }
      - { field: orders.status, op: is_null }`,
    );
    expect(expected.length).toBeGreaterThan(1);
    expect(sorted(result.data!.orders as unknown[])).toEqual(sorted(expected));
  });

  it('a level with more rows than allowed is an error, never a silent cut', async () => {
    const small = { ...context(engine, model, []), limits: { maxRows: 2 } };
    const schema = buildApiSchema(model, ['any']);
    const tooMany = await graphql({ schema, source: '{ customer { id } }', contextValue: small });
    expect(tooMany.errors?.map((e) => e.extensions.code)).toEqual(['TOO_MANY_ROWS']);
    const paged = await graphql({ schema, source: '{ customer(limit: 2) { id } }', contextValue: small });
    expect(paged.errors).toBeUndefined();
    expect(paged.data!.customer).toHaveLength(2);
  });

  it('a CDC source reads its latest rows', async () => {
    const result = await query('{ member { id tier points } }');
    expect(result.errors).toBeUndefined();
    const expected = await runInput(
      engine,
      model,
      'from: member\nfields: [member.id, member.tier, member.points]',
    );
    expect(sorted(result.data!.member as unknown[])).toEqual(sorted(expected));
  });
});
