WITH
  -- production
  production AS (
    SELECT
      movie_id,
      production_id,
      name,
      country
    FROM studio.production
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
  -- shoot_day (via production -> shoot_day)
  shoot_day AS (
    SELECT
      location_id,
      production_id
    FROM studio.shoot_day
  ),
  -- location (via production -> shoot_day -> location)
  location AS (
    SELECT
      location_id,
      country
    FROM studio.location
  ),
  -- production (via production -> shoot_day -> production)
  production_2 AS (
    SELECT
      production_id,
      country
    FROM studio.production
  ),
  -- shoot_day aggregated per production row before joining (one row per join key)
  shoot_day_per_production AS (
    SELECT
      shoot_day.production_id,
      count(*) AS shoot_day_count,
      count(CASE WHEN (location.country <> production_2.country) THEN 1 END) AS abroad_day_count
    FROM shoot_day
    LEFT JOIN location ON location.location_id = shoot_day.location_id
    LEFT JOIN production_2 ON production_2.production_id = shoot_day.production_id
    GROUP BY shoot_day.production_id
  )
SELECT
  movie.title,
  production.name,
  production.country,
  coalesce(sum(shoot_day_per_production.shoot_day_count), 0) AS shoot_day_count,
  coalesce(sum(shoot_day_per_production.abroad_day_count), 0) AS abroad_day_count
FROM production
LEFT JOIN movie ON movie.movie_id = production.movie_id
LEFT JOIN shoot_day_per_production ON shoot_day_per_production.production_id = production.production_id
GROUP BY movie.title, production.name, production.country
HAVING coalesce(sum(shoot_day_per_production.abroad_day_count), 0) > 0
ORDER BY coalesce(sum(shoot_day_per_production.abroad_day_count), 0) DESC, production.name IS NULL, production.name ASC
