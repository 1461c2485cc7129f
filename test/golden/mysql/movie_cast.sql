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
    WHERE status = 'released'
  ),
  -- movie_talent (via movie -> movie_talent)
  movie_talent AS (
    SELECT
      movie_id,
      talent_id,
      billing_order
    FROM studio.movie_talent
    WHERE
      role = 'actor'
      AND billing_order <= 3
  ),
  -- talent: latest row per talent_id, deletes dropped (via movie -> movie_talent -> talent)
  talent AS (
    SELECT
      talent_id,
      full_name,
      agency,
      day_rate_usd
    FROM (
      SELECT
        talent_id,
        full_name,
        agency,
        day_rate_usd,
        row_number() OVER (PARTITION BY talent_id ORDER BY _op_ts DESC, _seq DESC) AS _version,
        coalesce((_op = 'd'), FALSE) AS _deleted
      FROM studio_raw.talent_changes
    ) AS versions
    WHERE
      _version = 1
      AND NOT _deleted
  )
SELECT
  movie.title,
  movie_talent.billing_order,
  talent.full_name,
  talent.agency,
  talent.day_rate_usd
FROM movie
INNER JOIN movie_talent ON movie_talent.movie_id = movie.movie_id
LEFT JOIN talent ON talent.talent_id = movie_talent.talent_id
ORDER BY movie.title IS NULL, movie.title ASC, movie_talent.billing_order IS NULL, movie_talent.billing_order ASC
