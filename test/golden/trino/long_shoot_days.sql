WITH
  -- shoot_day
  shoot_day AS (
    SELECT
      production_id,
      actual_hours,
      shoot_date
    FROM studio.shoot_day
  ),
  -- production (via shoot_day -> production)
  production AS (
    SELECT
      production_id,
      movie_id,
      name
    FROM studio.production
  ),
  -- movie (via shoot_day -> production -> movie)
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
  -- shoot_day (for shoot_day.avg_actual_hours per production)
  shoot_day_2 AS (
    SELECT
      production_id,
      actual_hours AS avg_actual_hours_value
    FROM studio.shoot_day
  ),
  -- shoot_day for shoot_day.avg_actual_hours per production
  shoot_day_per_production AS (
    SELECT
      shoot_day_2.production_id AS key_1,
      avg(shoot_day_2.avg_actual_hours_value) AS avg_actual_hours
    FROM shoot_day_2
    GROUP BY shoot_day_2.production_id
  )
SELECT
  movie.title,
  production.name,
  shoot_day.shoot_date,
  shoot_day.actual_hours
FROM shoot_day
INNER JOIN production ON production.production_id = shoot_day.production_id
LEFT JOIN movie ON movie.movie_id = production.movie_id
LEFT JOIN shoot_day_per_production ON shoot_day_per_production.key_1 = production.production_id
WHERE shoot_day.actual_hours > (1.5 * shoot_day_per_production.avg_actual_hours)
ORDER BY name ASC NULLS LAST, shoot_date ASC NULLS LAST
