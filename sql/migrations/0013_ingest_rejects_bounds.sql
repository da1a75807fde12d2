-- 0013 `ingest_rejects` (the dead letters) kept for a bounded time and size, on both
-- TimescaleDB builds. A flood of bad or unknown-meter messages must not fill the disk:
-- the table becomes a hypertable of one-day chunks, and emusa_trim_ingest_rejects() drops
-- the chunks older than `keep` (default 30 days) and, of each reason, deletes all but the
-- newest `per_reason` rows (default 10,000). The ingestor calls it about once a minute
-- while it stores rejects, and stores at most `per_reason` rejects of one reason between
-- two calls, so a reason never holds more than 2 x per_reason rows (payloads are cut at
-- EMUSA_INGESTOR_REJECT_KEEP_BYTES). It runs with the rights of the migration owner (who
-- owns the hypertable); the ingestor and analytics roles may only call it.
-- On the Community build a retention policy (a background job) also drops the chunks
-- older than 30 days, whether or not an ingestor runs; the Apache build has no policies.
ALTER TABLE ingest_rejects DROP CONSTRAINT ingest_rejects_pkey;
ALTER TABLE ingest_rejects ADD PRIMARY KEY (reject_id, received_at);
SELECT create_hypertable('ingest_rejects', by_range('received_at', INTERVAL '1 day'),
                         migrate_data => true);
CREATE INDEX ingest_rejects_reason_idx ON ingest_rejects (reason, received_at DESC);
DO $$
BEGIN
    IF current_setting('timescaledb.license') = 'timescale' THEN
        PERFORM add_retention_policy('ingest_rejects', drop_after => INTERVAL '30 days');
    END IF;
END
$$;

CREATE FUNCTION emusa_trim_ingest_rejects(
    keep interval DEFAULT INTERVAL '30 days', per_reason integer DEFAULT 10000
) RETURNS TABLE (chunks_dropped integer, rows_deleted bigint)
LANGUAGE plpgsql VOLATILE
SECURITY DEFINER
SET search_path = public, pg_temp
AS $$
BEGIN
    IF keep < INTERVAL '1 day' THEN
        RAISE EXCEPTION 'emusa_trim_ingest_rejects: keep must be at least 1 day, got %', keep;
    END IF;
    IF per_reason < 1 THEN
        RAISE EXCEPTION 'emusa_trim_ingest_rejects: per_reason must be at least 1, got %', per_reason;
    END IF;
    SELECT count(*)::integer INTO chunks_dropped
    FROM drop_chunks('ingest_rejects', older_than => keep);
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
    'Drop the ingest_rejects chunks older than keep and keep the newest per_reason rows of each reason; returns what it removed.';
REVOKE ALL ON FUNCTION emusa_trim_ingest_rejects(interval, integer) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION emusa_trim_ingest_rejects(interval, integer)
    TO emusa_ingestor, emusa_analytics;
