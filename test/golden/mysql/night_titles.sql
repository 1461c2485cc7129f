WITH
  -- movie
  movie AS (
    SELECT
      CAST((upper(left(title, 1))) AS CHAR) AS title_initial,
      title,
      status
    FROM (
      SELECT *
      FROM studio.movie
      WHERE NOT is_test
    ) AS movie_query
    WHERE
      lower(title) LIKE lower('the%') ESCAPE '!'
      AND lower(title) LIKE lower('%night%') ESCAPE '!'
  )
SELECT
  movie.title_initial,
  movie.title,
  movie.status
FROM movie
ORDER BY movie.title IS NULL, movie.title ASC
