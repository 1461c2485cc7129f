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
  -- the joined rows: group columns, measure inputs, and the keys of sources read once per key
  joined AS (
    SELECT
      production.country,
      movie.movie_id AS movie_movie_id,
      movie.total_budget_value
    FROM movie
    LEFT JOIN production ON production.movie_id = movie.movie_id
  )
SELECT
  joined.country,
  count(joined.movie_movie_id) AS movie_count,
  sum(joined.total_budget_value) AS total_budget
FROM (
  SELECT DISTINCT
    joined.country,
    joined.movie_movie_id,
    joined.total_budget_value
  FROM joined
) AS joined
GROUP BY joined.country
ORDER BY total_budget DESC NULLS LAST
