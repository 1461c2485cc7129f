WITH
  -- purchase_order
  purchase_order AS (
    SELECT
      vendor_id,
      po_id,
      amount_usd,
      paid_date
    FROM studio.purchase_order
    WHERE
      amount_usd >= 250000
      AND paid_date >= DATE '2026-01-01'
  ),
  -- vendor (via purchase_order -> vendor)
  vendor AS (
    SELECT
      vendor_id,
      name
    FROM studio.vendor
  )
SELECT
  purchase_order.po_id,
  vendor.name,
  purchase_order.amount_usd,
  purchase_order.paid_date
FROM purchase_order
LEFT JOIN vendor ON vendor.vendor_id = purchase_order.vendor_id
ORDER BY purchase_order.amount_usd DESC
