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
  -- the joined rows; *_row numbers each measure source row within its group so it is aggregated once
  joined AS (
    SELECT
      movie.title,
      movie_talent.talent_count_value,
      movie_talent.actor_count_filter,
      movie_talent.movie_id AS movie_talent_key,
      production_per_movie.production_count AS production_per_movie_production_count_value,
      row_number() OVER (PARTITION BY movie.title, movie.movie_id) AS movie_row
    FROM movie
    LEFT JOIN movie_talent ON movie_talent.movie_id = movie.movie_id
    LEFT JOIN production_per_movie ON production_per_movie.movie_id = movie.movie_id
  )
SELECT
  joined.title,
  coalesce(sum(CASE WHEN joined.movie_row = 1 THEN joined.production_per_movie_production_count_value END), 0) AS production_count,
  count(DISTINCT joined.talent_count_value) AS talent_count,
  count(CASE WHEN joined.actor_count_filter THEN joined.movie_talent_key END) AS actor_count
FROM joined
GROUP BY joined.title
ORDER BY joined.title IS NULL, joined.title ASC
