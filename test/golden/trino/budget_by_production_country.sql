WITH
  -- movie
  movie AS (
    SELECT
      movie_id,
      budget_usd AS total_budget_value
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
      country
    FROM studio.production
  ),
  -- the joined rows; *_row numbers each measure source row within its group so it is aggregated once
  joined AS (
    SELECT
      production.country,
      movie.movie_id AS movie_key,
      row_number() OVER (PARTITION BY production.country, movie.movie_id) AS movie_row,
      movie.total_budget_value
    FROM movie
    LEFT JOIN production ON production.movie_id = movie.movie_id
  )
SELECT
  joined.country,
  count(joined.movie_key) FILTER (WHERE joined.movie_row = 1) AS movie_count,
  sum(joined.total_budget_value) FILTER (WHERE joined.movie_row = 1) AS total_budget
FROM joined
GROUP BY joined.country
ORDER BY total_budget DESC NULLS LAST
