WITH
  -- movie
  movie AS (
    SELECT
      title,
      genre,
      status,
      launch_date,
      budget_usd,
      CAST((runtime_seconds / 60) AS BIGINT) AS runtime_minutes
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
ORDER BY launch_date DESC NULLS LAST, title ASC NULLS LAST
LIMIT 100
