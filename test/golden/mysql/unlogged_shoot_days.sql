WITH
  -- shoot_day
  shoot_day AS (
    SELECT
      production_id,
      location_id,
      shoot_date,
      scheduled_hours,
      actual_hours
    FROM studio.shoot_day
    WHERE
      actual_hours IS NULL
      AND shoot_date BETWEEN (CAST(UTC_DATE() - INTERVAL '1' YEAR AS DATE)) AND (UTC_DATE())
  ),
  -- production (via shoot_day -> production)
  production AS (
    SELECT
      production_id,
      name
    FROM studio.production
  ),
  -- location (via shoot_day -> location)
  location AS (
    SELECT
      location_id,
      name
    FROM studio.location
  )
SELECT
  production.name AS production_name,
  shoot_day.shoot_date,
  location.name AS location_name,
  shoot_day.scheduled_hours,
  shoot_day.actual_hours
FROM shoot_day
LEFT JOIN production ON production.production_id = shoot_day.production_id
LEFT JOIN location ON location.location_id = shoot_day.location_id
ORDER BY shoot_day.shoot_date DESC
