-- 0015 Apache-only build: late data costs what it touched, not what lies between.
--
-- The ingestor logs each batch's time ranges in rollup.invalidations (since this
-- migration: one range per group of readings less than an hour apart, so a batch holding
-- a replayed old reading and live ones logs two short ranges, not the span between them).
-- rollup.refresh_pending() used to refresh from the oldest logged start to the newest end
-- in one go: one reading stamped 399 days ago made it re-aggregate 399 days of every
-- meter. Now it merges only ranges that overlap or lie less than an hour apart and
-- refreshes each merged range alone (its minutes from the raw readings, then the
-- 15-minute, hourly and local-day buckets holding them, from the minute rollup).
--
-- rollup.late_before(): the ingestor logs the ranges starting before it. On this build
-- nothing else refreshes the rollups, so every range is logged ('infinity'); on the
-- Community build it is 12 hours ago (0015_*.timescale.sql).
CREATE FUNCTION rollup.late_before() RETURNS timestamptz
LANGUAGE sql STABLE
AS $$ SELECT 'infinity'::timestamptz $$;

CREATE OR REPLACE FUNCTION rollup.refresh_pending() RETURNS integer
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, public
AS $$
DECLARE
    los timestamptz[];
    his timestamptz[];
    n   integer;
BEGIN
    PERFORM pg_advisory_xact_lock(hashtext('emusa.rollup.refresh'));
    WITH done AS (
        DELETE FROM rollup.invalidations RETURNING range_start, range_end
    ), marked AS (
        SELECT *, max(range_end) OVER (ORDER BY range_start, range_end
                                       ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) AS prev_end
        FROM done
    ), islands AS (
        SELECT *, count(*) FILTER (WHERE prev_end IS NULL
                                      OR range_start > prev_end + INTERVAL '1 hour')
                      OVER (ORDER BY range_start, range_end) AS island
        FROM marked
    ), merged AS (
        SELECT min(range_start) AS lo, max(range_end) AS hi, count(*) AS k
        FROM islands GROUP BY island
    )
    SELECT array_agg(lo ORDER BY lo), array_agg(hi ORDER BY lo), coalesce(sum(k), 0)
    INTO los, his, n
    FROM merged;
    FOR i IN 1 .. coalesce(array_length(los, 1), 0) LOOP
        PERFORM rollup.refresh(los[i], his[i]);
    END LOOP;
    RETURN n;
END
$$;
REVOKE ALL ON FUNCTION rollup.refresh_pending() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION rollup.refresh_pending() TO emusa_analytics;
