-- Named queries of detection (analytics/detection/): the rollups and raw readings the
-- rules, the statistical model and the counter cross-check read, and the events.
-- Parameters are psycopg named placeholders; no value is ever pasted into the text.

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
-- minute_rows with the extremes the rules on short events read (detection/extremes.py,
-- detection/quality.py); the statistical model and the summaries read minute_rows.
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
-- the average powers of the interval for the power factor. The range is given to both
-- sides: the planner does not carry it across the join into the grouped view, and
-- without it the second side reads every 15-minute bucket of the history (185 ms for a
-- 6-hour window at a year of history, 10 ms with it; make bench-history, issue 17).
SELECT b.time_utc AS bucket, b.demand_kw, b.limit_kw, b.exceeds_limit, b.energy_kwh,
       s.p_total_avg, s.q_total_avg
FROM bi.site_demand_15m b
JOIN site_demand_15m s ON s.site_id = b.site_id AND s.bucket = b.time_utc
WHERE b.site_id = %(site)s AND b.time_utc >= %(start)s AND b.time_utc < %(end)s
  AND s.bucket >= %(start)s AND s.bucket < %(end)s
ORDER BY b.time_utc;

-- name: raw_voltage
-- Raw phase voltages of the short windows (meter, start, end) the extremes rules ask for.
SELECT r.meter_id, r.time, r.v_l1n, r.v_l2n, r.v_l3n
FROM unnest(%(meters)s::int[], %(starts)s::timestamptz[], %(ends)s::timestamptz[])
     AS w(meter_id, t0, t1)
JOIN readings r ON r.meter_id = w.meter_id AND r.time >= w.t0 AND r.time < w.t1
-- the windows' span (min start, max end) as constants: with the join alone the planner
-- keeps every chunk of the history (848 ms at a year; make bench-history, issue 17)
WHERE r.time >= %(lo)s AND r.time < %(hi)s
ORDER BY r.meter_id, r.time;

-- name: last_before
-- Per meter, the last minute with data before the evaluated range (silence detection):
-- looked for in the day before the range, then in the 30 days before that, then anywhere
-- (coalesce stops at the first one found). On the Community build a search over the whole
-- continuous aggregate sorts every materialized minute (0.9 s at a year of history;
-- make bench-history, issue 17); a meter that reported within the day reads that day.
SELECT m.meter_id,
       coalesce(
           (SELECT r.bucket FROM rollup.agg_1m r
            WHERE r.meter_id = m.meter_id AND r.bucket < %(start)s
              AND r.bucket >= %(start)s - INTERVAL '1 day'
            ORDER BY r.bucket DESC LIMIT 1),
           (SELECT r.bucket FROM rollup.agg_1m r
            WHERE r.meter_id = m.meter_id AND r.bucket < %(start)s - INTERVAL '1 day'
              AND r.bucket >= %(start)s - INTERVAL '31 days'
            ORDER BY r.bucket DESC LIMIT 1),
           (SELECT r.bucket FROM rollup.agg_1m r
            WHERE r.meter_id = m.meter_id AND r.bucket < %(start)s - INTERVAL '31 days'
            ORDER BY r.bucket DESC LIMIT 1)) AS last_bucket
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

-- name: crosscheck
-- Counter cross-check figures (detection/crosscheck.py): per meter and hour, the meter's
-- import counter (e_imp_kwh) against the integral of its active power (p_total).
--
-- A "pair" is two consecutive readings of a meter that carry both values; it belongs to
-- the hour of its later reading, so an hour's counter pairs telescope to the counter
-- delta between hour boundaries (as readings_1h computes energy). The reading just
-- before the range (up to %(reach)s earlier) opens its first pair.
-- A pair longer than %(gap_factor)s x the median interval of its meter-hour (and longer
-- than %(min_gap_s)s s) is a gap: not integrated, its counter advance reported apart.
-- Power is integrated with trapezoids of max(P, 0): only imported energy is compared.
-- Only complete hours (hour + 1 h <= %(end)s) are returned.
-- resolution_kwh, the smallest counter advance of a pair, bounds the counter's step size.
-- The "step" is the pair whose counter advance differs most from its trapezoid.
WITH meter AS (
    SELECT meter_id FROM meters WHERE site_id = %(site)s
), raw AS (
    SELECT r.meter_id, r.time, r.p_total, r.e_imp_kwh
    FROM readings r JOIN meter USING (meter_id)
    WHERE r.time >= %(start)s AND r.time < %(end)s
      AND r.p_total IS NOT NULL AND r.e_imp_kwh IS NOT NULL
    UNION ALL
    SELECT b.meter_id, b.time, b.p_total, b.e_imp_kwh
    FROM meter CROSS JOIN LATERAL (
        SELECT r.meter_id, r.time, r.p_total, r.e_imp_kwh
        FROM readings r
        WHERE r.meter_id = meter.meter_id
          AND r.time < %(start)s AND r.time >= %(start)s - %(reach)s
          AND r.p_total IS NOT NULL AND r.e_imp_kwh IS NOT NULL
        ORDER BY r.time DESC LIMIT 1
    ) b
), pair AS (
    SELECT meter_id,
           date_bin('1 hour', time, TIMESTAMPTZ '2000-01-01 00:00:00+00') AS hour,
           lag(time) OVER w AS t0,
           time AS t1,
           extract(epoch FROM time - lag(time) OVER w)::float8 AS dt,
           e_imp_kwh - lag(e_imp_kwh) OVER w AS de,
           (greatest(p_total, 0) + greatest(lag(p_total) OVER w, 0)) / 2
               * extract(epoch FROM time - lag(time) OVER w)::float8 / 3600 AS trap,
           lag(e_imp_kwh) OVER w AS e_before,
           e_imp_kwh AS e_after
    FROM raw
    WINDOW w AS (PARTITION BY meter_id ORDER BY time)
), typical AS MATERIALIZED (
    -- computed once: on a chunk without statistics yet (a bulk load, a new chunk) the
    -- planner nested-looped over it, re-aggregating every pair for each pair (minutes)
    SELECT meter_id, hour, percentile_cont(0.5) WITHIN GROUP (ORDER BY dt) AS interval_s
    FROM pair WHERE t0 IS NOT NULL
    GROUP BY meter_id, hour
), judged AS (
    SELECT p.*, t.interval_s,
           p.dt <= greatest(%(gap_factor)s * t.interval_s, %(min_gap_s)s) AS ok,
           row_number() OVER (PARTITION BY p.meter_id, p.hour ORDER BY abs(p.de - p.trap) DESC) AS rank
    FROM pair p JOIN typical t USING (meter_id, hour)
    WHERE p.t0 IS NOT NULL AND p.hour >= %(start)s AND p.hour + INTERVAL '1 hour' <= %(end)s
)
SELECT meter_id, hour,
       count(*)::int AS pairs,
       min(interval_s) AS interval_s,
       coalesce(sum(dt) FILTER (WHERE ok), 0) AS covered_s,
       coalesce(sum(trap) FILTER (WHERE ok), 0) AS integrated_kwh,
       coalesce(sum(de) FILTER (WHERE ok), 0) AS counter_kwh,
       coalesce(sum(dt) FILTER (WHERE NOT ok), 0) AS gap_s,
       coalesce(sum(de) FILTER (WHERE NOT ok), 0) AS gap_counter_kwh,
       coalesce(sum(trap) FILTER (WHERE NOT ok), 0) AS gap_estimate_kwh,
       min(t0) FILTER (WHERE NOT ok) AS gap_from,
       max(t1) FILTER (WHERE NOT ok) AS gap_to,
       count(*) FILTER (WHERE de < 0)::int AS decreases,
       min(de) FILTER (WHERE de > 0) AS resolution_kwh,
       bool_or(ok) FILTER (WHERE rank = 1) AS step_ok,
       min(t0) FILTER (WHERE rank = 1) AS step_from,
       min(t1) FILTER (WHERE rank = 1) AS step_to,
       min(de) FILTER (WHERE rank = 1) AS step_kwh,
       min(trap) FILTER (WHERE rank = 1) AS step_trap_kwh,
       min(e_before) FILTER (WHERE rank = 1) AS step_before,
       min(e_after) FILTER (WHERE rank = 1) AS step_after
FROM judged
GROUP BY meter_id, hour
ORDER BY meter_id, hour;
