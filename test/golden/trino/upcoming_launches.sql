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
    WHERE launch_date BETWEEN (CAST(at_timezone(current_timestamp, 'UTC') AS DATE)) AND (CAST(CAST(at_timezone(current_timestamp, 'UTC') AS DATE) + INTERVAL '6' MONTH AS DATE))
  )
SELECT
  movie.title,
  movie.genre,
  movie.status,
  movie.launch_date
FROM movie
ORDER BY launch_date ASC NULLS LAST
