/** Every rule of spec §4, as an input and the hand-written SQL that states its answer. */
import type { SemanticCase } from './harness.js';

export const CASES: SemanticCase[] = [
  {
    name: 'fan_out_child_measures_by_parent',
    input: `from: customer
fields: [customer.name, orders.order_count, orders.total_amount, orders.avg_amount, orders.statuses]`,
    expected: `SELECT c.name, count(o.id), sum(o.amount), avg(o.amount), count(DISTINCT o.status)
      FROM sem.customer c LEFT JOIN sem.orders o ON o.customer_id = c.id GROUP BY c.name`,
  },
  {
    name: 'fan_out_parent_measures_by_child',
    input: `from: customer
fields: [orders.status, customer.customer_count, customer.total_credit, customer.avg_credit]`,
    expected: `SELECT k.status, count(c.id), sum(c.credit_limit), avg(c.credit_limit)
      FROM (SELECT DISTINCT o.status, c.id AS cid FROM sem.customer c LEFT JOIN sem.orders o ON o.customer_id = c.id) k
      JOIN sem.customer c ON c.id = k.cid GROUP BY k.status`,
  },
  {
    name: 'two_fan_out_measure_sources_per_order',
    input: `from: orders
fields: [orders.id, order_item.total_qty, payment.total_paid, payment.payment_count]`,
    expected: `SELECT o.id,
        (SELECT sum(i.qty) FROM sem.order_item i WHERE i.order_id = o.id),
        (SELECT sum(p.amount) FROM sem.payment p WHERE p.order_id = o.id),
        (SELECT count(*) FROM sem.payment p WHERE p.order_id = o.id)
      FROM sem.orders o`,
  },
  {
    name: 'two_fan_out_measure_sources_by_parent_dimension',
    input: `from: orders
fields: [customer.name, order_item.total_qty, payment.total_paid, orders.order_count, order_item.item_count]`,
    expected: `SELECT c.name, sum(i.q), sum(p.paid), count(o.id), coalesce(sum(i.n), 0)
      FROM sem.orders o
      LEFT JOIN sem.customer c ON c.id = o.customer_id
      LEFT JOIN (SELECT order_id, sum(qty) AS q, count(*) AS n FROM sem.order_item GROUP BY order_id) i ON i.order_id = o.id
      LEFT JOIN (SELECT order_id, sum(amount) AS paid FROM sem.payment GROUP BY order_id) p ON p.order_id = o.id
      GROUP BY c.name`,
  },
  {
    name: 'root_measures_with_two_fan_out_dimensions',
    input: `from: customer
fields: [orders.status, product.category, customer.total_credit, orders.total_amount]`,
    expected: `WITH j AS (
        SELECT o.status, pr.category, c.id AS cid, c.credit_limit, o.id AS oid, o.amount
        FROM sem.customer c LEFT JOIN sem.orders o ON o.customer_id = c.id
        LEFT JOIN sem.order_item i ON i.order_id = o.id LEFT JOIN sem.product pr ON pr.id = i.product_id)
      SELECT g.status, g.category,
        (SELECT sum(x.credit_limit) FROM (SELECT DISTINCT cid, credit_limit FROM j WHERE j.status IS NOT DISTINCT FROM g.status AND j.category IS NOT DISTINCT FROM g.category) x),
        (SELECT sum(x.amount) FROM (SELECT DISTINCT oid, amount FROM j WHERE oid IS NOT NULL AND j.status IS NOT DISTINCT FROM g.status AND j.category IS NOT DISTINCT FROM g.category) x)
      FROM (SELECT DISTINCT status, category FROM j) g`,
    expectedOnMySql: `WITH j AS (
        SELECT o.status, pr.category, c.id AS cid, c.credit_limit, o.id AS oid, o.amount
        FROM sem.customer c LEFT JOIN sem.orders o ON o.customer_id = c.id
        LEFT JOIN sem.order_item i ON i.order_id = o.id LEFT JOIN sem.product pr ON pr.id = i.product_id),
      credit AS (SELECT status, category, sum(credit_limit) AS total
        FROM (SELECT DISTINCT status, category, cid, credit_limit FROM j) x GROUP BY status, category),
      amount AS (SELECT status, category, sum(amount) AS total
        FROM (SELECT DISTINCT status, category, oid, amount FROM j WHERE oid IS NOT NULL) x GROUP BY status, category)
      SELECT credit.status, credit.category, credit.total, amount.total FROM credit
      LEFT JOIN amount ON amount.status <=> credit.status AND amount.category <=> credit.category`,
  },
  {
    name: 'derived_measure_across_sources',
    input: `from: customer
fields: [region.name, orders.revenue_per_order]`,
    expected: `SELECT r.name, sum(i.qty * i.price) / NULLIF(count(DISTINCT o.id), 0)
      FROM sem.customer c LEFT JOIN sem.region r ON r.code = c.region_code
      LEFT JOIN sem.orders o ON o.customer_id = c.id LEFT JOIN sem.order_item i ON i.order_id = o.id
      GROUP BY r.name`,
  },
  {
    name: 'filter_only_fan_out_restricts_without_multiplying',
    input: `from: customer
fields: [customer.id, customer.name]
filters:
  - { field: orders.status, op: equals, value: shipped }
  - { field: orders.amount, op: gt, value: 100 }`,
    expected: `SELECT c.id, c.name FROM sem.customer c
      WHERE EXISTS (SELECT 1 FROM sem.orders o WHERE o.customer_id = c.id AND o.status = 'shipped' AND o.amount > 100)`,
  },
  {
    name: 'is_null_on_filter_only_source_matches_rows_without_related_rows',
    input: `from: customer
fields: [customer.id]
filters:
  - { field: orders.shipped_date, op: is_null }`,
    expected: `SELECT c.id FROM sem.customer c
      WHERE EXISTS (SELECT 1 FROM sem.orders o WHERE o.customer_id = c.id AND o.shipped_date IS NULL)
         OR NOT EXISTS (SELECT 1 FROM sem.orders o WHERE o.customer_id = c.id)`,
  },
  {
    name: 'is_null_on_the_related_key_is_an_anti_join',
    input: `from: customer
fields: [customer.name, customer.customer_count]
filters:
  - { field: orders.id, op: is_null }`,
    expected: `SELECT c.name, count(*) FROM sem.customer c
      WHERE NOT EXISTS (SELECT 1 FROM sem.orders o WHERE o.customer_id = c.id) GROUP BY c.name`,
  },
  {
    name: 'is_null_on_a_nested_key_still_matches_related_rows_without_one',
    input: `from: customer
fields: [customer.name]
filters:
  - { field: payment.id, op: is_null }`,
    expected: `SELECT DISTINCT c.name FROM sem.customer c
      WHERE NOT EXISTS (SELECT 1 FROM sem.orders o WHERE o.customer_id = c.id)
         OR EXISTS (SELECT 1 FROM sem.orders o WHERE o.customer_id = c.id
                    AND NOT EXISTS (SELECT 1 FROM sem.payment p WHERE p.order_id = o.id))`,
  },
  {
    name: 'is_null_filter_only_with_sort_and_limit',
    input: `from: customer
fields: [customer.id, customer.name]
filters:
  - { field: orders.shipped_date, op: is_null }
  - { field: order_item.qty, op: is_null }
sort: [{ field: customer.id, direction: desc }]
limit: 3`,
    expected: `SELECT c.id, c.name FROM sem.customer c
      WHERE EXISTS (SELECT 1 FROM sem.orders o LEFT JOIN sem.order_item i ON i.order_id = o.id
                    WHERE o.customer_id = c.id AND o.shipped_date IS NULL AND i.qty IS NULL)
         OR NOT EXISTS (SELECT 1 FROM sem.orders o WHERE o.customer_id = c.id)
      ORDER BY c.id DESC LIMIT 3`,
    ordered: true,
  },
  {
    name: 'any_group_mixing_root_and_filter_only_source',
    input: `from: customer
fields: [customer.id]
filters:
  - any:
      - { field: customer.region_code, op: equals, value: AP }
      - { field: orders.status, op: equals, value: cancelled }`,
    expected: `SELECT c.id FROM sem.customer c
      WHERE c.region_code = 'AP' OR EXISTS (SELECT 1 FROM sem.orders o WHERE o.customer_id = c.id AND o.status = 'cancelled')`,
  },
  {
    name: 'filter_only_source_below_a_selected_source',
    input: `from: customer
fields: [customer.name, orders.id]
filters:
  - { field: order_item.qty, op: gte, value: 5 }`,
    expected: `SELECT c.name, o.id FROM sem.customer c LEFT JOIN sem.orders o ON o.customer_id = c.id
      WHERE EXISTS (SELECT 1 FROM sem.order_item i WHERE i.order_id = o.id AND i.qty >= 5)`,
  },
  {
    name: 'measure_filter_is_having',
    input: `from: customer
fields: [customer.name, orders.total_amount]
filters:
  - { field: orders.total_amount, op: gt, value: 100 }`,
    expected: `SELECT c.name, sum(o.amount) FROM sem.customer c LEFT JOIN sem.orders o ON o.customer_id = c.id
      GROUP BY c.name HAVING sum(o.amount) > 100`,
  },
  {
    name: 'having_on_unselected_measure',
    input: `from: customer
fields: [customer.name]
filters:
  - { field: orders.order_count, op: gte, value: 2 }`,
    expected: `SELECT c.name FROM sem.customer c LEFT JOIN sem.orders o ON o.customer_id = c.id
      GROUP BY c.name HAVING count(o.id) >= 2`,
  },
  {
    name: 'not_equals_and_not_in_skip_nulls_and_sort_puts_nulls_last',
    input: `from: orders
fields: [orders.id, orders.status]
filters:
  - { field: orders.status, op: not_equals, value: open }
  - { field: orders.id, op: not_in, values: [16] }
sort:
  - { field: orders.status, direction: desc }
  - { field: orders.id, direction: asc }`,
    expected: `SELECT o.id, o.status FROM sem.orders o WHERE o.status <> 'open' AND o.id <> 16
      ORDER BY o.status DESC NULLS LAST, o.id ASC`,
    expectedOnMySql: `SELECT o.id, o.status FROM sem.orders o WHERE o.status <> 'open' AND o.id <> 16
      ORDER BY o.status DESC, o.id ASC`,
    ordered: true,
  },
  {
    name: 'ascending_sort_puts_nulls_last',
    input: `from: customer
fields: [customer.id, customer.region_code]
sort: [customer.region_code, customer.id]`,
    expected: `SELECT c.id, c.region_code FROM sem.customer c ORDER BY c.region_code ASC NULLS LAST, c.id ASC`,
    expectedOnMySql: `SELECT c.id, c.region_code FROM sem.customer c ORDER BY c.region_code IS NULL, c.region_code, c.id`,
    ordered: true,
  },
  {
    name: 'rows_without_related_row_fall_into_the_null_group',
    input: `from: customer
fields: [region.name, customer.customer_count, customer.eu_customers]`,
    expected: `SELECT r.name, count(c.id), count(CASE WHEN c.region_code = 'EU' THEN 1 END)
      FROM sem.customer c LEFT JOIN sem.region r ON r.code = c.region_code GROUP BY r.name`,
  },
  {
    name: 'aggregates_over_no_rows',
    input: `from: customer
fields: [customer.customer_count, customer.total_credit, orders.order_count, orders.max_amount, orders.statuses]
filters:
  - { field: customer.name, op: equals, value: Nobody }`,
    expected: `SELECT 0, CAST(NULL AS DECIMAL(12,2)), 0, CAST(NULL AS DECIMAL(12,2)), 0`,
  },
  {
    name: 'left_joined_source_without_rows_counts_zero',
    input: `from: customer
fields: [customer.name, payment.total_paid, orders.order_count, payment.payment_count]`,
    expected: `SELECT c.name, sum(p.amount), count(DISTINCT o.id), count(p.id)
      FROM sem.customer c LEFT JOIN sem.orders o ON o.customer_id = c.id LEFT JOIN sem.payment p ON p.order_id = o.id
      GROUP BY c.name`,
  },
  {
    name: 'filter_on_joined_source_rejects_null_rows',
    input: `from: customer
fields: [customer.name, orders.id]
filters:
  - { field: orders.status, op: equals, value: shipped }`,
    expected: `SELECT c.name, o.id FROM sem.customer c JOIN sem.orders o ON o.customer_id = c.id WHERE o.status = 'shipped'`,
  },
  {
    name: 'cdc_latest_row_per_key_ties_and_deletes',
    input: `from: member
fields: [member.id, member.name, member.tier, member.points]`,
    expected: `SELECT id, name, tier, points FROM (
        SELECT *, row_number() OVER (PARTITION BY id ORDER BY _op_ts DESC, _seq DESC) AS rn FROM sem.member_changes) x
      WHERE rn = 1 AND _op <> 'd'`,
  },
  {
    name: 'cdc_filters_apply_to_the_latest_row',
    input: `from: member
fields: [member.member_count, member.total_points]
filters:
  - { field: member.tier, op: equals, value: gold }`,
    expected: `SELECT count(*), sum(points) FROM (
        SELECT *, row_number() OVER (PARTITION BY id ORDER BY _op_ts DESC, _seq DESC) AS rn FROM sem.member_changes) x
      WHERE rn = 1 AND _op <> 'd' AND tier = 'gold'`,
  },
  {
    name: 'cdc_source_joined',
    input: `from: customer
fields: [customer.id, member.tier]`,
    expected: `SELECT c.id, m.tier FROM sem.customer c LEFT JOIN (
        SELECT * FROM (SELECT *, row_number() OVER (PARTITION BY id ORDER BY _op_ts DESC, _seq DESC) AS rn FROM sem.member_changes) x
        WHERE rn = 1 AND _op <> 'd') m ON m.id = c.id`,
  },
  {
    name: 'granularity_week_starts_monday_and_keeps_timestamp_type',
    input: `from: orders
fields:
  - { field: orders.ordered_at, granularity: week, as: week }
  - orders.order_count`,
    expected: `SELECT date_trunc('week', ordered_at), count(*) FROM sem.orders GROUP BY 1`,
    expectedOnMySql: `SELECT TIMESTAMP(DATE(ordered_at) - INTERVAL WEEKDAY(ordered_at) DAY), count(*) FROM sem.orders GROUP BY 1`,
  },
  {
    name: 'granularity_on_dates_keeps_date_type',
    input: `from: orders
fields:
  - { field: orders.shipped_date, granularity: month, as: month }
  - { field: orders.shipped_date, granularity: quarter, as: quarter }
  - { field: orders.shipped_date, granularity: year, as: year }
  - orders.total_amount`,
    expected: `SELECT CAST(date_trunc('month', shipped_date) AS DATE), CAST(date_trunc('quarter', shipped_date) AS DATE),
        CAST(date_trunc('year', shipped_date) AS DATE), sum(amount) FROM sem.orders GROUP BY 1, 2, 3`,
    expectedOnMySql: `SELECT CAST(DATE_FORMAT(shipped_date, '%Y-%m-01') AS DATE),
        MAKEDATE(YEAR(shipped_date), 1) + INTERVAL (QUARTER(shipped_date) - 1) * 3 MONTH,
        CAST(DATE_FORMAT(shipped_date, '%Y-01-01') AS DATE), sum(amount) FROM sem.orders GROUP BY 1, 2, 3`,
  },
  {
    name: 'param_default',
    input: `from: orders
fields: [orders.id]
filters:
  - { field: orders.status, op: equals, param: status }
params:
  status: { type: string, default: shipped }`,
    expected: `SELECT id FROM sem.orders WHERE status = 'shipped'`,
  },
  {
    name: 'param_given_and_list_param',
    input: `from: orders
fields: [orders.id]
filters:
  - { field: orders.status, op: equals, param: status }
  - { field: orders.id, op: in, param: ids }
  - { field: orders.shipped_date, op: between, param: window }
params:
  status: { type: string, default: shipped }
  ids: { type: integer }
  window: { type: date, default: [2026-01-01, 2026-03-31] }`,
    params: { status: 'shipped', ids: '10,12,14,17' },
    expected: `SELECT id FROM sem.orders WHERE status = 'shipped' AND id IN (10, 12, 14, 17)
      AND shipped_date BETWEEN DATE '2026-01-01' AND DATE '2026-03-31'`,
  },
  {
    name: 'name_collisions_use_source_field',
    input: `from: order_item
fields: [product.name, customer.name, order_item.qty, { field: customer.id, as: buyer }]`,
    columns: ['product_name', 'customer_name', 'qty', 'buyer'],
    expected: `SELECT pr.name, c.name, i.qty, c.id FROM sem.order_item i
      LEFT JOIN sem.product pr ON pr.id = i.product_id
      LEFT JOIN sem.orders o ON o.id = i.order_id LEFT JOIN sem.customer c ON c.id = o.customer_id`,
  },
  {
    name: 'text_filters_are_case_insensitive_and_literal',
    input: `from: product
fields: [product.name]
filters:
  - any:
      - { field: product.name, op: contains, value: A }
      - { field: product.name, op: starts_with, value: p }
      - { field: product.name, op: ends_with, value: SK }
      - { field: product.name, op: contains, value: "%" }
      - { field: product.name, op: contains, value: "_" }`,
    expected: `SELECT name FROM sem.product WHERE name IN ('Lamp', 'Ada', 'Pen', 'Desk')`,
  },
  {
    name: 'computed_field_per_dialect',
    input: `from: customer
fields: [customer.name_initial, customer.customer_count]`,
    expected: `SELECT upper(substr(name, 1, 1)), count(*) FROM sem.customer GROUP BY 1`,
  },
  {
    name: 'relative_date_filters',
    input: `from: event
fields: [event.id]
filters:
  - any:
      - { field: event.day, op: in_last, value: 7 days }
      - { field: event.at, op: in_next, value: 1 week }`,
    expected: `SELECT id FROM sem.event WHERE id IN (1, 3)`,
  },
  {
    name: 'in_last_on_timestamps',
    input: `from: event
fields: [event.id]
filters:
  - { field: event.at, op: in_last, value: 1 day }`,
    expected: `SELECT id FROM sem.event WHERE id = 1`,
  },
  {
    name: 'via_picks_the_join_path',
    input: `from: orders
fields:
  - orders.id
  - { field: region.name, as: ship_to }
  - { field: region.name, via: [customer], as: customer_region }`,
    expected: `SELECT o.id, r1.name, r2.name FROM sem.orders o
      LEFT JOIN sem.region r1 ON r1.code = o.ship_region
      LEFT JOIN sem.customer c ON c.id = o.customer_id LEFT JOIN sem.region r2 ON r2.code = c.region_code`,
  },
  {
    name: 'composite_join_key_filter_only',
    input: `from: orders
fields: [orders.id]
filters:
  - { field: order_note.note, op: contains, value: WRAP }`,
    expected: `SELECT o.id FROM sem.orders o WHERE EXISTS (
      SELECT 1 FROM sem.order_note n WHERE n.order_id = o.id AND n.customer_id = o.customer_id AND lower(n.note) LIKE '%wrap%')`,
  },
  {
    name: 'composite_join_key_is_null_filter_only',
    input: `from: orders
fields: [orders.id]
filters:
  - { field: order_note.note, op: is_null }`,
    expected: `SELECT o.id FROM sem.orders o
      WHERE EXISTS (SELECT 1 FROM sem.order_note n WHERE n.order_id = o.id AND n.customer_id = o.customer_id AND n.note IS NULL)
         OR NOT EXISTS (SELECT 1 FROM sem.order_note n WHERE n.order_id = o.id AND n.customer_id = o.customer_id)`,
  },
  {
    name: 'composite_join_key_measures',
    input: `from: customer
fields: [customer.name, order_note.note_count, orders.order_count]`,
    expected: `SELECT c.name, count(n.line), count(DISTINCT o.id) FROM sem.customer c
      LEFT JOIN sem.orders o ON o.customer_id = c.id
      LEFT JOIN sem.order_note n ON n.order_id = o.id AND n.customer_id = o.customer_id
      GROUP BY c.name`,
  },
  {
    name: 'sort_by_a_field_that_is_not_selected',
    input: `from: orders
fields: [orders.id]
sort:
  - { field: customer.name, direction: desc }
  - orders.id`,
    expected: `SELECT o.id FROM sem.orders o LEFT JOIN sem.customer c ON c.id = o.customer_id
      ORDER BY c.name DESC NULLS LAST, o.id ASC`,
    expectedOnMySql: `SELECT o.id FROM sem.orders o LEFT JOIN sem.customer c ON c.id = o.customer_id
      ORDER BY c.name DESC, o.id ASC`,
    ordered: true,
  },
  {
    name: 'sort_by_measure_with_limit',
    input: `from: customer
fields: [customer.name, orders.total_amount]
sort: [{ field: orders.total_amount, direction: desc }]
limit: 2`,
    expected: `SELECT c.name, sum(o.amount) FROM sem.customer c LEFT JOIN sem.orders o ON o.customer_id = c.id
      GROUP BY c.name ORDER BY sum(o.amount) DESC NULLS LAST LIMIT 2`,
    expectedOnMySql: `SELECT c.name, sum(o.amount) FROM sem.customer c LEFT JOIN sem.orders o ON o.customer_id = c.id
      GROUP BY c.name ORDER BY sum(o.amount) DESC LIMIT 2`,
    ordered: true,
  },
  {
    name: 'having_on_a_pre_aggregated_measure_moves_into_the_per_key_aggregate',
    input: `from: customer
fields: [customer.id, customer.name, order_item.total_qty]
filters:
  - { field: order_item.total_qty, op: gt, value: 5 }`,
    expected: `SELECT c.id, c.name, sum(i.qty) FROM sem.customer c
      JOIN sem.orders o ON o.customer_id = c.id JOIN sem.order_item i ON i.order_id = o.id
      GROUP BY c.id, c.name HAVING sum(i.qty) > 5`,
  },
  {
    name: 'having_that_holds_without_related_rows_keeps_those_rows',
    input: `from: customer
fields: [customer.id, orders.order_count, orders.total_amount]
filters:
  - { field: orders.order_count, op: lt, value: 1 }`,
    expected: `SELECT c.id, 0, NULL FROM sem.customer c WHERE NOT EXISTS (SELECT 1 FROM sem.orders o WHERE o.customer_id = c.id)`,
  },
  {
    name: 'having_is_null_on_a_pre_aggregated_measure_keeps_rows_without_related_rows',
    input: `from: customer
fields: [customer.id, orders.total_amount]
filters:
  - { field: orders.total_amount, op: is_null }`,
    expected: `SELECT c.id, NULL FROM sem.customer c LEFT JOIN sem.orders o ON o.customer_id = c.id
      GROUP BY c.id HAVING sum(o.amount) IS NULL`,
  },
  {
    name: 'measures_of_the_root_aggregated_before_joining_lookups',
    input: `from: orders
fields:
  - { field: customer.name, as: customer }
  - { field: region.name, as: region }
  - orders.order_count
  - orders.shipped_orders
  - orders.total_amount
  - orders.avg_amount
  - orders.max_amount
filters:
  - { field: orders.amount, op: is_not_null }`,
    expected: `SELECT c.name, r.name, count(*), count(*) FILTER (WHERE o.status = 'shipped'), sum(o.amount), avg(o.amount), max(o.amount)
      FROM sem.orders o LEFT JOIN sem.customer c ON c.id = o.customer_id LEFT JOIN sem.region r ON r.code = o.ship_region
      WHERE o.amount IS NOT NULL GROUP BY c.name, r.name`,
    expectedOnMySql: `SELECT c.name, r.name, count(*), count(CASE WHEN o.status = 'shipped' THEN 1 END), sum(o.amount), avg(o.amount), max(o.amount)
      FROM sem.orders o LEFT JOIN sem.customer c ON c.id = o.customer_id LEFT JOIN sem.region r ON r.code = o.ship_region
      WHERE o.amount IS NOT NULL GROUP BY c.name, r.name`,
  },
  {
    name: 'root_aggregated_before_lookups_with_a_filter_across_them',
    input: `from: orders
fields: [region.name, orders.order_count, orders.avg_amount]
filters:
  - any:
      - { field: customer.region_code, op: equals, value: EU }
      - { field: orders.status, op: equals, value: cancelled }`,
    expected: `SELECT r.name, count(*), avg(o.amount)
      FROM sem.orders o LEFT JOIN sem.customer c ON c.id = o.customer_id LEFT JOIN sem.region r ON r.code = o.ship_region
      WHERE c.region_code = 'EU' OR o.status = 'cancelled' GROUP BY r.name`,
  },
  {
    name: 'one_row_per_root_key_needs_no_aggregation',
    input: `from: customer
fields:
  - customer.id
  - region.name
  - customer.customer_count
  - customer.eu_customers
  - customer.total_credit
  - customer.avg_credit
  - orders.order_count
  - orders.shipped_orders
  - orders.total_amount
filters:
  - { field: orders.order_count, op: lt, value: 2 }`,
    expected: `SELECT c.id, r.name, 1, CASE WHEN c.region_code = 'EU' THEN 1 ELSE 0 END, c.credit_limit, c.credit_limit,
        (SELECT count(*) FROM sem.orders o WHERE o.customer_id = c.id),
        (SELECT count(*) FROM sem.orders o WHERE o.customer_id = c.id AND o.status = 'shipped'),
        (SELECT sum(o.amount) FROM sem.orders o WHERE o.customer_id = c.id)
      FROM sem.customer c LEFT JOIN sem.region r ON r.code = c.region_code
      WHERE (SELECT count(*) FROM sem.orders o WHERE o.customer_id = c.id) < 2`,
  },
  // ---- filter trees: any / all / not, three-valued --------------------------------------
  {
    name: 'not_of_a_comparison_does_not_match_null_and_not_is_null_is_is_not_null',
    input: `from: orders
fields: [orders.id]
filters:
  - not: { field: orders.status, op: equals, value: shipped }
  - not: { field: orders.ship_region, op: is_null }`,
    expected: `SELECT o.id FROM sem.orders o WHERE o.status <> 'shipped' AND o.ship_region IS NOT NULL`,
  },
  {
    name: 'all_inside_any_and_not_of_a_group_on_joined_sources',
    input: `from: customer
fields: [customer.id]
filters:
  - any:
      - all:
          - { field: customer.region_code, op: equals, value: EU }
          - { field: customer.credit_limit, op: gte, value: 500 }
      - all:
          - { field: region.name, op: equals, value: North America }
          - not: { field: customer.name, op: starts_with, value: a }
  - not:
      any:
        - { field: customer.signup_date, op: gt, value: 2026-03-01 }
        - { field: customer.credit_limit, op: lt, value: 200 }`,
    expected: `SELECT c.id FROM sem.customer c LEFT JOIN sem.region r ON r.code = c.region_code
      WHERE ((c.region_code = 'EU' AND c.credit_limit >= 500)
             OR (r.name = 'North America' AND NOT (lower(c.name) LIKE 'a%')))
        AND NOT (c.signup_date > DATE '2026-03-01' OR c.credit_limit < 200)`,
  },
  {
    name: 'not_on_a_filter_only_one_to_many_source_needs_a_related_row_where_it_is_true',
    input: `from: customer
fields: [customer.id]
filters:
  - not: { field: orders.status, op: equals, value: shipped }`,
    expected: `SELECT c.id FROM sem.customer c
      WHERE EXISTS (SELECT 1 FROM sem.orders o WHERE o.customer_id = c.id AND NOT (o.status = 'shipped'))`,
  },
  {
    name: 'not_of_is_not_null_on_a_filter_only_source_matches_rows_without_related_rows',
    input: `from: customer
fields: [customer.id]
filters:
  - not:
      all:
        - { field: orders.shipped_date, op: is_not_null }
        - { field: orders.amount, op: gte, value: 50 }`,
    expected: `SELECT c.id FROM sem.customer c
      WHERE EXISTS (SELECT 1 FROM sem.orders o WHERE o.customer_id = c.id
                    AND (o.shipped_date IS NULL OR o.amount < 50))
         OR NOT EXISTS (SELECT 1 FROM sem.orders o WHERE o.customer_id = c.id)`,
  },
  {
    name: 'all_inside_any_across_two_filter_only_sources',
    input: `from: orders
fields: [orders.id]
filters:
  - any:
      - all:
          - { field: payment.method, op: equals, value: card }
          - not: { field: payment.amount, op: gte, value: 50 }
      - all:
          - { field: order_item.qty, op: gte, value: 3 }
          - { field: orders.status, op: equals, value: shipped }`,
    expected: `SELECT o.id FROM sem.orders o
      WHERE EXISTS (SELECT 1 FROM sem.payment p WHERE p.order_id = o.id AND p.method = 'card' AND NOT (p.amount >= 50))
         OR (o.status = 'shipped' AND EXISTS (SELECT 1 FROM sem.order_item i WHERE i.order_id = o.id AND i.qty >= 3))`,
  },
  {
    name: 'all_of_null_tests_on_two_filter_only_sources_inside_any',
    input: `from: orders
fields: [orders.id]
filters:
  - any:
      - all:
          - { field: payment.id, op: is_null }
          - { field: order_item.qty, op: is_null }
      - { field: orders.status, op: equals, value: cancelled }`,
    expected: `SELECT o.id FROM sem.orders o
      WHERE (NOT EXISTS (SELECT 1 FROM sem.payment p WHERE p.order_id = o.id)
             AND (EXISTS (SELECT 1 FROM sem.order_item i WHERE i.order_id = o.id AND i.qty IS NULL)
                  OR NOT EXISTS (SELECT 1 FROM sem.order_item i WHERE i.order_id = o.id)))
         OR o.status = 'cancelled'`,
  },
  {
    name: 'not_of_is_not_null_on_a_lookup_keeps_its_left_join',
    input: `from: orders
fields: [orders.id, region.name]
filters:
  - any:
      - not: { field: region.name, op: is_not_null }
      - { field: region.code, op: equals, value: EU }`,
    expected: `SELECT o.id, r.name FROM sem.orders o LEFT JOIN sem.region r ON r.code = o.ship_region
      WHERE r.name IS NULL OR r.code = 'EU'`,
  },
  {
    name: 'having_tree_not_of_any',
    input: `from: customer
fields: [customer.name, orders.order_count]
filters:
  - not:
      any:
        - { field: orders.total_amount, op: gt, value: 150 }
        - { field: orders.order_count, op: equals, value: 0 }`,
    expected: `SELECT c.name, count(o.id) FROM sem.customer c LEFT JOIN sem.orders o ON o.customer_id = c.id
      GROUP BY c.name HAVING NOT (sum(o.amount) > 150 OR count(o.id) = 0)`,
  },
  // ---- comparing two fields (valueFrom) ----------------------------------------------------
  {
    name: 'comparison_of_two_fields_of_one_source_across_numeric_types',
    input: `from: order_item
fields: [order_item.id]
filters:
  - { field: order_item.price, op: gte, valueFrom: order_item.qty }`,
    expected: `SELECT i.id FROM sem.order_item i WHERE i.price >= i.qty`,
  },
  {
    name: 'comparison_across_a_to_one_join_is_unknown_with_null_on_either_side',
    input: `from: orders
fields: [orders.id, orders.ship_region]
filters:
  - { field: orders.ship_region, op: equals, valueFrom: customer.region_code }`,
    expected: `SELECT o.id, o.ship_region FROM sem.orders o JOIN sem.customer c ON c.id = o.customer_id
      WHERE o.ship_region = c.region_code`,
  },
  {
    name: 'not_of_a_comparison_does_not_match_null_on_either_side_nor_a_missing_related_row',
    input: `from: orders
fields: [orders.id]
filters:
  - not: { field: orders.ship_region, op: equals, valueFrom: customer.region_code }`,
    expected: `SELECT o.id FROM sem.orders o LEFT JOIN sem.customer c ON c.id = o.customer_id
      WHERE NOT (o.ship_region = c.region_code)`,
  },
  {
    name: 'one_source_in_two_roles_compared_with_via',
    input: `from: orders
fields: [orders.id]
filters:
  - { field: region.name, via: [customer], op: not_equals, valueFrom: { field: region.name } }`,
    expected: `SELECT o.id FROM sem.orders o
      LEFT JOIN sem.customer c ON c.id = o.customer_id
      LEFT JOIN sem.region cr ON cr.code = c.region_code
      LEFT JOIN sem.region sr ON sr.code = o.ship_region
      WHERE cr.name <> sr.name`,
  },
  {
    name: 'comparison_on_a_filter_only_one_to_many_source_restricts_never_multiplies',
    input: `from: customer
fields: [customer.id, customer.name]
filters:
  - { field: orders.ship_region, op: equals, valueFrom: customer.region_code }`,
    expected: `SELECT c.id, c.name FROM sem.customer c
      WHERE EXISTS (SELECT 1 FROM sem.orders o WHERE o.customer_id = c.id AND o.ship_region = c.region_code)`,
  },
  {
    name: 'not_of_a_comparison_on_a_filter_only_source_needs_a_related_row_where_it_is_true',
    input: `from: customer
fields: [customer.id]
filters:
  - not: { field: orders.amount, op: lt, valueFrom: customer.credit_limit }`,
    expected: `SELECT c.id FROM sem.customer c
      WHERE EXISTS (SELECT 1 FROM sem.orders o WHERE o.customer_id = c.id AND NOT (o.amount < c.credit_limit))`,
  },
  {
    name: 'comparison_tying_two_filter_only_sources_holds_on_one_pair_of_rows',
    input: `from: orders
fields: [orders.id]
filters:
  - { field: payment.amount, op: equals, valueFrom: order_item.price }`,
    expected: `SELECT o.id FROM sem.orders o
      WHERE EXISTS (SELECT 1 FROM sem.payment p JOIN sem.order_item i ON i.order_id = o.id
                    WHERE p.order_id = o.id AND p.amount = i.price)`,
  },
  {
    name: 'comparison_inside_any_with_a_filter_only_source_and_a_null_test',
    input: `from: customer
fields: [customer.id]
filters:
  - any:
      - { field: orders.amount, op: gt, valueFrom: customer.credit_limit }
      - { field: orders.id, op: is_null }`,
    expected: `SELECT c.id FROM sem.customer c
      WHERE EXISTS (SELECT 1 FROM sem.orders o WHERE o.customer_id = c.id AND o.amount > c.credit_limit)
         OR NOT EXISTS (SELECT 1 FROM sem.orders o WHERE o.customer_id = c.id)`,
  },
  {
    name: 'two_measures_compared_is_a_having',
    input: `from: customer
fields: [customer.name, orders.total_amount, orders.max_amount]
filters:
  - { field: orders.total_amount, op: gt, valueFrom: customer.total_credit }`,
    expected: `SELECT c.name, sum(o.amount), max(o.amount)
      FROM sem.customer c LEFT JOIN sem.orders o ON o.customer_id = c.id
      GROUP BY c.name
      HAVING sum(o.amount) > (SELECT sum(c2.credit_limit) FROM sem.customer c2 WHERE c2.name = c.name)`,
  },
  // ---- measures over joined fields ({source.field}) ------------------------------------------
  {
    name: 'measure_filtered_on_a_lookup_field_below_a_fan_out',
    input: `from: customer
fields: [customer.id, order_item.home_qty, order_item.eu_customer_items]`,
    expected: `SELECT c.id,
        sum(CASE WHEN p.category = 'home' THEN i.qty END),
        count(CASE WHEN ic.region_code = 'EU' THEN 1 END)
      FROM sem.customer c
      LEFT JOIN sem.orders o ON o.customer_id = c.id
      LEFT JOIN sem.order_item i ON i.order_id = o.id
      LEFT JOIN sem.product p ON p.id = i.product_id
      LEFT JOIN sem.orders io ON io.id = i.order_id
      LEFT JOIN sem.customer ic ON ic.id = io.customer_id
      GROUP BY c.id`,
  },
  {
    name: 'measure_reading_a_lookup_of_its_own_row_from_the_looked_up_source',
    input: `from: product
fields: [product.category, order_item.home_qty, order_item.shipped_value]`,
    expected: `SELECT p.category,
        sum(CASE WHEN ip.category = 'home' THEN i.qty END),
        sum(CASE WHEN o.status = 'shipped' THEN i.qty * i.price ELSE 0 END)
      FROM sem.product p
      LEFT JOIN sem.order_item i ON i.product_id = p.id
      LEFT JOIN sem.product ip ON ip.id = i.product_id
      LEFT JOIN sem.orders o ON o.id = i.order_id
      GROUP BY p.category`,
  },
  {
    name: 'measure_with_a_missing_lookup_row_reads_null',
    input: `from: order_item
fields: [order_item.order_id, order_item.shipped_value, order_item.eu_customer_items]`,
    expected: `SELECT i.order_id,
        sum(CASE WHEN o.status = 'shipped' THEN i.qty * i.price ELSE 0 END),
        count(CASE WHEN c.region_code = 'EU' THEN 1 END)
      FROM sem.order_item i
      LEFT JOIN sem.orders o ON o.id = i.order_id
      LEFT JOIN sem.customer c ON c.id = o.customer_id
      GROUP BY i.order_id`,
  },
  // ---- measures at another grain -------------------------------------------------------------
  {
    name: 'field_against_a_measure_per_a_joined_source',
    input: `from: order_item
fields: [order_item.id]
filters:
  - { field: order_item.qty, op: gt, valueFrom: { measure: order_item.total_qty, per: product, times: 0.4 } }`,
    expected: `SELECT i.id FROM sem.order_item i JOIN sem.product p ON p.id = i.product_id
      WHERE i.qty > 0.4 * (SELECT sum(i2.qty) FROM sem.order_item i2 WHERE i2.product_id = p.id)`,
  },
  {
    name: 'a_count_per_a_missing_row_is_null_not_zero',
    input: `from: order_item
fields: [order_item.id]
filters:
  - { field: order_item.qty, op: gte, valueFrom: { measure: order_item.item_count, per: product } }`,
    expected: `SELECT i.id FROM sem.order_item i JOIN sem.product p ON p.id = i.product_id
      WHERE i.qty >= (SELECT count(*) FROM sem.order_item i2 WHERE i2.product_id = p.id)`,
  },
  {
    name: 'field_against_a_filtered_measure_over_all_rows',
    input: `from: orders
fields: [orders.id]
filters:
  - field: orders.amount
    op: gt
    valueFrom: { measure: orders.avg_amount, filters: [{ field: orders.status, op: equals, value: shipped }] }`,
    expected: `SELECT o.id FROM sem.orders o
      WHERE o.amount > (SELECT avg(o2.amount) FROM sem.orders o2 WHERE o2.status = 'shipped')`,
  },
  {
    name: 'having_against_a_fraction_of_the_total',
    input: `from: customer
fields: [customer.id, orders.total_amount]
filters:
  - { field: orders.total_amount, op: gt, valueFrom: { measure: orders.total_amount, times: 0.2 } }`,
    expected: `SELECT c.id, sum(o.amount) FROM sem.customer c LEFT JOIN sem.orders o ON o.customer_id = c.id
      GROUP BY c.id HAVING sum(o.amount) > 0.2 * (SELECT sum(amount) FROM sem.orders)`,
  },
  {
    name: 'having_equal_to_the_highest_measure_per_group_of_existing_rows',
    input: `from: customer
fields: [customer.id, orders.order_count]
filters:
  - { field: orders.order_count, op: equals, valueFrom: { measure: orders.order_count, groupBy: customer, aggregate: max } }`,
    expected: `SELECT c.id, count(o.id) FROM sem.customer c LEFT JOIN sem.orders o ON o.customer_id = c.id
      GROUP BY c.id
      HAVING count(o.id) = (SELECT max(n) FROM (SELECT c2.id, count(*) AS n FROM sem.orders o2
        JOIN sem.customer c2 ON c2.id = o2.customer_id GROUP BY c2.id) t)`,
  },
  {
    name: 'customers_grouped_by_their_number_of_orders_zero_for_none',
    input: `from: customer
fields:
  - { field: orders.order_count, per: customer, as: orders }
  - customer.customer_count`,
    expected: `SELECT coalesce(t.n, 0), count(c.id) FROM sem.customer c
      LEFT JOIN (SELECT customer_id, count(*) AS n FROM sem.orders GROUP BY customer_id) t ON t.customer_id = c.id
      GROUP BY coalesce(t.n, 0)`,
  },
  {
    name: 'a_filtered_measure_per_a_source_as_a_dimension_from_another_root',
    input: `from: orders
fields:
  - orders.id
  - field: orders.order_count
    per: customer
    as: shipped_orders_of_customer
    filters: [{ field: orders.status, op: equals, value: shipped }]`,
    expected: `SELECT o.id, CASE WHEN c.id IS NOT NULL THEN
        (SELECT count(*) FROM sem.orders o2 WHERE o2.customer_id = c.id AND o2.status = 'shipped') END
      FROM sem.orders o LEFT JOIN sem.customer c ON c.id = o.customer_id`,
  },
  {
    name: 'filter_on_a_measure_per_a_joined_row_and_its_negation_need_that_row',
    input: `from: orders
fields: [orders.id]
filters:
  - { field: orders.order_count, per: customer, op: gt, value: 1 }
  - not: { field: payment.payment_count, per: orders, filters: [{ field: payment.method, op: equals, value: card }], op: equals, value: 0 }`,
    expected: `SELECT o.id FROM sem.orders o JOIN sem.customer c ON c.id = o.customer_id
      WHERE (SELECT count(*) FROM sem.orders o2 WHERE o2.customer_id = c.id) > 1
        AND NOT ((SELECT count(*) FROM sem.payment p WHERE p.order_id = o.id AND p.method = 'card') = 0)`,
  },
  {
    name: 'a_measure_per_a_source_reached_two_ways_follows_via',
    input: `from: orders
fields: [orders.id, orders.ship_region]
filters:
  - { field: customer.customer_count, per: region, via: [customer], op: gt, value: 1 }
  - { field: orders.amount, op: lte, valueFrom: { measure: orders.max_amount, per: region } }`,
    expected: `SELECT o.id, o.ship_region FROM sem.orders o
      JOIN sem.customer c ON c.id = o.customer_id
      JOIN sem.region cr ON cr.code = c.region_code
      JOIN sem.region sr ON sr.code = o.ship_region
      WHERE (SELECT count(*) FROM sem.customer c2 WHERE c2.region_code = cr.code) > 1
        AND o.amount <= (SELECT max(o2.amount) FROM sem.orders o2 WHERE o2.ship_region = sr.code)`,
  },
];
