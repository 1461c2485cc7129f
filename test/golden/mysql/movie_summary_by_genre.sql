WITH
  -- movie
  movie AS (
    SELECT
      genre,
      (status = 'active') AS active_movie_count_filter,
      (status = 'released') AS released_movie_count_filter,
      budget_usd AS total_budget_value,
      budget_usd AS avg_budget_value,
      (runtime_seconds / 60.0) AS avg_runtime_minutes_value
    FROM (
      SELECT *
      FROM studio.movie
      WHERE NOT is_test
    ) AS movie_query
  )
SELECT
  movie.genre,
  count(*) AS movie_count,
  count(CASE WHEN movie.active_movie_count_filter THEN 1 END) AS active_movie_count,
  count(CASE WHEN movie.released_movie_count_filter THEN 1 END) AS released_movie_count,
  sum(movie.total_budget_value) AS total_budget,
  avg(movie.avg_budget_value) AS avg_budget,
  (sum(movie.total_budget_value) / NULLIF(count(*), 0)) AS budget_per_movie,
  avg(movie.avg_runtime_minutes_value) AS avg_runtime_minutes
FROM movie
GROUP BY movie.genre
ORDER BY sum(movie.total_budget_value) DESC
