WITH
  -- production
  production AS (
    SELECT
      movie_id,
      start_date,
      production_id,
      country,
      name
    FROM studio.production
  ),
  -- movie (via production -> movie)
  movie AS (
    SELECT
      movie_id,
      launch_date,
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
      production_id,
      location_id
    FROM studio.shoot_day
  ),
  -- location (via production -> shoot_day -> location)
  location AS (
    SELECT
      country,
      location_id
    FROM studio.location
  )
SELECT
  production.name,
  production.country,
  movie.title
FROM production
INNER JOIN movie ON movie.movie_id = production.movie_id
WHERE
  production.start_date < movie.launch_date
  AND EXISTS (
    SELECT 1
    FROM (
      SELECT DISTINCT
        shoot_day.production_id,
        location.country
      FROM shoot_day
      LEFT JOIN location ON location.location_id = shoot_day.location_id
    ) AS shoot_day_related
    WHERE
      shoot_day_related.production_id = production.production_id
      AND shoot_day_related.country <> production.country
  )
ORDER BY production.name IS NULL, production.name ASC
