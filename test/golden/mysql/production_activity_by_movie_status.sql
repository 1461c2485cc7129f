WITH
  -- movie
  movie AS (
    SELECT
      movie_id,
      status
    FROM (
      SELECT *
      FROM studio.movie
      WHERE NOT is_test
    ) AS movie_query
  ),
  -- production (via movie -> production)
  production AS (
    SELECT
      movie_id,
      production_id,
      (status = 'shooting') AS shooting_production_count_filter,
      budget_usd AS total_production_budget_value,
      country AS country_count_value
    FROM studio.production
  )
SELECT
  movie.status,
  count(production.production_id) AS production_count,
  count(CASE WHEN production.shooting_production_count_filter THEN production.production_id END) AS shooting_production_count,
  sum(production.total_production_budget_value) AS total_production_budget,
  count(DISTINCT production.country_count_value) AS country_count
FROM movie
LEFT JOIN production ON production.movie_id = movie.movie_id
GROUP BY movie.status
ORDER BY movie.status IS NULL, movie.status ASC
