WITH
  -- purchase_order
  purchase_order AS (
    SELECT
      production_id,
      vendor_id,
      po_id,
      issued_at,
      amount_usd,
      status
    FROM studio.purchase_order
    WHERE issued_at BETWEEN (UTC_TIMESTAMP(6) - INTERVAL '30' DAY) AND (UTC_TIMESTAMP(6))
  ),
  -- production (via purchase_order -> production)
  production AS (
    SELECT
      production_id,
      name
    FROM studio.production
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
  purchase_order.issued_at,
  production.name AS production_name,
  vendor.name AS vendor_name,
  purchase_order.amount_usd,
  purchase_order.status
FROM purchase_order
LEFT JOIN production ON production.production_id = purchase_order.production_id
LEFT JOIN vendor ON vendor.vendor_id = purchase_order.vendor_id
ORDER BY purchase_order.issued_at DESC
LIMIT 500
