WITH
  -- movie
  movie AS (
    SELECT
      title,
      genre,
      status,
      launch_date
    FROM (
      SELECT *
      FROM studio.movie
      WHERE NOT is_test
    ) AS movie_query
    WHERE launch_date BETWEEN (UTC_DATE()) AND (CAST(UTC_DATE() + INTERVAL '6' MONTH AS DATE))
  )
SELECT
  movie.title,
  movie.genre,
  movie.status,
  movie.launch_date
FROM movie
ORDER BY movie.launch_date IS NULL, movie.launch_date ASC
