WITH
  -- movie
  movie AS (
    SELECT movie_id
    FROM (
      SELECT *
      FROM studio.movie
      WHERE NOT is_test
    ) AS movie_query
  ),
  -- production (for production.production_count per movie)
  production AS (
    SELECT movie_id
    FROM studio.production
  ),
  -- production for production.production_count per movie
  production_per_movie AS (
    SELECT
      production.movie_id AS key_1,
      count(*) AS production_count
    FROM production
    GROUP BY production.movie_id
  )
SELECT
  CASE WHEN movie.movie_id IS NOT NULL THEN coalesce(production_per_movie.production_count, 0) END AS productions,
  count(*) AS movie_count
FROM movie
LEFT JOIN production_per_movie ON production_per_movie.key_1 = movie.movie_id
GROUP BY CASE WHEN movie.movie_id IS NOT NULL THEN coalesce(production_per_movie.production_count, 0) END
ORDER BY productions ASC NULLS LAST
