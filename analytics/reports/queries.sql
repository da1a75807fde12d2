-- Named queries of the reports (analytics/reports/), loaded once by data.queries(): what a
-- report shows (named placeholders; ranges are [start, end) in UTC instants), and the
-- recorded reports at the end of the file.

-- name: site
SELECT site_id, name, timezone, tariff_modality, contracted_demand_kw,
       contracted_demand_ponta_kw, demand_tolerance, pf_reference
FROM sites WHERE site_id = %(site)s;

-- name: sites
SELECT site_id FROM sites ORDER BY site_id;

-- name: first_data
-- The site's first reading (lower bound for catching up missed reports). Not
-- meters.first_seen: history loaded after the fact is older than the meter's row.
SELECT min(f.t)
FROM meters m
CROSS JOIN LATERAL (SELECT min(r.time) AS t FROM readings r WHERE r.meter_id = m.meter_id) f
WHERE m.site_id = %(site)s;

-- name: meter_kpis
-- Average, maximum and minimum from the raw readings. Line-line voltage: the mean of
-- the line-line voltages present in each reading (a missing one does not zero it).
SELECT m.name, count(r.time),
       avg(r.v_ll), max(r.v_ll), min(r.v_ll),
       avg(r.p_total), max(r.p_total), min(r.p_total),
       avg(r.pf_total), max(r.pf_total), min(r.pf_total),
       avg(r.freq), max(r.freq), min(r.freq)
FROM meters m
LEFT JOIN LATERAL (
    SELECT x.time, x.p_total, x.pf_total, x.freq,
           (coalesce(x.v_l12, 0) + coalesce(x.v_l23, 0) + coalesce(x.v_l31, 0))
             / nullif((x.v_l12 IS NOT NULL)::int + (x.v_l23 IS NOT NULL)::int
                      + (x.v_l31 IS NOT NULL)::int, 0) AS v_ll
    FROM readings x
    WHERE x.meter_id = m.meter_id AND x.time >= %(start)s AND x.time < %(end)s
) r ON true
WHERE m.site_id = %(site)s
GROUP BY m.meter_id, m.name
ORDER BY m.name;

-- name: meter_splits
-- Energy and maximum 15-min demand per meter and tariff period. The period comes from the
-- set-based calendar (migration 0021), inlined: no function call per interval.
SELECT m.name, t.period, sum(d.e_imp_kwh_delta), max(d.demand_kw)
FROM demand_15m d
JOIN meters m ON m.meter_id = d.meter_id
JOIN sites s ON s.site_id = m.site_id
CROSS JOIN LATERAL emusa_tariff_period_local(s.site_id, d.bucket AT TIME ZONE s.timezone) t
WHERE m.site_id = %(site)s AND d.bucket >= %(start)s AND d.bucket < %(end)s
GROUP BY 1, 2
ORDER BY 1, 2;

-- name: site_splits
SELECT t.period, sum(d.e_imp_kwh_delta), max(d.demand_kw)
FROM site_demand_15m d
JOIN sites s ON s.site_id = d.site_id
CROSS JOIN LATERAL emusa_tariff_period_local(s.site_id, d.bucket AT TIME ZONE s.timezone) t
WHERE d.site_id = %(site)s AND d.bucket >= %(start)s AND d.bucket < %(end)s
GROUP BY 1
ORDER BY 1;

-- name: series_15m
SELECT m.name, r.bucket, r.p_total_avg, r.v_l1n_avg, r.v_l2n_avg, r.v_l3n_avg, r.pf_total_avg
FROM readings_15m r
JOIN meters m ON m.meter_id = r.meter_id
WHERE m.site_id = %(site)s AND r.bucket >= %(start)s AND r.bucket < %(end)s
ORDER BY m.name, r.bucket;

-- name: site_demand
-- With the meters reporting and the meters counted in the site total: an interval some
-- meter missed is drawn as a gap, not as a drop of the site's demand.
SELECT d.bucket, d.demand_kw, d.meters_reporting,
       (SELECT count(*) FROM meters m WHERE m.site_id = d.site_id AND m.include_in_site_total)
FROM site_demand_15m d
WHERE d.site_id = %(site)s AND d.bucket >= %(start)s AND d.bucket < %(end)s
ORDER BY d.bucket;

-- name: series_1h
SELECT m.name, r.bucket, r.p_total_avg, r.v_l1n_avg, r.v_l2n_avg, r.v_l3n_avg, r.pf_total_avg
FROM readings_1h r
JOIN meters m ON m.meter_id = r.meter_id
WHERE m.site_id = %(site)s AND r.bucket >= %(start)s AND r.bucket < %(end)s
ORDER BY m.name, r.bucket;

-- name: anomalies
-- Events overlapping the period, the most severe first.
SELECT a.started_at, a.ended_at, m.name, a.kind, a.severity, a.message_pt, a.message_en
FROM anomalies a
LEFT JOIN meters m ON m.meter_id = a.meter_id
WHERE a.site_id = %(site)s AND a.started_at < %(end)s
  AND coalesce(a.ended_at, 'infinity') >= %(start)s
ORDER BY CASE a.severity WHEN 'critical' THEN 0 WHEN 'warning' THEN 1 ELSE 2 END, a.started_at
LIMIT 60;

-- name: anomaly_counts
SELECT a.kind, count(*)
FROM anomalies a
WHERE a.site_id = %(site)s AND a.started_at >= %(start)s AND a.started_at < %(end)s
GROUP BY 1;

-- name: top_hours
-- The site's highest-consumption hours (the period of the five kept: five calls).
SELECT h.bucket, h.e_imp_kwh_delta, h.p_total_avg, emusa_tariff_period(h.site_id, h.bucket)
FROM site_readings_1h h
WHERE h.site_id = %(site)s AND h.bucket >= %(start)s AND h.bucket < %(end)s
  AND h.e_imp_kwh_delta IS NOT NULL
ORDER BY h.e_imp_kwh_delta DESC, h.bucket
LIMIT 5;

-- name: summaries
SELECT text_pt, text_en
FROM summaries
WHERE site_id = %(site)s AND period_start >= %(start)s AND period_end <= %(end)s
ORDER BY period_start;

-- name: demand_days
-- Per local day: max demand in ponta / outside, energy, intervals above the limit,
-- intervals with data, in one scan of the view.
SELECT d.time_local::date,
       max(d.demand_kw) FILTER (WHERE d.tariff_period = 'ponta'),
       max(d.demand_kw) FILTER (WHERE d.tariff_period <> 'ponta'),
       sum(d.energy_kwh) FILTER (WHERE d.tariff_period = 'ponta'),
       sum(d.energy_kwh) FILTER (WHERE d.tariff_period <> 'ponta'),
       sum(d.energy_kwh),
       count(*) FILTER (WHERE d.exceeds_limit),
       max(d.demand_kw - d.contracted_kw) FILTER (WHERE d.demand_kw > d.contracted_kw),
       count(d.demand_kw)
FROM bi.site_demand_15m d
WHERE d.site_id = %(site)s AND d.time_utc >= %(start)s AND d.time_utc < %(end)s
GROUP BY 1
ORDER BY 1;

-- name: hours
SELECT h.bucket, h.e_imp_kwh_delta, h.e_imp_kvarh_delta, h.e_exp_kvarh_delta,
       h.pf_total_avg, h.p_total_avg
FROM site_readings_1h h
WHERE h.site_id = %(site)s AND h.bucket >= %(start)s AND h.bucket < %(end)s
ORDER BY h.bucket;

-- name: shifts
-- The site total per production shift (site_shifts or the defaults), each shift clipped
-- to the period (migration 0010). Nothing is filled in for missing intervals.
SELECT production_date, shift, starts_at, ends_at, energy_kwh, max_demand_kw,
       power_factor_avg, intervals, intervals_expected
FROM emusa_shift_energy(%(site)s, %(start)s, %(end)s);

-- name: completeness
-- Per meter: readings in the period, the poll interval (median spacing of the period's
-- readings; with fewer than two, of the 7 days before the end) and the longest span
-- without a reading, the period's start and end counting as edges.
SELECT m.name, c.n,
       coalesce(c.step_s, (
           SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM x.t - x.prev))
           FROM (SELECT r.time AS t, lag(r.time) OVER (ORDER BY r.time) AS prev
                 FROM readings r
                 WHERE r.meter_id = m.meter_id
                   AND r.time >= %(end)s::timestamptz - interval '7 days' AND r.time < %(end)s) x
           WHERE x.prev IS NOT NULL)) AS step_s,
       extract(epoch FROM c.longest), c.longest_from
FROM meters m
CROSS JOIN LATERAL (
    SELECT count(*) FILTER (WHERE NOT g.edge) AS n,
           percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM g.t - g.prev))
               FILTER (WHERE NOT g.edge AND NOT g.prev_edge) AS step_s,
           max(g.t - g.prev) AS longest,
           (array_agg(g.prev ORDER BY g.t - g.prev DESC, g.prev))[1] AS longest_from
    FROM (
        SELECT u.t, u.edge, lag(u.t) OVER w AS prev, lag(u.edge) OVER w AS prev_edge
        FROM (
            SELECT r.time AS t, false AS edge FROM readings r
            WHERE r.meter_id = m.meter_id AND r.time >= %(start)s AND r.time < %(end)s
            UNION ALL SELECT %(start)s::timestamptz, true
            UNION ALL SELECT %(end)s::timestamptz, true
        ) u
        WINDOW w AS (ORDER BY u.t, u.edge DESC)
    ) g
    WHERE g.prev IS NOT NULL
) c
WHERE m.site_id = %(site)s
ORDER BY m.name;

-- Recorded reports (analytics/reports/service.py, delivery.py): positional parameters;
-- the columns of service.ReportRecord, in order.

-- name: find_report
-- The scheduled report of (site, kind, lang, period start), if recorded.
SELECT report_id, site_id, kind, lang, period_start, period_end, path, sha256, bytes,
       created_at, emailed_at, recipients
FROM reports
WHERE site_id = %s AND kind = %s AND lang = %s AND period_start = %s AND kind <> 'adhoc';

-- name: record_report
-- An adhoc report: every build is recorded.
INSERT INTO reports (site_id, kind, lang, period_start, period_end, path, sha256, bytes)
VALUES (%s, %s, %s, %s, %s, %s, %s, %s)
RETURNING report_id, site_id, kind, lang, period_start, period_end, path, sha256, bytes,
          created_at, emailed_at, recipients;

-- name: record_scheduled_report
-- A scheduled report: once per (site, kind, lang, period start); no row when another
-- worker recorded it meanwhile.
INSERT INTO reports (site_id, kind, lang, period_start, period_end, path, sha256, bytes)
VALUES (%s, %s, %s, %s, %s, %s, %s, %s)
ON CONFLICT (site_id, kind, lang, period_start) WHERE kind <> 'adhoc' DO NOTHING
RETURNING report_id, site_id, kind, lang, period_start, period_end, path, sha256, bytes,
          created_at, emailed_at, recipients;

-- name: lock_unsent_report
-- The report's row while it is e-mailed (another worker sending it skips it).
SELECT emailed_at FROM reports WHERE report_id = %s FOR UPDATE SKIP LOCKED;

-- name: email_failed
-- Positional (attempts, error, report).
UPDATE reports SET email_attempts = email_attempts + %s, last_email_error = %s
WHERE report_id = %s;

-- name: email_sent
-- Positional (recipients, attempts, report).
UPDATE reports
SET emailed_at = now(), recipients = %s, email_attempts = email_attempts + %s,
    last_email_error = NULL
WHERE report_id = %s;
