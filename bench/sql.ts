/**
 * `npm run bench:sql`: the SQL Strata generates against hand-written SQL for the same
 * answers, in one DuckDB process, on a deterministic shop (the semantic tests' definitions,
 * `test/semantic/fixture`, over generated data: 200k customers, 2M orders, 6M order items,
 * 2M payments). Each question's two queries run alternately, after a warm-up; the answers
 * are checked equal first. Prints per-question ratios (median Strata / median hand-written)
 * and their geometric mean.
 *
 * The questions are the patterns the second-generation compiler (issue 10) must make as fast
 * as hand-written SQL; this is its baseline, measured before the refactor.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { DuckDBInstance } from '@duckdb/node-api';
import { Compiler } from '../src/core/compile.js';
import { buildModel, type DefinitionFile } from '../src/core/model/build.js';

const SCALE = Number(process.env.BENCH_SQL_SCALE ?? 1);
const RUNS = Number(process.env.BENCH_SQL_RUNS ?? 7);
const FIXTURE = join(import.meta.dirname, '..', 'test', 'semantic', 'fixture', 'definitions', 'sources');

const customers = Math.round(200_000 * SCALE);
const orders = customers * 10;

/** The shop, generated in DuckDB (deterministic: every value is a function of its row number). */
const DATA = `
CREATE SCHEMA sem;
CREATE TABLE sem.region AS SELECT * FROM (VALUES ('EU', 'Europe'), ('NA', 'North America'), ('AP', 'Asia Pacific')) r(code, name);
CREATE TABLE sem.customer AS SELECT i::BIGINT AS id, 'customer ' || (i % 50000) AS name,
  CASE i % 4 WHEN 0 THEN 'EU' WHEN 1 THEN 'NA' WHEN 2 THEN 'AP' END AS region_code,
  ((i * 37) % 10000)::DECIMAL(12,2) AS credit_limit, DATE '2026-01-01' + (i % 365)::INTEGER AS signup_date
  FROM range(1, ${customers} + 1) t(i);
CREATE TABLE sem.orders AS SELECT i::BIGINT AS id, (1 + (i * 7919) % ${Math.floor(customers * 0.8)})::BIGINT AS customer_id,
  CASE i % 10 WHEN 0 THEN 'cancelled' WHEN 1 THEN 'open' WHEN 2 THEN NULL ELSE 'shipped' END AS status,
  ((i * 13) % 100000 / 100.0)::DECIMAL(12,2) AS amount, TIMESTAMP '2026-01-01' + to_minutes(i % 500000) AS ordered_at,
  NULL::DATE AS shipped_date, CASE i % 3 WHEN 0 THEN 'EU' WHEN 1 THEN 'NA' ELSE 'AP' END AS ship_region
  FROM range(1, ${orders} + 1) t(i);
CREATE TABLE sem.product AS SELECT i::BIGINT AS id, 'product ' || i AS name,
  CASE i % 5 WHEN 0 THEN 'home' WHEN 1 THEN 'office' WHEN 2 THEN 'garden' WHEN 3 THEN 'toys' ELSE NULL END AS category
  FROM range(1, 10001) t(i);
CREATE TABLE sem.order_item AS SELECT i::BIGINT AS id, (1 + i % ${orders})::BIGINT AS order_id,
  (1 + (i * 31) % 10000)::BIGINT AS product_id, (1 + i % 9)::BIGINT AS qty, ((i * 17) % 5000 / 100.0)::DECIMAL(12,2) AS price
  FROM range(1, ${orders * 3} + 1) t(i);
CREATE TABLE sem.payment AS SELECT i::BIGINT AS id, (1 + (i * 3) % ${orders})::BIGINT AS order_id,
  ((i * 11) % 20000 / 100.0)::DECIMAL(12,2) AS amount, CASE i % 2 WHEN 0 THEN 'card' ELSE 'voucher' END AS method
  FROM range(1, ${orders} + 1) t(i);
`;

interface Question {
  name: string;
  /** What the issue measured (the pattern). */
  pattern: string;
  input: string;
  handWritten: string;
}

const QUESTIONS: Question[] = [
  {
    name: 'parent_and_child_measures_by_region',
    pattern: 'fan-out-safe measures at two grains',
    input: `from: orders
fields: [region.name, orders.order_count, orders.total_amount, order_item.total_qty]`,
    handWritten: `WITH items AS (SELECT order_id, sum(qty) AS qty FROM sem.order_item GROUP BY order_id)
      SELECT r.name, count(*), sum(o.amount), sum(i.qty)
      FROM sem.orders o LEFT JOIN sem.region r ON r.code = o.ship_region LEFT JOIN items i ON i.order_id = o.id
      GROUP BY r.name`,
  },
  {
    name: 'customer_credit_by_order_status',
    pattern: 'fan-out-safe parent measure by a child dimension',
    input: `from: customer
fields: [orders.status, customer.customer_count, customer.total_credit]`,
    handWritten: `WITH k AS (SELECT DISTINCT o.status, c.id FROM sem.customer c LEFT JOIN sem.orders o ON o.customer_id = c.id)
      SELECT k.status, count(*), sum(c.credit_limit) FROM k JOIN sem.customer c ON c.id = k.id GROUP BY k.status`,
  },
  {
    name: 'customers_with_many_units',
    pattern: 'HAVING over a grain with a pre-aggregated key',
    input: `from: customer
fields: [customer.id, customer.name, order_item.total_qty]
filters:
  - { field: order_item.total_qty, op: gt, value: 180 }`,
    handWritten: `WITH per_customer AS (
        SELECT o.customer_id, sum(i.qty) AS qty FROM sem.orders o JOIN sem.order_item i ON i.order_id = o.id
        GROUP BY o.customer_id HAVING sum(i.qty) > 180)
      SELECT c.id, c.name, p.qty FROM sem.customer c JOIN per_customer p ON p.customer_id = c.id`,
  },
  {
    name: 'revenue_by_customer_name',
    pattern: 'a lookup joined after aggregating',
    input: `from: orders
fields: [customer.name, orders.total_amount]`,
    handWritten: `WITH per_customer AS (SELECT customer_id, sum(amount) AS amount FROM sem.orders GROUP BY customer_id)
      SELECT c.name, sum(p.amount) FROM per_customer p LEFT JOIN sem.customer c ON c.id = p.customer_id GROUP BY c.name`,
  },
  {
    name: 'customers_without_orders',
    pattern: 'is_null on a filter-only one-to-many source',
    input: `from: customer
fields: [region.name, customer.customer_count]
filters:
  - { field: orders.id, op: is_null }`,
    handWritten: `SELECT r.name, count(*) FROM sem.customer c LEFT JOIN sem.region r ON r.code = c.region_code
      WHERE NOT EXISTS (SELECT 1 FROM sem.orders o WHERE o.customer_id = c.id) GROUP BY r.name`,
  },
  {
    name: 'garden_units_by_region_of_shipped_orders',
    pattern: 'a selective filter through several joins',
    input: `from: order_item
fields: [region.name, order_item.total_qty]
filters:
  - { field: product.category, op: equals, value: garden }
  - { field: orders.status, op: equals, value: shipped }`,
    handWritten: `SELECT r.name, sum(i.qty)
      FROM sem.order_item i JOIN sem.product p ON p.id = i.product_id AND p.category = 'garden'
      JOIN sem.orders o ON o.id = i.order_id AND o.status = 'shipped' LEFT JOIN sem.region r ON r.code = o.ship_region
      GROUP BY r.name`,
  },
  {
    name: 'customers_with_shipped_garden_or_open_toys',
    pattern: 'an any: of all: groups on one filter-only subtree (issue 13)',
    input: `from: customer
fields: [region.name, customer.customer_count]
filters:
  - any:
      - all:
          - { field: orders.status, op: equals, value: shipped }
          - { field: product.category, op: equals, value: garden }
      - all:
          - { field: orders.status, op: equals, value: open }
          - { field: product.category, op: equals, value: toys }`,
    handWritten: `SELECT r.name, count(*) FROM sem.customer c LEFT JOIN sem.region r ON r.code = c.region_code
      WHERE EXISTS (SELECT 1 FROM sem.orders o JOIN sem.order_item i ON i.order_id = o.id
        JOIN sem.product p ON p.id = i.product_id
        WHERE o.customer_id = c.id AND ((o.status = 'shipped' AND p.category = 'garden')
          OR (o.status = 'open' AND p.category = 'toys')))
      GROUP BY r.name`,
  },
  {
    name: 'amount_by_region_of_orders_not_cancelled',
    pattern: 'not: around an any: on the root (issue 13)',
    input: `from: orders
fields: [region.name, orders.order_count, orders.total_amount]
filters:
  - not:
      any:
        - { field: orders.status, op: equals, value: cancelled }
        - { field: orders.status, op: is_null }`,
    handWritten: `SELECT r.name, count(*), sum(o.amount)
      FROM sem.orders o LEFT JOIN sem.region r ON r.code = o.ship_region
      WHERE o.status <> 'cancelled' GROUP BY r.name`,
  },
  {
    name: 'customers_with_orders_shipped_elsewhere',
    pattern: "a comparison on a filter-only source with the root's field (issue 13)",
    input: `from: customer
fields: [region.name, customer.customer_count]
filters:
  - { field: orders.ship_region, op: not_equals, valueFrom: customer.region_code }`,
    handWritten: `SELECT r.name, count(*) FROM sem.customer c LEFT JOIN sem.region r ON r.code = c.region_code
      WHERE EXISTS (SELECT 1 FROM sem.orders o WHERE o.customer_id = c.id AND o.ship_region <> c.region_code)
      GROUP BY r.name`,
  },
  {
    name: 'garden_revenue_by_region',
    pattern: "a measure's filter reading a many-to-one lookup's field (issue 13 part 3)",
    input: `from: order_item
fields: [region.name, order_item.revenue, order_item.garden_revenue]`,
    handWritten: `SELECT r.name, sum(i.qty * i.price), sum(i.qty * i.price) FILTER (WHERE p.category = 'garden')
      FROM sem.order_item i JOIN sem.orders o ON o.id = i.order_id LEFT JOIN sem.region r ON r.code = o.ship_region
      LEFT JOIN sem.product p ON p.id = i.product_id
      GROUP BY r.name`,
  },
  {
    name: 'orders_above_their_customers_average',
    pattern: 'a field against a measure per a many-to-one source, times k (issue 13 part 4)',
    input: `from: orders
fields: [region.name, orders.order_count, orders.total_amount]
filters:
  - field: orders.amount
    op: gt
    valueFrom: { measure: orders.avg_amount, per: customer, times: 1.5 }`,
    handWritten: `WITH per_customer AS (SELECT customer_id, avg(amount) AS avg_amount FROM sem.orders GROUP BY customer_id)
      SELECT r.name, count(*), sum(o.amount)
      FROM sem.orders o JOIN per_customer a ON a.customer_id = o.customer_id
      LEFT JOIN sem.region r ON r.code = o.ship_region
      WHERE o.amount > 1.5 * a.avg_amount GROUP BY r.name`,
  },
  {
    name: 'products_above_a_share_of_revenue',
    pattern: 'a HAVING against a fraction of the total over all rows (issue 13 part 4)',
    input: `from: order_item
fields: [product.id, product.name, order_item.revenue]
filters:
  - field: order_item.revenue
    op: gt
    valueFrom: { measure: order_item.revenue, times: 0.000102 }`,
    handWritten: `WITH per_product AS (SELECT product_id, sum(qty * price) AS revenue FROM sem.order_item GROUP BY product_id)
      SELECT p.id, p.name, pp.revenue FROM per_product pp JOIN sem.product p ON p.id = pp.product_id
      WHERE pp.revenue > 0.000102 * (SELECT sum(revenue) FROM per_product)`,
  },
  {
    name: 'customers_with_the_highest_total',
    pattern: 'a measure equal to its max per group (groupBy, aggregate; issue 13 part 4)',
    input: `from: customer
fields: [customer.id, customer.name, orders.total_amount]
filters:
  - field: orders.total_amount
    op: equals
    valueFrom: { measure: orders.total_amount, groupBy: customer, aggregate: max }`,
    handWritten: `WITH per_customer AS (SELECT customer_id, sum(amount) AS amount FROM sem.orders GROUP BY customer_id)
      SELECT c.id, c.name, p.amount FROM per_customer p JOIN sem.customer c ON c.id = p.customer_id
      WHERE p.amount = (SELECT max(amount) FROM per_customer)`,
  },
  {
    name: 'customers_by_number_of_orders',
    pattern: 'a measure per a source as a grouping column, 0 for none (issue 13 part 4)',
    input: `from: customer
fields:
  - { field: orders.order_count, per: customer, as: n_orders }
  - customer.customer_count`,
    handWritten: `WITH per_customer AS (SELECT customer_id, count(*) AS n FROM sem.orders GROUP BY customer_id)
      SELECT coalesce(p.n, 0) AS n_orders, count(*)
      FROM sem.customer c LEFT JOIN per_customer p ON p.customer_id = c.id GROUP BY 1`,
  },
];

function definitionFiles(): DefinitionFile[] {
  const sources = readdirSync(FIXTURE).map((file) => ({
    path: `sources/${file}`,
    kind: 'source' as const,
    text: readFileSync(join(FIXTURE, file), 'utf8'),
  }));
  const inputs = QUESTIONS.map((q) => ({
    path: `inputs/${q.name}.yaml`,
    kind: 'input' as const,
    text: `name: ${q.name}\n${q.input}\n`,
  }));
  return [...sources, ...inputs];
}

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;
const canonical = (rows: unknown[][]) =>
  rows
    .map((r) =>
      JSON.stringify(
        r.map((v) => (typeof v === 'number' ? Math.round(v * 100) / 100 : v === null ? null : String(v))),
      ),
    )
    .sort();

async function main(): Promise<void> {
  const { model, diagnostics } = buildModel(definitionFiles());
  const errors = diagnostics.filter((d) => d.severity === 'error');
  if (errors.length > 0) throw new Error(errors.map((d) => d.message).join('\n'));
  const compiler = new Compiler(model);
  const instance = await DuckDBInstance.create(':memory:');
  const duckdb = await instance.connect();
  const t0 = performance.now();
  for (const statement of DATA.split(';').filter((s) => s.trim())) await duckdb.run(statement);
  console.log(
    `data: ${customers.toLocaleString('en-US')} customers, ${orders.toLocaleString('en-US')} orders, ` +
      `${(orders * 3).toLocaleString('en-US')} order items, ${orders.toLocaleString('en-US')} payments ` +
      `(${((performance.now() - t0) / 1000).toFixed(1)} s to generate)`,
  );
  const run = async (sql: string) => {
    const start = performance.now();
    const reader = await duckdb.runAndReadAll(sql);
    return { ms: performance.now() - start, rows: reader.getRowsJS() as unknown[][] };
  };
  const ratios: number[] = [];
  for (const question of QUESTIONS) {
    const strata = compiler.compile(question.name, { dialect: 'duckdb' }).sql;
    const a = await run(strata);
    const b = await run(question.handWritten);
    if (JSON.stringify(canonical(a.rows)) !== JSON.stringify(canonical(b.rows)))
      throw new Error(`${question.name}: Strata's answer differs from the hand-written one`);
    const times = { strata: [] as number[], hand: [] as number[] };
    for (let i = 0; i < RUNS; i++) {
      // Alternating, so neither side gets a warmer cache or a quieter machine.
      times.strata.push((await run(strata)).ms);
      times.hand.push((await run(question.handWritten)).ms);
    }
    const ratio = median(times.strata) / median(times.hand);
    ratios.push(ratio);
    console.log(
      `${question.name.padEnd(42)} ${median(times.strata).toFixed(0).padStart(6)} ms vs hand-written ` +
        `${median(times.hand).toFixed(0).padStart(6)} ms = ${ratio.toFixed(2)}x  (${question.pattern}; ${a.rows.length} rows)`,
    );
  }
  const geomean = Math.exp(ratios.reduce((sum, r) => sum + Math.log(r), 0) / ratios.length);
  console.log(
    `geometric mean ${geomean.toFixed(2)}x hand-written, worst ${Math.max(...ratios).toFixed(2)}x ` +
      `(targets: <= 1.0x, none above 1.3x; median of ${RUNS} alternating runs each)`,
  );
  duckdb.closeSync();
  instance.closeSync();
}

await main();
