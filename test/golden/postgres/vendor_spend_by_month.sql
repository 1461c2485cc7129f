WITH
  -- purchase_order, aggregated per the columns the query reads before joining
  purchase_order AS (
    SELECT
      vendor_id,
      date_trunc('month', issued_at) AS issued_at_month,
      count(*) AS po_count_count,
      sum(amount_usd) AS total_amount_usd_sum
    FROM studio.purchase_order
    WHERE status <> 'void'
    GROUP BY vendor_id, date_trunc('month', issued_at)
  ),
  -- vendor (via purchase_order -> vendor)
  vendor AS (
    SELECT
      vendor_id,
      category
    FROM studio.vendor
  )
SELECT
  purchase_order.issued_at_month AS issued_month,
  vendor.category,
  coalesce(sum(purchase_order.po_count_count), 0) AS po_count,
  sum(purchase_order.total_amount_usd_sum) AS total_amount_usd
FROM purchase_order
LEFT JOIN vendor ON vendor.vendor_id = purchase_order.vendor_id
GROUP BY purchase_order.issued_at_month, vendor.category
