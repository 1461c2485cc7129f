WITH
  -- shoot_day, aggregated per the columns the query reads before joining
  shoot_day AS (
    SELECT
      location_id,
      CAST(date_trunc('week', shoot_date) AS DATE) AS shoot_date_week,
      count(*) AS shoot_day_count_count,
      sum(scheduled_hours) AS total_scheduled_hours_sum,
      sum(actual_hours) AS total_actual_hours_sum,
      count(*) FILTER (WHERE is_overtime) AS overtime_day_count_count
    FROM studio.shoot_day
    WHERE shoot_date BETWEEN DATE '2026-01-01' AND DATE '2026-03-31'
    GROUP BY location_id, CAST(date_trunc('week', shoot_date) AS DATE)
  ),
  -- location (via shoot_day -> location)
  location AS (
    SELECT
      location_id,
      is_stage
    FROM studio.location
  )
SELECT
  shoot_day.shoot_date_week AS shoot_week,
  location.is_stage,
  coalesce(sum(shoot_day.shoot_day_count_count), 0) AS shoot_day_count,
  sum(shoot_day.total_scheduled_hours_sum) AS total_scheduled_hours,
  sum(shoot_day.total_actual_hours_sum) AS total_actual_hours,
  coalesce(sum(shoot_day.overtime_day_count_count), 0) AS overtime_day_count,
  (1.0 * coalesce(sum(shoot_day.overtime_day_count_count), 0) / NULLIF(coalesce(sum(shoot_day.shoot_day_count_count), 0), 0)) AS overtime_rate
FROM shoot_day
LEFT JOIN location ON location.location_id = shoot_day.location_id
GROUP BY shoot_day.shoot_date_week, location.is_stage
