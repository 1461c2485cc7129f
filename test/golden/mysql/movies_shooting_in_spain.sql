WITH
  -- movie
  movie AS (
    SELECT
      movie_id,
      title,
      status,
      launch_date
    FROM (
      SELECT *
      FROM studio.movie
      WHERE NOT is_test
    ) AS movie_query
  ),
  -- production (via movie -> production)
  production AS (
    SELECT
      country,
      movie_id
    FROM studio.production
  )
SELECT
  movie.title,
  movie.status,
  movie.launch_date
FROM movie
WHERE movie.movie_id IN (
  SELECT production.movie_id
  FROM production
  WHERE production.country = 'ES'
)
ORDER BY movie.title IS NULL, movie.title ASC
