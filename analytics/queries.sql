-- Named queries of the analytics worker, loaded once by analytics/store.py.
-- Parameters are psycopg named placeholders; no value is ever pasted into the text.

-- name: sites
SELECT site_id, timezone, pf_reference FROM sites ORDER BY site_id;

-- name: meters
SELECT meter_id, name, nominal_voltage_ln, nominal_voltage_ll
FROM meters WHERE site_id = %(site)s ORDER BY meter_id;

-- name: minute_rows
SELECT r.meter_id, r.bucket, r.samples,
       r.v_l1n_avg, r.v_l2n_avg, r.v_l3n_avg, r.v_l12_avg, r.v_l23_avg, r.v_l31_avg,
       r.i_l1_avg, r.i_l2_avg, r.i_l3_avg, r.freq_avg, r.p_total_avg, r.q_total_avg,
       r.pf_total_avg
FROM rollup.agg_1m r
JOIN meters m ON m.meter_id = r.meter_id
WHERE m.site_id = %(site)s AND r.bucket >= %(start)s AND r.bucket < %(end)s
ORDER BY r.meter_id, r.bucket;

-- name: minute_rows_extremes
-- minute_rows with the extremes the rules on short events read (analytics/extremes.py,
-- analytics/quality.py); the model and the summaries read minute_rows.
SELECT r.meter_id, r.bucket, r.samples,
       r.v_l1n_avg, r.v_l2n_avg, r.v_l3n_avg, r.v_l12_avg, r.v_l23_avg, r.v_l31_avg,
       r.i_l1_avg, r.i_l2_avg, r.i_l3_avg, r.freq_avg, r.p_total_avg, r.q_total_avg,
       r.pf_total_avg,
       r.v_l1n_min, r.v_l1n_max, r.v_l2n_min, r.v_l2n_max, r.v_l3n_min, r.v_l3n_max,
       r.i_l1_min, r.i_l1_max, r.i_l2_min, r.i_l2_max, r.i_l3_min, r.i_l3_max,
       r.p_total_min, r.p_total_max, r.q_total_min, r.q_total_max, r.freq_min, r.freq_max
FROM rollup.agg_1m r
JOIN meters m ON m.meter_id = r.meter_id
WHERE m.site_id = %(site)s AND r.bucket >= %(start)s AND r.bucket < %(end)s
ORDER BY r.meter_id, r.bucket;

-- name: hourly_rows
SELECT r.meter_id, r.bucket, r.samples, r.p_total_avg, r.q_total_avg
FROM rollup.agg_1h r
JOIN meters m ON m.meter_id = r.meter_id
WHERE m.site_id = %(site)s AND r.bucket >= %(start)s AND r.bucket < %(end)s
ORDER BY r.meter_id, r.bucket;

-- name: demand_rows
-- Site demand per 15-minute interval against contracted + tolerance (bi view), with
-- the average powers of the interval for the power factor.
SELECT b.time_utc AS bucket, b.demand_kw, b.limit_kw, b.exceeds_limit, b.energy_kwh,
       s.p_total_avg, s.q_total_avg
FROM bi.site_demand_15m b
JOIN site_demand_15m s ON s.site_id = b.site_id AND s.bucket = b.time_utc
WHERE b.site_id = %(site)s AND b.time_utc >= %(start)s AND b.time_utc < %(end)s
ORDER BY b.time_utc;

-- name: raw_voltage
-- Raw phase voltages of the short windows (meter, start, end) the extremes rules ask for.
SELECT r.meter_id, r.time, r.v_l1n, r.v_l2n, r.v_l3n
FROM unnest(%(meters)s::int[], %(starts)s::timestamptz[], %(ends)s::timestamptz[])
     AS w(meter_id, t0, t1)
JOIN readings r ON r.meter_id = w.meter_id AND r.time >= w.t0 AND r.time < w.t1
ORDER BY r.meter_id, r.time;

-- name: last_before
-- Per meter, the last minute with data before the evaluated range (silence detection).
SELECT m.meter_id,
       (SELECT r.bucket FROM rollup.agg_1m r
        WHERE r.meter_id = m.meter_id AND r.bucket < %(start)s
        ORDER BY r.bucket DESC LIMIT 1) AS last_bucket
FROM meters m WHERE m.site_id = %(site)s;

-- name: first_data
SELECT min((SELECT r.bucket FROM rollup.agg_1m r WHERE r.meter_id = m.meter_id
            ORDER BY r.bucket LIMIT 1))
FROM meters m WHERE m.site_id = %(site)s;

-- name: open_events
-- Events the new episodes may extend: ongoing, or ended recently.
SELECT anomaly_id, site_id, meter_id, kind, severity, started_at, ended_at,
       coalesce((details ->> 'last_seen')::timestamptz, ended_at, started_at) AS last_seen,
       measured, coalesce((details ->> 'badness')::float8, 0) AS badness
FROM anomalies
WHERE site_id = %(site)s AND (ended_at IS NULL OR ended_at >= %(since)s);

-- name: insert_event
INSERT INTO anomalies (site_id, meter_id, kind, detector, severity, started_at, ended_at,
                       quantity, measured, limit_value, message_pt, message_en, details)
VALUES (%(site)s, %(meter_id)s, %(kind)s, %(detector)s, %(severity)s, %(started_at)s,
        %(ended_at)s, %(quantity)s, %(measured)s, %(limit)s, %(message_pt)s, %(message_en)s,
        %(details)s)
ON CONFLICT ON CONSTRAINT anomalies_event_key DO UPDATE
SET severity = EXCLUDED.severity, ended_at = EXCLUDED.ended_at, measured = EXCLUDED.measured,
    limit_value = EXCLUDED.limit_value, message_pt = EXCLUDED.message_pt,
    message_en = EXCLUDED.message_en, details = EXCLUDED.details, updated_at = now()
RETURNING anomaly_id, (xmax = 0) AS inserted, ended_at;

-- name: update_event
UPDATE anomalies
SET severity = %(severity)s, ended_at = %(ended_at)s, measured = %(measured)s,
    limit_value = coalesce(%(limit)s, limit_value), quantity = coalesce(%(quantity)s, quantity),
    message_pt = coalesce(%(message_pt)s, message_pt),
    message_en = coalesce(%(message_en)s, message_en),
    details = details || %(details)s, updated_at = now()
WHERE anomaly_id = %(anomaly_id)s
RETURNING anomaly_id, started_at, ended_at, severity, kind, detector, meter_id, quantity,
          measured, limit_value, message_pt, message_en;

-- name: event_payload
SELECT a.anomaly_id, a.site_id, m.name AS meter, a.kind, a.detector, a.severity,
       a.started_at, a.ended_at, a.quantity, a.measured, a.limit_value,
       a.message_pt, a.message_en, a.details
FROM anomalies a LEFT JOIN meters m ON m.meter_id = a.meter_id
WHERE a.anomaly_id = %(anomaly_id)s;

-- name: window_events
SELECT a.kind, a.severity, m.name AS meter, a.started_at, a.message_pt, a.message_en
FROM anomalies a LEFT JOIN meters m ON m.meter_id = a.meter_id
WHERE a.site_id = %(site)s AND a.started_at < %(end)s
  AND coalesce(a.ended_at, 'infinity') > %(start)s
ORDER BY CASE a.severity WHEN 'critical' THEN 0 WHEN 'warning' THEN 1 ELSE 2 END, a.started_at;

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

-- name: off_days
-- National holidays and the site's own (the statistical model's day groups).
SELECT h.day FROM generate_series(%(y0)s::int, %(y1)s::int) AS y,
     LATERAL emusa_br_national_holidays(y) AS h
UNION
SELECT day FROM holidays WHERE site_id = %(site)s;

-- name: training_events
-- Rule events on a site's meters within the model's training window: their minutes are
-- left out of training (the model's own events are not: a lasting new pattern is learnt).
SELECT meter_id, started_at, coalesce(ended_at, %(end)s) AS ended_at
FROM anomalies
WHERE site_id = %(site)s AND detector = 'rule' AND meter_id IS NOT NULL
  AND started_at < %(end)s AND coalesce(ended_at, 'infinity') > %(start)s;

-- name: model_status
-- The statistical model's state (day groups scored or still warming up) at its latest
-- fit before a summary window's end (written by analytics/jobs.py as job 'model_fit').
SELECT details FROM analytics_job_runs
WHERE job = 'model_fit' AND site_id = %(site)s AND period_start < %(end)s
ORDER BY period_start DESC
LIMIT 1;

-- name: insert_summary
INSERT INTO summaries (site_id, period_start, period_end, text_pt, text_en, source, metrics)
VALUES (%(site)s, %(start)s, %(end)s, %(text_pt)s, %(text_en)s, %(source)s, %(metrics)s)
ON CONFLICT (site_id, period_start, period_end) DO NOTHING
RETURNING summary_id;
