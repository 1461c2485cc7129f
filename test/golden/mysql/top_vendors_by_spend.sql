WITH
  -- vendor
  vendor AS (
    SELECT
      vendor_id,
      name,
      category,
      is_preferred
    FROM studio.vendor
  ),
  -- purchase_order (via vendor -> purchase_order)
  purchase_order AS (
    SELECT
      vendor_id,
      amount_usd AS total_amount_usd_value
    FROM studio.purchase_order
    WHERE status <> 'void'
  ),
  -- purchase_order aggregated per vendor row before joining (one row per join key)
  purchase_order_per_vendor AS (
    SELECT
      purchase_order.vendor_id,
      count(*) AS po_count,
      sum(purchase_order.total_amount_usd_value) AS total_amount_usd
    FROM purchase_order
    GROUP BY purchase_order.vendor_id
  )
SELECT
  vendor.name,
  vendor.category,
  vendor.is_preferred,
  coalesce(sum(purchase_order_per_vendor.po_count), 0) AS po_count,
  sum(purchase_order_per_vendor.total_amount_usd) AS total_amount_usd
FROM vendor
INNER JOIN purchase_order_per_vendor ON purchase_order_per_vendor.vendor_id = vendor.vendor_id
GROUP BY vendor.name, vendor.category, vendor.is_preferred
HAVING sum(purchase_order_per_vendor.total_amount_usd) > 1500000
ORDER BY sum(purchase_order_per_vendor.total_amount_usd) DESC
