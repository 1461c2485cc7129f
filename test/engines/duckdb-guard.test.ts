/**
 * DuckDB 1.5.6 answers wrongly when a CTE is read by two IN-subqueries and the query has a
 * LIMIT (its common_subplan optimizer; see STACK.md). Strata materializes every CTE that a
 * query reads more than once; these tests pin both the engine bug and the guard.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Compiler } from '../../src/core/compile.js';
import { buildModel } from '../../src/core/model/build.js';
import type { DuckDbEngine } from '../../src/engines/duckdb.js';
import { memoryDuckDb } from '../support/databases.js';
import { fixtureFiles } from '../semantic/harness.js';

const REPRO = (materialized: boolean) => `
  WITH base AS ${materialized ? 'MATERIALIZED ' : ''}(SELECT a.id AS aid, b.id AS bid FROM a LEFT JOIN b ON b.id = a.b_id LEFT JOIN c ON c.a_id = a.id)
  SELECT (SELECT count(DISTINCT name) FROM a WHERE id IN (SELECT aid FROM base)) AS n_names,
         (SELECT sum(qty) FROM b WHERE id IN (SELECT bid FROM base) AND qty > 100) AS total
  LIMIT 2`;

describe('DuckDB shared-CTE guard', () => {
  let duck: DuckDbEngine;
  beforeAll(async () => {
    duck = await memoryDuckDb();
    await duck.execute(
      `CREATE TABLE a AS SELECT * FROM (VALUES (1, 'x', 10), (2, 'y', 20), (3, 'y', 30)) v(id, name, b_id)`,
    );
    await duck.execute(`CREATE TABLE b AS SELECT * FROM (VALUES (10, 5), (20, 6), (99, 7)) v(id, qty)`);
    await duck.execute(`CREATE TABLE c AS SELECT * FROM (VALUES (1), (2)) v(a_id)`);
  });
  afterAll(() => duck.close());

  it('a materialized CTE gives the right answer where the inlined one does not', async () => {
    const right = (await duck.query(REPRO(true))).rows;
    expect(right).toEqual([[2, null]]);
    // If this starts to pass, DuckDB fixed the optimizer and the guard may go.
    expect((await duck.query(REPRO(false))).rows).not.toEqual(right);
  });

  it('compiled SQL materializes a scan that two subqueries read', () => {
    const input = `name: q
from: customer
fields: [customer.id]
filters:
  - { field: orders.shipped_date, op: is_null }
limit: 2`;
    const { model } = buildModel([...fixtureFiles('sem'), { path: 'q.yaml', kind: 'input', text: input }]);
    const sql = new Compiler(model).compile('q', { dialect: 'duckdb' }).sql;
    expect(sql).toMatch(/orders AS MATERIALIZED \(/);
    expect(sql.match(/FROM orders\b/g)).toHaveLength(2);
    expect(new Compiler(model).compile('q', { dialect: 'trino' }).sql).not.toMatch(/MATERIALIZED/);
  });
});
