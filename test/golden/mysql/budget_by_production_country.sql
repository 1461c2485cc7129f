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
  count(CASE WHEN joined.movie_row = 1 THEN joined.movie_key END) AS movie_count,
  sum(CASE WHEN joined.movie_row = 1 THEN joined.total_budget_value END) AS total_budget
FROM joined
GROUP BY joined.country
ORDER BY sum(CASE WHEN joined.movie_row = 1 THEN joined.total_budget_value END) DESC
