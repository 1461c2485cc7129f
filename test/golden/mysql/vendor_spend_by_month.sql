WITH
  -- purchase_order
  purchase_order AS (
    SELECT
      vendor_id,
      CAST(DATE_SUB(CAST(issued_at AS DATE), INTERVAL (DAYOFMONTH(issued_at) - 1) DAY) AS DATETIME(6)) AS issued_at_month,
      amount_usd AS total_amount_usd_value
    FROM studio.purchase_order
    WHERE status <> 'void'
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
  count(*) AS po_count,
  sum(purchase_order.total_amount_usd_value) AS total_amount_usd
FROM purchase_order
LEFT JOIN vendor ON vendor.vendor_id = purchase_order.vendor_id
GROUP BY purchase_order.issued_at_month, vendor.category
