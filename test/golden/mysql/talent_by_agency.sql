WITH
  -- talent: latest row per talent_id, deletes dropped
  talent AS (
    SELECT
      agency,
      active_talent_count_filter,
      avg_day_rate_value,
      max_day_rate_value
    FROM (
      SELECT
        agency,
        is_active AS active_talent_count_filter,
        day_rate_usd AS avg_day_rate_value,
        day_rate_usd AS max_day_rate_value,
        row_number() OVER (PARTITION BY talent_id ORDER BY _op_ts DESC, _seq DESC) AS _version,
        coalesce((_op = 'd'), FALSE) AS _deleted
      FROM studio_raw.talent_changes
    ) AS versions
    WHERE
      _version = 1
      AND NOT _deleted
  )
SELECT
  talent.agency,
  count(*) AS talent_count,
  count(CASE WHEN talent.active_talent_count_filter THEN 1 END) AS active_talent_count,
  avg(talent.avg_day_rate_value) AS avg_day_rate,
  max(talent.max_day_rate_value) AS max_day_rate
FROM talent
GROUP BY talent.agency
ORDER BY count(*) DESC
