WITH
  -- movie
  movie AS (
    SELECT
      title,
      genre,
      status,
      launch_date,
      budget_usd,
      CAST((runtime_seconds / 60) AS SIGNED) AS runtime_minutes
    FROM (
      SELECT *
      FROM studio.movie
      WHERE NOT is_test
    ) AS movie_query
  )
SELECT
  movie.title,
  movie.genre,
  movie.status,
  movie.launch_date,
  movie.budget_usd,
  movie.runtime_minutes
FROM movie
ORDER BY movie.launch_date DESC, movie.title IS NULL, movie.title ASC
LIMIT 100
