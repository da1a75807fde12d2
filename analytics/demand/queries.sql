-- Named queries of the demand controller (analytics/demand/job.py).
-- Parameters are psycopg named placeholders; no value is ever pasted into the text.

-- name: meters
-- Per meter counted in the site total (meters.include_in_site_total),
-- its readings in the 15-minute interval [%(start)s, %(until)s) and the import-counter
-- energy of the interval so far. The counter base is the rule of demand_15m: the last
-- counter reading of the previous interval, else the first of this one, with
-- emusa_counter_delta (clamped at 0, robust to one counter reset).
WITH m AS (
    SELECT meter_id, name FROM meters
    WHERE site_id = %(site)s AND include_in_site_total
),
r AS (
    SELECT r.meter_id, r.time, r.p_total, r.e_imp_kwh
    FROM readings r
    JOIN m ON m.meter_id = r.meter_id
    WHERE r.time >= %(start)s AND r.time < %(until)s
),
p AS (
    SELECT meter_id,
           array_agg(time ORDER BY time) AS times,
           array_agg(p_total ORDER BY time) AS kw
    FROM r WHERE p_total IS NOT NULL
    GROUP BY meter_id
),
c AS (
    SELECT meter_id,
           (array_agg(e_imp_kwh ORDER BY time))[1] AS e_first,
           (array_agg(e_imp_kwh ORDER BY time DESC))[1] AS e_last,
           min(e_imp_kwh) AS e_min,
           max(e_imp_kwh) AS e_max,
           min(time) AS first_time,
           max(time) AS last_time
    FROM r WHERE e_imp_kwh IS NOT NULL
    GROUP BY meter_id
)
SELECT m.meter_id, m.name, p.times, p.kw,
       CASE WHEN c.meter_id IS NOT NULL
            THEN emusa_counter_delta(b.e_imp_kwh, c.e_first, c.e_last, c.e_min, c.e_max)
       END AS counter_kwh,
       CASE WHEN c.meter_id IS NOT NULL THEN coalesce(b.time, c.first_time) END AS counter_from,
       c.last_time AS counter_to
FROM m
LEFT JOIN p ON p.meter_id = m.meter_id
LEFT JOIN c ON c.meter_id = m.meter_id
LEFT JOIN LATERAL (
    SELECT rb.time, rb.e_imp_kwh FROM readings rb
    WHERE rb.meter_id = m.meter_id AND rb.e_imp_kwh IS NOT NULL
      AND rb.time >= %(start)s::timestamptz - interval '15 minutes' AND rb.time < %(start)s
    ORDER BY rb.time DESC LIMIT 1
) b ON c.meter_id IS NOT NULL
ORDER BY m.meter_id;

-- name: limit
-- The demand limit of the 15-minute interval starting at %(start)s,
-- as bi.site_demand_15m states it: the tariff period of the interval start
-- (emusa_tariff_period), the contracted demand of that period (ponta demand on tarifa
-- azul during ponta, else the single / fora-ponta demand) and the tolerance.
SELECT s.site_id, s.timezone, t.period,
       CASE WHEN s.tariff_modality = 'azul' AND t.period = 'ponta'
            THEN s.contracted_demand_ponta_kw ELSE s.contracted_demand_kw END AS contracted_kw,
       s.demand_tolerance
FROM sites s
CROSS JOIN LATERAL (SELECT emusa_tariff_period(s.site_id, %(start)s) AS period) t
WHERE s.site_id = %(site)s;

-- name: event
-- The event of one interval of a site, if the controller raised one.
SELECT anomaly_id, measured, details
FROM anomalies
WHERE site_id = %(site)s AND kind = %(kind)s AND meter_id IS NULL AND started_at = %(start)s;

-- name: ended_events
-- The controller's events (kind demand_projection) whose interval has ended but
-- whose outcome is not recorded yet (closed at the next run, also after downtime).
SELECT anomaly_id, started_at, ended_at, measured, details
FROM anomalies
WHERE site_id = %(site)s AND kind = %(kind)s AND meter_id IS NULL
  AND ended_at <= %(now)s AND ended_at >= %(since)s
  AND NOT details ? 'outcome'
ORDER BY started_at;
