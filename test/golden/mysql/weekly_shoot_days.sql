WITH
  -- shoot_day
  shoot_day AS (
    SELECT
      location_id,
      DATE_SUB(CAST(shoot_date AS DATE), INTERVAL WEEKDAY(shoot_date) DAY) AS shoot_date_week,
      scheduled_hours AS total_scheduled_hours_value,
      actual_hours AS total_actual_hours_value,
      is_overtime AS overtime_day_count_filter
    FROM studio.shoot_day
    WHERE shoot_date BETWEEN DATE '2026-01-01' AND DATE '2026-03-31'
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
  count(*) AS shoot_day_count,
  sum(shoot_day.total_scheduled_hours_value) AS total_scheduled_hours,
  sum(shoot_day.total_actual_hours_value) AS total_actual_hours,
  count(CASE WHEN shoot_day.overtime_day_count_filter THEN 1 END) AS overtime_day_count,
  (1.0 * count(CASE WHEN shoot_day.overtime_day_count_filter THEN 1 END) / NULLIF(count(*), 0)) AS overtime_rate
FROM shoot_day
LEFT JOIN location ON location.location_id = shoot_day.location_id
GROUP BY shoot_day.shoot_date_week, location.is_stage
