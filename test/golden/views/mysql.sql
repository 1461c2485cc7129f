CREATE OR REPLACE VIEW studio_raw.talent_latest AS
SELECT
  talent_id,
  full_name,
  agency,
  country,
  day_rate_usd,
  is_active,
  last_changed_at
FROM (
  SELECT
    talent_id,
    full_name,
    agency,
    country,
    day_rate_usd,
    is_active,
    CAST(_op_ts AS DATETIME(6)) AS last_changed_at,
    row_number() OVER (PARTITION BY talent_id ORDER BY _op_ts DESC, _seq DESC) AS _version,
    coalesce((_op = 'd'), FALSE) AS _deleted
  FROM studio_raw.talent_changes
) AS versions
WHERE
  _version = 1
  AND NOT _deleted;
