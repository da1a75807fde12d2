-- Named queries of the worker (analytics/worker/): the sites and meters it works over,
-- the jobs' state (watermarks, locks, claimed periods), the outbox and the retention.
-- Parameters are psycopg named placeholders; no value is ever pasted into the text.

-- name: sites
SELECT site_id, timezone, pf_reference FROM sites ORDER BY site_id;

-- name: meters
SELECT meter_id, name, nominal_voltage_ln, nominal_voltage_ll
FROM meters WHERE site_id = %(site)s ORDER BY meter_id;

-- name: first_data
-- The later of the site's first minute of data and %(since)s (the callers start there),
-- NULL when the site has no data. Reads from %(since)s on: the first minute of a long
-- history is not looked for (over a year of a continuous aggregate that search sorted
-- every materialized minute: 0.5-1.3 s; make bench-history, issue 17).
SELECT CASE
    WHEN bool_or(EXISTS (SELECT 1 FROM rollup.agg_1m r
                         WHERE r.meter_id = m.meter_id AND r.bucket < %(since)s))
        THEN %(since)s
    ELSE min((SELECT min(r.bucket) FROM rollup.agg_1m r
              WHERE r.meter_id = m.meter_id AND r.bucket >= %(since)s))
END
FROM meters m WHERE m.site_id = %(site)s;

-- name: watermark
SELECT watermark FROM analytics_watermarks WHERE job = %(job)s AND site_id = %(site)s;

-- name: set_watermark
INSERT INTO analytics_watermarks (job, site_id, watermark) VALUES (%(job)s, %(site)s, %(watermark)s)
ON CONFLICT (job, site_id) DO UPDATE
SET watermark = greatest(analytics_watermarks.watermark, EXCLUDED.watermark), updated_at = now();

-- name: try_lock
-- Transaction-level: one worker at a time runs a continuous job for a site.
SELECT pg_try_advisory_xact_lock(hashtext('emusa.analytics.' || %(job)s), hashtext(%(site)s));

-- name: period_done
SELECT 1 FROM analytics_job_runs
WHERE job = %(job)s AND site_id = %(site)s AND period_start = %(start)s;

-- name: claim_period
-- A second worker blocks here until the first commits, then gets no row: done once.
INSERT INTO analytics_job_runs (job, site_id, period_start, period_end, worker)
VALUES (%(job)s, %(site)s, %(start)s, %(end)s, %(worker)s)
ON CONFLICT DO NOTHING
RETURNING 1;

-- name: finish_period
UPDATE analytics_job_runs SET details = %(details)s, finished_at = now()
WHERE job = %(job)s AND site_id = %(site)s AND period_start = %(start)s;

-- name: outbox_add
INSERT INTO analytics_outbox (site_id, channel, event, anomaly_id, summary_id, payload)
VALUES (%(site)s, %(channel)s, %(event)s, %(anomaly_id)s, %(summary_id)s, %(payload)s)
ON CONFLICT DO NOTHING;

-- name: outbox_pending
-- Locked so that two workers never publish the same message at the same time.
SELECT message_id, site_id, channel, payload FROM analytics_outbox
WHERE published_at IS NULL ORDER BY message_id LIMIT %(limit)s
FOR UPDATE SKIP LOCKED;

-- name: outbox_done
UPDATE analytics_outbox SET published_at = now(), attempts = attempts + 1, last_error = NULL
WHERE message_id = %(message_id)s;

-- name: outbox_failed
UPDATE analytics_outbox SET attempts = attempts + 1, last_error = %(error)s
WHERE message_id = %(message_id)s;

-- name: drop_old_diagnostics
-- Apache build: drop_chunks of the Modbus diagnostics older than 90 days (migration
-- 0011); Community build: its retention policies do it, and the call returns 0.
SELECT emusa_drop_old_diagnostics() AS dropped;

-- Rollup refresh (analytics/worker/rollups.py): positional parameters.

-- name: timescaledb_license
-- 'timescale' on the Community build (continuous aggregates), else the Apache build.
SELECT current_setting('timescaledb.license', true);

-- name: rollup_refresh
-- Apache build: re-aggregate the rollup tables over [%s, %s] (SECURITY DEFINER).
SELECT rollup.refresh(%s, %s);

-- name: rollup_refresh_pending
-- Apache build: the ranges the ingestor logged; returns how many were done.
SELECT rollup.refresh_pending();

-- name: refresh_windows
-- Community build: the whole-bucket windows of every continuous aggregate over a range.
SELECT cagg, window_start, window_end FROM rollup.refresh_windows(%s, %s);

-- name: pending_windows
-- Community build: the windows of the ranges logged up to an invalidation id.
SELECT cagg, window_start, window_end FROM rollup.pending_windows(%s);

-- name: pending_ranges
SELECT max(id), count(*) FROM rollup.invalidations;

-- name: forget_pending_ranges
DELETE FROM rollup.invalidations WHERE id <= %s;

-- name: refresh_cagg
-- A procedure: never inside a transaction block (the connection is in autocommit).
CALL refresh_continuous_aggregate(%s::regclass, %s, %s);

-- name: jit_off
SET jit = off;

-- name: pending_lock
-- Session-level: another worker refreshing the pending windows makes this one skip.
SELECT pg_try_advisory_lock(hashtext(%s));

-- name: pending_unlock
SELECT pg_advisory_unlock(hashtext(%s));

-- name: tariff_period
SELECT emusa_tariff_period(%s, %s);
