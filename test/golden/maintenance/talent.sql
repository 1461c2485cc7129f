DELETE FROM studio_raw.talent_changes
WHERE _seq NOT IN (
  SELECT _seq
  FROM (
    SELECT
      _seq,
      row_number() OVER (PARTITION BY talent_id ORDER BY _op_ts DESC NULLS LAST, _seq DESC NULLS LAST) AS _version,
      coalesce((_op = 'd'), FALSE) AS _deleted
    FROM studio_raw.talent_changes
  ) AS versions
  WHERE
    _version = 1
    AND NOT _deleted
);

ALTER TABLE studio_raw.talent_changes EXECUTE optimize;

ALTER TABLE studio_raw.talent_changes EXECUTE expire_snapshots(retention_threshold => '7d');

ALTER TABLE studio_raw.talent_changes EXECUTE remove_orphan_files(retention_threshold => '7d');
