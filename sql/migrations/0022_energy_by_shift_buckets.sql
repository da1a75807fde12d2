-- 0022 (both builds): bi.energy_by_shift joins the rollups on equality (issue 17, "a year
-- of data costs no more to look at than a month").
--
-- The view joined demand_15m and site_demand_15m to each shift with a range condition
-- (bucket >= starts_at AND bucket < ends_at), which the planner ran as a nested loop
-- testing every 15-minute row against every shift: a year of 2 meters cost ~1 ms per
-- row returned, a month 0.3 ms. Shifts start and end on whole quarter hours, so, as
-- emusa_shift_energy() does, each shift is expanded into its 15-minute bucket starts
-- (generate_series, none for a shift of zero length) and the rollups are joined on
-- (meter or site, bucket) equality: a hash join, whose cost follows the rows. The
-- rollups are read once, bounded by the shifts' range, a plain filter that reaches them
-- through the grouped views. Same columns, names, order, types and values: a shift
-- without data still has a row with empty figures and intervals 0; count(d.bucket) and
-- sum(d.samples) count the rows of the rollup as before. CREATE OR REPLACE keeps the
-- comments and the grants.
CREATE OR REPLACE VIEW bi.energy_by_shift AS
WITH span AS (
    SELECT m.site_id, min(a.bucket) AS first_bucket, max(a.bucket) AS last_bucket
    FROM rollup.agg_15m a
    JOIN meters m ON m.meter_id = a.meter_id
    GROUP BY m.site_id
),
iv AS (
    SELECT sp.site_id, i.production_date, i.day_type, i.shift, i.starts_at, i.ends_at
    FROM span sp
    JOIN sites s ON s.site_id = sp.site_id
    CROSS JOIN LATERAL emusa_shift_intervals(
        sp.site_id, (sp.first_bucket AT TIME ZONE s.timezone)::date - 1,
        (sp.last_bucket AT TIME ZONE s.timezone)::date) i
    WHERE i.ends_at > sp.first_bucket AND i.starts_at <= sp.last_bucket
),
-- each shift's 15-minute bucket starts (a bucket starts on a whole quarter hour)
q AS (
    SELECT iv.site_id, iv.production_date, iv.day_type, iv.shift, iv.starts_at, iv.ends_at,
           g.bucket
    FROM iv
    LEFT JOIN LATERAL generate_series(
        date_bin('15 minutes', iv.starts_at + interval '15 minutes' - interval '1 microsecond',
                 timestamptz '2000-01-01 00:00Z'),
        iv.ends_at - interval '1 microsecond', interval '15 minutes') AS g (bucket) ON true
),
per_meter AS (
    SELECT q.site_id, m.name AS meter, m.include_in_site_total, q.production_date,
           q.day_type, q.shift, q.starts_at, q.ends_at,
           sum(d.e_imp_kwh_delta) AS energy_kwh, max(d.demand_kw) AS max_demand_kw,
           avg(d.pf_total_avg) AS power_factor_avg, count(d.bucket) AS intervals,
           sum(d.samples) AS samples
    FROM q
    JOIN meters m ON m.site_id = q.site_id
    LEFT JOIN (
        -- the shifts' range as a plain filter, so it reaches the rollup through the view
        SELECT x.meter_id, x.bucket, x.e_imp_kwh_delta, x.demand_kw, x.pf_total_avg, x.samples
        FROM demand_15m x
        WHERE x.bucket >= (SELECT min(starts_at) FROM iv)
          AND x.bucket < (SELECT max(ends_at) FROM iv)
    ) d ON d.meter_id = m.meter_id AND d.bucket = q.bucket
    GROUP BY q.site_id, m.meter_id, m.name, m.include_in_site_total, q.production_date,
             q.day_type, q.shift, q.starts_at, q.ends_at
),
per_site AS (
    SELECT q.site_id, NULL::text AS meter, NULL::boolean AS include_in_site_total,
           q.production_date, q.day_type, q.shift, q.starts_at, q.ends_at,
           sum(d.e_imp_kwh_delta) AS energy_kwh, max(d.demand_kw) AS max_demand_kw,
           avg(d.pf_total_avg) AS power_factor_avg,
           count(d.bucket) FILTER (WHERE d.meters_reporting >= (
               SELECT count(*) FROM meters m WHERE m.site_id = q.site_id AND m.include_in_site_total))
               AS intervals,
           NULL::numeric AS samples
    FROM q
    LEFT JOIN (
        SELECT x.site_id, x.bucket, x.e_imp_kwh_delta, x.demand_kw, x.pf_total_avg,
               x.meters_reporting
        FROM site_demand_15m x
        WHERE x.bucket >= (SELECT min(starts_at) FROM iv)
          AND x.bucket < (SELECT max(ends_at) FROM iv)
    ) d ON d.site_id = q.site_id AND d.bucket = q.bucket
    GROUP BY q.site_id, q.production_date, q.day_type, q.shift, q.starts_at, q.ends_at
)
SELECT x.site_id,
       x.meter,
       x.meter IS NULL AS site_total,
       x.include_in_site_total,
       x.production_date,
       x.day_type,
       x.shift,
       x.starts_at AS start_utc,
       x.ends_at AS end_utc,
       (x.starts_at AT TIME ZONE s.timezone) AS start_local,
       (x.ends_at AT TIME ZONE s.timezone) AS end_local,
       x.energy_kwh,
       x.max_demand_kw,
       x.power_factor_avg,
       x.intervals,
       (extract(epoch FROM x.ends_at - x.starts_at) / 900)::int AS intervals_expected,
       x.intervals / (extract(epoch FROM x.ends_at - x.starts_at) / 900) AS completeness,
       x.samples
FROM (SELECT * FROM per_meter UNION ALL SELECT * FROM per_site) x
JOIN sites s ON s.site_id = x.site_id;
