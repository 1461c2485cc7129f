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
    WHERE status = 'in_production'
  ),
  -- movie_talent (via movie -> movie_talent)
  movie_talent AS (
    SELECT
      movie_id,
      talent_id AS talent_count_value,
      (role = 'actor') AS actor_count_filter
    FROM studio.movie_talent
  ),
  -- production (via movie -> production)
  production AS (
    SELECT movie_id
    FROM studio.production
  ),
  -- production aggregated per movie row before joining (one row per join key)
  production_per_movie AS (
    SELECT
      production.movie_id,
      count(*) AS production_count
    FROM production
    GROUP BY production.movie_id
  ),
  -- the joined rows: group columns, measure inputs, and the keys of sources read once per key
  joined AS MATERIALIZED (
    SELECT
      movie.title,
      movie_talent.talent_count_value,
      movie_talent.actor_count_filter,
      movie_talent.movie_id AS movie_talent_key,
      movie.movie_id AS movie_movie_id,
      production_per_movie.production_count AS production_per_movie_production_count_value
    FROM movie
    LEFT JOIN movie_talent ON movie_talent.movie_id = movie.movie_id
    LEFT JOIN production_per_movie ON production_per_movie.movie_id = movie.movie_id
  ),
  -- measures per group over every joined row
  all_rows AS (
    SELECT
      joined.title,
      count(DISTINCT joined.talent_count_value) AS talent_count,
      count(joined.movie_talent_key) FILTER (WHERE joined.actor_count_filter) AS actor_count
    FROM joined
    GROUP BY joined.title
  ),
  -- movie measures per group, each movie row once
  movie_once AS (
    SELECT
      joined.title,
      sum(joined.production_per_movie_production_count_value) AS production_per_movie_production_count
    FROM (
      SELECT DISTINCT
        joined.title,
        joined.movie_movie_id,
        joined.production_per_movie_production_count_value
      FROM joined
    ) AS joined
    GROUP BY joined.title
  )
SELECT
  all_rows.title,
  coalesce(movie_once.production_per_movie_production_count, 0) AS production_count,
  all_rows.talent_count,
  all_rows.actor_count
FROM all_rows
INNER JOIN movie_once ON movie_once.title IS NOT DISTINCT FROM all_rows.title
ORDER BY title ASC NULLS LAST
