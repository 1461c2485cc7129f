WITH
  -- movie
  movie AS (
    SELECT
      movie_id,
      title,
      status
    FROM (
      SELECT *
      FROM studio.movie
      WHERE NOT is_test
    ) AS movie_query
    WHERE NOT (lower(title) LIKE lower('Untitled%') ESCAPE '!')
  ),
  -- production (via movie -> production)
  production AS (
    SELECT
      country,
      status,
      movie_id
    FROM studio.production
  )
SELECT
  movie.title,
  movie.status
FROM movie
WHERE movie.movie_id IN (
  SELECT production.movie_id
  FROM production
  WHERE (production.country = 'ES' AND production.status = 'shooting') OR (production.country = 'FR' AND production.status = 'wrapped')
)
ORDER BY title ASC NULLS LAST
