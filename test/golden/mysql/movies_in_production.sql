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
      DATE_SUB(CAST(start_date AS DATE), INTERVAL (DAYOFMONTH(start_date) - 1) DAY) AS start_date_month,
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
ORDER BY production.start_date DESC
LIMIT 5000
