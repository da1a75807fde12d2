-- Counter cross-check figures (analytics/crosscheck.py): per meter and hour, the meter's
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
ORDER BY meter_id, hour
