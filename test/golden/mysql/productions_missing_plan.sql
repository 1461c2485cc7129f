WITH
  -- production
  production AS (
    SELECT
      movie_id,
      name,
      status,
      country,
      start_date,
      end_date
    FROM studio.production
    WHERE
      status IN ('planned', 'shooting')
      AND (country IS NULL OR end_date IS NULL)
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
  )
SELECT
  movie.title,
  production.name,
  production.status,
  production.country,
  production.start_date,
  production.end_date
FROM production
LEFT JOIN movie ON movie.movie_id = production.movie_id
ORDER BY production.start_date IS NULL, production.start_date ASC
