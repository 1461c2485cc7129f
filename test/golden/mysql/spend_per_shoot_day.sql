WITH
  -- production
  production AS (
    SELECT
      movie_id,
      production_id,
      name
    FROM studio.production
    WHERE status = 'wrapped'
  ),
  -- movie (via production -> movie)
  movie AS (
    SELECT
      movie_id,
      title
    FROM (
      SELECT *
      FROM studio.movie
      WHERE NOT is_test
    ) AS movie_query
  ),
  -- purchase_order (via production -> purchase_order)
  purchase_order AS (
    SELECT
      production_id,
      amount_usd AS total_amount_usd_value
    FROM studio.purchase_order
  ),
  -- shoot_day (via production -> shoot_day)
  shoot_day AS (
    SELECT production_id
    FROM studio.shoot_day
  ),
  -- purchase_order aggregated per production row before joining (one row per join key)
  purchase_order_per_production AS (
    SELECT
      purchase_order.production_id,
      sum(purchase_order.total_amount_usd_value) AS total_amount_usd
    FROM purchase_order
    GROUP BY purchase_order.production_id
  ),
  -- shoot_day aggregated per production row before joining (one row per join key)
  shoot_day_per_production AS (
    SELECT
      shoot_day.production_id,
      count(*) AS shoot_day_count
    FROM shoot_day
    GROUP BY shoot_day.production_id
  )
SELECT
  movie.title,
  production.name,
  sum(purchase_order_per_production.total_amount_usd) AS total_amount_usd,
  coalesce(sum(shoot_day_per_production.shoot_day_count), 0) AS shoot_day_count,
  (sum(purchase_order_per_production.total_amount_usd) / NULLIF(coalesce(sum(shoot_day_per_production.shoot_day_count), 0), 0)) AS spend_per_shoot_day
FROM production
LEFT JOIN movie ON movie.movie_id = production.movie_id
LEFT JOIN purchase_order_per_production ON purchase_order_per_production.production_id = production.production_id
LEFT JOIN shoot_day_per_production ON shoot_day_per_production.production_id = production.production_id
GROUP BY movie.title, production.name
ORDER BY (sum(purchase_order_per_production.total_amount_usd) / NULLIF(coalesce(sum(shoot_day_per_production.shoot_day_count), 0), 0)) DESC
LIMIT 50
