WITH
  -- movie
  movie AS (
    SELECT
      movie_id,
      title
    FROM (
      SELECT *
      FROM studio.movie
      WHERE NOT is_test
    ) AS movie_query
    WHERE status IN ('active', 'in_production')
  ),
  -- production (via movie -> production)
  production AS (
    SELECT
      movie_id,
      start_date,
      CAST(date_trunc('month', start_date) AS DATE) AS start_date_month,
      production_id
    FROM studio.production
    WHERE country = 'US'
  )
SELECT
  movie.title,
  production.start_date,
  production.start_date_month AS start_month,
  count(production.production_id) AS production_count
FROM movie
INNER JOIN production ON production.movie_id = movie.movie_id
GROUP BY movie.title, production.start_date, production.start_date_month
ORDER BY start_date DESC NULLS LAST
LIMIT 5000
