-- 0015 Community build: late data of any age reaches every rollup, and a refresh over any
-- range works.
--
-- The refresh policies (0002) only look back start_offset (1 minute rollup: 1 day,
-- 15 minutes: 3 days, hourly: 7 days, daily: 30 days); a reading older than that, arriving
-- late (a gateway replaying its queue, a gap refill), was stored but never reached the
-- rollups. Now the ingestor logs, in the same transaction as the readings, the time
-- ranges of a batch that start before rollup.late_before() (12 hours ago: well inside
-- every policy's window, with room for a policy run that is late or retried); the
-- analytics worker reads rollup.pending_windows(), refreshes each window with
-- refresh_continuous_aggregate() (it owns the aggregates through emusa_rollup_owner,
-- 0014) and deletes the ranges it did. Newer data is the policies' work, and real-time
-- aggregation shows it meanwhile.
--
-- refresh_continuous_aggregate() refreshes whole buckets only and refuses a window that
-- holds none, so rollup.refresh_windows(from, to) aligns a range outward to whole buckets
-- of each aggregate (the daily one: local midnights, America/Sao_Paulo, as its
-- time_bucket in 0002), then clips it:
-- * at the end, to where the aggregate's refresh policy stops (end_offset before now,
--   bucket-aligned): materializing the running bucket would freeze it in the real-time
--   view until the next refresh;
-- * at the start, to the raw readings' retention (dropped after 400 days, 1-day chunks):
--   re-aggregating a bucket whose raw readings were dropped would replace the rollup,
--   kept longer, with what is left of them.
-- The aggregates of a grain are found by name (rollup.agg_<grain>, rollup.agg_<grain>_*),
-- so aggregates added later for new columns are refreshed with their grain.

CREATE TABLE rollup.invalidations (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    range_start timestamptz NOT NULL,
    range_end   timestamptz NOT NULL CHECK (range_end >= range_start),
    logged_at   timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE rollup.invalidations IS
    'Time ranges of late readings (older than rollup.late_before()) written by the ingestor, not yet refreshed by the analytics worker.';
GRANT INSERT ON rollup.invalidations TO emusa_ingestor;
GRANT SELECT, DELETE ON rollup.invalidations TO emusa_analytics;

-- The readings older than this are logged by the ingestor (newer ones: the policies).
CREATE FUNCTION rollup.late_before() RETURNS timestamptz
LANGUAGE sql STABLE
AS $$ SELECT now() - INTERVAL '12 hours' $$;

-- One row per grain: bucket width and the end_offset of its refresh policy (0002).
CREATE TABLE rollup.refresh_grains (
    grain      text PRIMARY KEY,
    ord        integer NOT NULL UNIQUE,
    width      interval NOT NULL,
    local_days boolean NOT NULL,
    end_offset interval NOT NULL
);
INSERT INTO rollup.refresh_grains VALUES
    ('1m', 1, INTERVAL '1 minute', false, INTERVAL '1 minute'),
    ('15m', 2, INTERVAL '15 minutes', false, INTERVAL '15 minutes'),
    ('1h', 3, INTERVAL '1 hour', false, INTERVAL '1 hour'),
    ('1d', 4, INTERVAL '1 day', true, INTERVAL '1 hour');
GRANT SELECT ON rollup.refresh_grains TO emusa_analytics;

-- Start of the bucket holding ts, and start of the next bucket.
CREATE FUNCTION rollup.bucket_floor(width interval, local_days boolean, ts timestamptz)
RETURNS timestamptz
LANGUAGE sql STABLE
SET search_path = pg_catalog, public
AS $$
    SELECT CASE WHEN local_days THEN time_bucket(width, ts, 'America/Sao_Paulo')
                ELSE time_bucket(width, ts) END
$$;

CREATE FUNCTION rollup.bucket_next(width interval, local_days boolean, ts timestamptz)
RETURNS timestamptz
LANGUAGE sql STABLE
SET search_path = pg_catalog, public
AS $$
    SELECT CASE WHEN local_days  -- wall-clock days: a DST day is 23 or 25 hours long
                THEN ((rollup.bucket_floor(width, true, ts) AT TIME ZONE 'America/Sao_Paulo')
                      + width) AT TIME ZONE 'America/Sao_Paulo'
                ELSE rollup.bucket_floor(width, false, ts) + width END
$$;

-- Each rollup aggregate with the whole-bucket window covering [p_from, p_to], clipped as
-- said above; no row for an aggregate whose clipped window is empty.
CREATE FUNCTION rollup.refresh_windows(p_from timestamptz, p_to timestamptz)
RETURNS TABLE (cagg regclass, window_start timestamptz, window_end timestamptz)
LANGUAGE sql STABLE
SET search_path = pg_catalog, public
AS $$
    SELECT format('%I.%I', c.view_schema, c.view_name)::regclass, w.lo, w.hi
    FROM rollup.refresh_grains g
    JOIN timescaledb_information.continuous_aggregates c
      ON c.view_schema = 'rollup' AND c.view_name ~ ('^agg_' || g.grain || '(_.*)?$')
    CROSS JOIN LATERAL (
        SELECT greatest(rollup.bucket_floor(g.width, g.local_days, p_from),
                        rollup.bucket_next(g.width, g.local_days, now() - INTERVAL '399 days')) AS lo,
               least(rollup.bucket_next(g.width, g.local_days, p_to),
                     rollup.bucket_floor(g.width, g.local_days, now() - g.end_offset)) AS hi
    ) w
    WHERE w.lo < w.hi
    ORDER BY g.ord, c.view_name
$$;

-- The windows to refresh for the logged ranges with id <= p_upto: per aggregate, the
-- refresh windows of the ranges, overlapping or adjacent ones merged.
CREATE FUNCTION rollup.pending_windows(p_upto bigint)
RETURNS TABLE (cagg regclass, window_start timestamptz, window_end timestamptz)
LANGUAGE sql STABLE
SET search_path = pg_catalog, public
AS $$
    WITH w AS (
        SELECT r.cagg, r.window_start, r.window_end
        FROM rollup.invalidations i
        CROSS JOIN LATERAL rollup.refresh_windows(i.range_start, i.range_end) r
        WHERE i.id <= p_upto
    ), marked AS (
        SELECT *, max(window_end) OVER (PARTITION BY cagg ORDER BY window_start, window_end
                                        ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) AS prev_end
        FROM w
    ), islands AS (
        SELECT *, count(*) FILTER (WHERE prev_end IS NULL OR window_start > prev_end)
                      OVER (PARTITION BY cagg ORDER BY window_start, window_end) AS island
        FROM marked
    )
    SELECT cagg, min(window_start), max(window_end)
    FROM islands
    GROUP BY cagg, island
    ORDER BY min(window_start), cagg::text
$$;
