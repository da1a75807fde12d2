-- 0013 Community build: `ingest_rejects` (the dead letters) kept for a bounded time and
-- size. As on the Apache build (0013_ingest_rejects_bounds.apache.sql, which explains the
-- bounds): a hypertable of one-day chunks and emusa_trim_ingest_rejects(), called by the
-- ingestor, keeping the newest `per_reason` rows of each reason. Here TimescaleDB's
-- retention policy (a background job) drops the chunks older than 30 days, so the
-- function does not drop chunks and returns chunks_dropped = 0.
ALTER TABLE ingest_rejects DROP CONSTRAINT ingest_rejects_pkey;
ALTER TABLE ingest_rejects ADD PRIMARY KEY (reject_id, received_at);
SELECT create_hypertable('ingest_rejects', by_range('received_at', INTERVAL '1 day'),
                         migrate_data => true);
CREATE INDEX ingest_rejects_reason_idx ON ingest_rejects (reason, received_at DESC);
SELECT add_retention_policy('ingest_rejects', drop_after => INTERVAL '30 days');

CREATE FUNCTION emusa_trim_ingest_rejects(
    keep interval DEFAULT INTERVAL '30 days', per_reason integer DEFAULT 10000
) RETURNS TABLE (chunks_dropped integer, rows_deleted bigint)
LANGUAGE plpgsql VOLATILE
SECURITY DEFINER
SET search_path = public, pg_temp
AS $$
BEGIN
    IF per_reason < 1 THEN
        RAISE EXCEPTION 'emusa_trim_ingest_rejects: per_reason must be at least 1, got %', per_reason;
    END IF;
    chunks_dropped := 0;  -- the retention policy drops the chunks older than 30 days
    DELETE FROM ingest_rejects r
    USING (SELECT x.reject_id, x.received_at
           FROM (SELECT reject_id, received_at,
                        row_number() OVER (PARTITION BY reason
                                           ORDER BY received_at DESC, reject_id DESC) AS n
                 FROM ingest_rejects
                 WHERE reason IN (SELECT reason FROM ingest_rejects GROUP BY reason
                                  HAVING count(*) > per_reason)) x
           WHERE x.n > per_reason) old
    WHERE r.reject_id = old.reject_id AND r.received_at = old.received_at;
    GET DIAGNOSTICS rows_deleted = ROW_COUNT;
    RETURN NEXT;
END
$$;
COMMENT ON FUNCTION emusa_trim_ingest_rejects(interval, integer) IS
    'Keep the newest per_reason rows of each reason of ingest_rejects (Community build: the retention policy drops the chunks older than 30 days); returns what it removed.';
REVOKE ALL ON FUNCTION emusa_trim_ingest_rejects(interval, integer) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION emusa_trim_ingest_rejects(interval, integer)
    TO emusa_ingestor, emusa_analytics;
