-- 0010 production shifts per site: the shift table with its validation, the site's
-- shift calendar as intervals, the shift of an instant, and bi.energy_by_shift.
--
-- A shift covers [starts, ends) in the site's local time on the day types it lists
-- (working, saturday, sunday, holiday; a holiday, national or of the site, takes
-- precedence over the weekday). A shift with ends <= starts crosses midnight (ends =
-- starts: 24 hours). Its production date is the calendar day on which it starts.
-- The shifts of a day type tile 24 hours from the production-day start (the earliest
-- start), which is the same for every day type and every version of a site, so the
-- shifts of consecutive days chain without overlap or gap. Boundaries are whole
-- quarter hours, so every 15-minute demand interval belongs to exactly one shift.
-- Versions: rows with the same valid_from form one complete configuration, used from
-- that date on. A site without rows (and days before its first version) uses the
-- defaults of emusa_default_shifts().

CREATE TABLE site_shifts (
    site_id    text NOT NULL REFERENCES sites (site_id) ON DELETE CASCADE ON UPDATE CASCADE,
    shift      text NOT NULL CHECK (shift ~ '^\S(.{0,38}\S)?$'),
    days       text[] NOT NULL
               CHECK (cardinality(days) > 0
                      AND days <@ ARRAY['working', 'saturday', 'sunday', 'holiday']::text[]),
    starts     time NOT NULL CHECK (starts < '24:00'),
    ends       time NOT NULL,
    valid_from date NOT NULL DEFAULT DATE '2000-01-01',
    PRIMARY KEY (site_id, valid_from, shift),
    CONSTRAINT site_shifts_quarter_hours
        CHECK (extract(epoch FROM starts)::int % 900 = 0 AND extract(epoch FROM ends)::int % 900 = 0)
);
COMMENT ON TABLE site_shifts IS 'Production shifts per site in local time: [starts, ends) on the listed day types (working, saturday, sunday, holiday); ends <= starts crosses midnight. Rows with the same valid_from are one complete configuration (checked at commit). Without rows: emusa_default_shifts().';
COMMENT ON COLUMN site_shifts.shift IS 'Shift name as shown in reports and dashboards (A, B, C, "fim de semana").';
COMMENT ON COLUMN site_shifts.days IS 'Day types the shift runs on: working, saturday, sunday, holiday (holidays: national ones and the site''s holidays rows).';
COMMENT ON COLUMN site_shifts.starts IS 'Local start time (a whole quarter hour).';
COMMENT ON COLUMN site_shifts.ends IS 'Local end time, exclusive; at or before starts: the next day.';
COMMENT ON COLUMN site_shifts.valid_from IS 'First production date of this configuration.';

-- Defaults: A 06-14, B 14-22, C 22-06 on working days; saturdays, sundays and holidays
-- are one bucket, "fim de semana", 06-06.
CREATE FUNCTION emusa_default_shifts()
RETURNS TABLE (shift text, days text[], starts time, ends time)
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$
    VALUES ('A', ARRAY['working'], time '06:00', time '14:00'),
           ('B', ARRAY['working'], time '14:00', time '22:00'),
           ('C', ARRAY['working'], time '22:00', time '06:00'),
           ('fim de semana', ARRAY['saturday', 'sunday', 'holiday'], time '06:00', time '06:00')
$$;

-- Length of a shift: ends <= starts crosses midnight.
CREATE FUNCTION emusa_shift_length(p_starts time, p_ends time) RETURNS interval
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
AS $$
    SELECT CASE WHEN p_ends > p_starts THEN p_ends - p_starts
                ELSE p_ends - p_starts + interval '24 hours' END
$$;

-- Reject a configuration that leaves a gap or overlaps, naming the site, version, day
-- type and shift. Runs at commit (constraint trigger), so a version can be replaced
-- row by row inside one transaction.
CREATE FUNCTION emusa_check_site_shifts(p_site text) RETURNS void
LANGUAGE plpgsql
AS $$
DECLARE
    v          date;
    dt         text;
    day_start  time;
    site_start time;
    expect     interval;
    r          record;
    n          int;
BEGIN
    FOR v IN SELECT DISTINCT valid_from FROM site_shifts WHERE site_id = p_site ORDER BY 1 LOOP
        SELECT min(starts) INTO day_start FROM site_shifts WHERE site_id = p_site AND valid_from = v;
        IF site_start IS NULL THEN
            site_start := day_start;
        ELSIF day_start <> site_start THEN
            RAISE EXCEPTION 'site_shifts: site %, version %: the production day starts at %, earlier versions at %; every version of a site must start its day at the same time',
                p_site, v, day_start, site_start USING ERRCODE = 'check_violation';
        END IF;
        FOREACH dt IN ARRAY ARRAY['working', 'saturday', 'sunday', 'holiday'] LOOP
            expect := day_start - time '00:00';
            n := 0;
            FOR r IN
                SELECT shift, starts, ends FROM site_shifts
                WHERE site_id = p_site AND valid_from = v AND dt = ANY (days)
                ORDER BY starts
            LOOP
                n := n + 1;
                IF n = 1 AND r.starts <> day_start THEN
                    RAISE EXCEPTION 'site_shifts: site %, version %, % days: the first shift "%" starts at %, other day types at %; every day type must start the production day at the same time',
                        p_site, v, dt, r.shift, r.starts, day_start USING ERRCODE = 'check_violation';
                ELSIF r.starts - time '00:00' < expect THEN
                    RAISE EXCEPTION 'site_shifts: site %, version %, % days: shift "%" (% - %) overlaps the previous shift, which ends at %',
                        p_site, v, dt, r.shift, r.starts, r.ends, time '00:00' + expect
                        USING ERRCODE = 'check_violation';
                ELSIF r.starts - time '00:00' > expect THEN
                    RAISE EXCEPTION 'site_shifts: site %, version %, % days: no shift covers % - % (before shift "%")',
                        p_site, v, dt, time '00:00' + expect, r.starts, r.shift
                        USING ERRCODE = 'check_violation';
                END IF;
                expect := r.starts - time '00:00' + emusa_shift_length(r.starts, r.ends);
                IF expect > (day_start - time '00:00') + interval '24 hours' THEN
                    RAISE EXCEPTION 'site_shifts: site %, version %, % days: shift "%" (% - %) runs past the next production day, which starts at %',
                        p_site, v, dt, r.shift, r.starts, r.ends, day_start
                        USING ERRCODE = 'check_violation';
                END IF;
            END LOOP;
            IF n = 0 THEN
                RAISE EXCEPTION 'site_shifts: site %, version %: no shift on % days',
                    p_site, v, dt USING ERRCODE = 'check_violation';
            END IF;
            IF expect < (day_start - time '00:00') + interval '24 hours' THEN
                RAISE EXCEPTION 'site_shifts: site %, version %, % days: no shift covers % - % (after the last shift)',
                    p_site, v, dt, time '00:00' + expect, day_start USING ERRCODE = 'check_violation';
            END IF;
        END LOOP;
    END LOOP;
END
$$;

CREATE FUNCTION emusa_site_shifts_check() RETURNS trigger
LANGUAGE plpgsql
AS $$
BEGIN
    IF TG_OP <> 'DELETE' THEN
        PERFORM emusa_check_site_shifts(NEW.site_id);
    END IF;
    IF TG_OP <> 'INSERT' AND EXISTS (SELECT 1 FROM sites WHERE site_id = OLD.site_id) THEN
        PERFORM emusa_check_site_shifts(OLD.site_id);
    END IF;
    RETURN NULL;
END
$$;
CREATE CONSTRAINT TRIGGER site_shifts_valid AFTER INSERT OR UPDATE OR DELETE ON site_shifts
    DEFERRABLE INITIALLY DEFERRED
    FOR EACH ROW EXECUTE FUNCTION emusa_site_shifts_check();

-- The site's shifts over production dates [p_from, p_to], as UTC intervals.
-- SECURITY DEFINER: the bi views call it for readers without access to the calendar
-- tables. jit off: run as a definer it is planned generically, and the generic cost
-- estimate triggers JIT compilation (~0.3 s) for what takes 1 ms to execute.
CREATE FUNCTION emusa_shift_intervals(p_site text, p_from date, p_to date)
RETURNS TABLE (production_date date, day_type text, shift text,
               starts_at timestamptz, ends_at timestamptz)
LANGUAGE sql STABLE SECURITY DEFINER
SET search_path = pg_catalog, public
SET jit = off
AS $$
    WITH s AS (
        SELECT site_id, timezone FROM sites WHERE site_id = p_site
    ),
    off_days AS (
        SELECT h.day
        FROM generate_series(extract(year FROM p_from)::int, extract(year FROM p_to)::int) AS y,
             LATERAL emusa_br_national_holidays(y) AS h
        UNION
        SELECT day FROM holidays WHERE site_id = p_site
    ),
    days AS (
        SELECT g::date AS day,
               CASE WHEN g::date IN (SELECT day FROM off_days) THEN 'holiday'
                    WHEN extract(isodow FROM g) = 7 THEN 'sunday'
                    WHEN extract(isodow FROM g) = 6 THEN 'saturday'
                    ELSE 'working' END AS day_type,
               (SELECT max(v.valid_from) FROM site_shifts v
                WHERE v.site_id = p_site AND v.valid_from <= g::date) AS version
        FROM generate_series(p_from, p_to, interval '1 day') AS g
    ),
    cfg AS (
        SELECT valid_from, shift, days, starts, ends FROM site_shifts WHERE site_id = p_site
        UNION ALL
        SELECT NULL::date, shift, days, starts, ends FROM emusa_default_shifts()
    )
    SELECT d.day, d.day_type, c.shift,
           (d.day + c.starts) AT TIME ZONE s.timezone,
           (d.day + c.starts + emusa_shift_length(c.starts, c.ends)) AT TIME ZONE s.timezone
    FROM days d
    CROSS JOIN s
    JOIN cfg c ON c.valid_from IS NOT DISTINCT FROM d.version AND d.day_type = ANY (c.days)
$$;

-- The shift an instant belongs to, with its production date.
CREATE FUNCTION emusa_shift(p_site text, p_ts timestamptz)
RETURNS TABLE (production_date date, shift text)
LANGUAGE plpgsql STABLE STRICT
AS $$
DECLARE
    tz text;
BEGIN
    SELECT timezone INTO tz FROM sites WHERE site_id = p_site;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'emusa_shift: unknown site %', p_site USING ERRCODE = 'foreign_key_violation';
    END IF;
    RETURN QUERY
        SELECT i.production_date, i.shift
        FROM emusa_shift_intervals(p_site, (p_ts AT TIME ZONE tz)::date - 1, (p_ts AT TIME ZONE tz)::date) i
        WHERE p_ts >= i.starts_at AND p_ts < i.ends_at;
END
$$;

-- The site total per shift over [p_from, p_to), each shift clipped to that range:
-- energy, maximum 15-minute demand, average of the 15-minute power factors, complete
-- 15-minute intervals (every meter of the site total reported) and expected intervals
-- (read by the daily report and the dashboards).
CREATE FUNCTION emusa_shift_energy(p_site text, p_from timestamptz, p_to timestamptz)
RETURNS TABLE (production_date date, shift text, starts_at timestamptz, ends_at timestamptz,
               energy_kwh double precision, max_demand_kw double precision,
               power_factor_avg double precision, intervals bigint, intervals_expected integer)
LANGUAGE sql STABLE
AS $$
    WITH iv AS (
        SELECT i.production_date, i.shift,
               greatest(i.starts_at, p_from) AS a, least(i.ends_at, p_to) AS b
        FROM sites s
        CROSS JOIN LATERAL emusa_shift_intervals(
            s.site_id, (p_from AT TIME ZONE s.timezone)::date - 1, (p_to AT TIME ZONE s.timezone)::date) i
        WHERE s.site_id = p_site AND i.ends_at > p_from AND i.starts_at < p_to
    )
    SELECT iv.production_date, iv.shift, iv.a, iv.b,
           sum(d.e_imp_kwh_delta), max(d.demand_kw), avg(d.pf_total_avg),
           count(d.bucket) FILTER (WHERE d.meters_reporting >= (
               SELECT count(*) FROM meters m WHERE m.site_id = p_site AND m.include_in_site_total)),
           ceil(extract(epoch FROM iv.b - iv.a) / 900)::int
    FROM iv
    -- the 15-minute buckets of each shift clipped to the range (none when the range holds
    -- no bucket start): shifts start and end on quarter hours, so the rollup joins on
    -- equality, a hash join, instead of testing every bucket against every shift
    LEFT JOIN LATERAL generate_series(
        date_bin('15 minutes', iv.a + interval '15 minutes' - interval '1 microsecond',
                 timestamptz '2000-01-01 00:00Z'),
        iv.b - interval '1 microsecond', interval '15 minutes') AS q (bucket) ON true
    LEFT JOIN (
        -- the range as a plain filter, so it reaches the rollup through the grouped view
        SELECT x.bucket, x.e_imp_kwh_delta, x.demand_kw, x.pf_total_avg, x.meters_reporting
        FROM site_demand_15m x
        WHERE x.site_id = p_site AND x.bucket >= p_from AND x.bucket < p_to
    ) d ON d.bucket = q.bucket
    GROUP BY iv.production_date, iv.shift, iv.a, iv.b
    ORDER BY iv.a
$$;

CREATE VIEW bi.energy_by_shift AS
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
per_meter AS (
    SELECT iv.site_id, m.name AS meter, m.include_in_site_total, iv.production_date,
           iv.day_type, iv.shift, iv.starts_at, iv.ends_at,
           sum(d.e_imp_kwh_delta) AS energy_kwh, max(d.demand_kw) AS max_demand_kw,
           avg(d.pf_total_avg) AS power_factor_avg, count(d.bucket) AS intervals,
           sum(d.samples) AS samples
    FROM iv
    JOIN meters m ON m.site_id = iv.site_id
    LEFT JOIN demand_15m d
        ON d.meter_id = m.meter_id AND d.bucket >= iv.starts_at AND d.bucket < iv.ends_at
    GROUP BY iv.site_id, m.meter_id, m.name, m.include_in_site_total, iv.production_date,
             iv.day_type, iv.shift, iv.starts_at, iv.ends_at
),
per_site AS (
    SELECT iv.site_id, NULL::text AS meter, NULL::boolean AS include_in_site_total,
           iv.production_date, iv.day_type, iv.shift, iv.starts_at, iv.ends_at,
           sum(d.e_imp_kwh_delta) AS energy_kwh, max(d.demand_kw) AS max_demand_kw,
           avg(d.pf_total_avg) AS power_factor_avg,
           count(d.bucket) FILTER (WHERE d.meters_reporting >= (
               SELECT count(*) FROM meters m WHERE m.site_id = iv.site_id AND m.include_in_site_total))
               AS intervals,
           NULL::numeric AS samples
    FROM iv
    LEFT JOIN site_demand_15m d
        ON d.site_id = iv.site_id AND d.bucket >= iv.starts_at AND d.bucket < iv.ends_at
    GROUP BY iv.site_id, iv.production_date, iv.day_type, iv.shift, iv.starts_at, iv.ends_at
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
COMMENT ON VIEW bi.energy_by_shift IS 'Energy, maximum 15-minute demand and power factor per production shift, per meter and for the site total (site_total = true), with data completeness. Shifts from site_shifts (or the defaults A 06-14, B 14-22, C 22-06 on working days, "fim de semana" 06-06 on saturdays, sundays and holidays). A shift without data has empty figures and completeness 0: nothing is filled in.';
COMMENT ON COLUMN bi.energy_by_shift.site_id IS 'Site (plant) identifier.';
COMMENT ON COLUMN bi.energy_by_shift.meter IS 'Meter name; empty on the site-total rows.';
COMMENT ON COLUMN bi.energy_by_shift.site_total IS 'True on the site-total rows (sum of the meters counted in the site total); do not add them to the meter rows.';
COMMENT ON COLUMN bi.energy_by_shift.include_in_site_total IS 'Whether the meter counts in the site total (false for sub-meters); empty on site-total rows.';
COMMENT ON COLUMN bi.energy_by_shift.production_date IS 'Production date: the local day on which the shift starts (a night shift 22-06 belongs to the day it starts).';
COMMENT ON COLUMN bi.energy_by_shift.day_type IS 'working, saturday, sunday or holiday (national or site holiday).';
COMMENT ON COLUMN bi.energy_by_shift.shift IS 'Shift name.';
COMMENT ON COLUMN bi.energy_by_shift.start_utc IS 'Start of the shift (UTC).';
COMMENT ON COLUMN bi.energy_by_shift.end_utc IS 'End of the shift, exclusive (UTC).';
COMMENT ON COLUMN bi.energy_by_shift.start_local IS 'Start of the shift in the site''s local time.';
COMMENT ON COLUMN bi.energy_by_shift.end_local IS 'End of the shift in the site''s local time, exclusive.';
COMMENT ON COLUMN bi.energy_by_shift.energy_kwh IS 'Active energy imported in the shift (kWh): the sum of the 15-minute energies, as in bi.energy_daily; empty without data.';
COMMENT ON COLUMN bi.energy_by_shift.max_demand_kw IS 'Largest 15-minute demand in the shift (kW).';
COMMENT ON COLUMN bi.energy_by_shift.power_factor_avg IS 'Average of the 15-minute power factors in the shift, as in bi.energy_daily.';
COMMENT ON COLUMN bi.energy_by_shift.intervals IS '15-minute intervals of the shift with data (site-total rows: with data of every meter counted in the site total).';
COMMENT ON COLUMN bi.energy_by_shift.intervals_expected IS '15-minute intervals in the shift.';
COMMENT ON COLUMN bi.energy_by_shift.completeness IS 'intervals / intervals_expected (0 to 1): the share of the shift with data.';
COMMENT ON COLUMN bi.energy_by_shift.samples IS 'Raw readings of the meter in the shift; empty on site-total rows.';

GRANT SELECT ON site_shifts TO emusa_analytics, emusa_grafana;
GRANT SELECT ON bi.energy_by_shift TO emusa_bi, emusa_grafana, emusa_analytics;
REVOKE ALL ON FUNCTION emusa_shift_intervals(text, date, date) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION emusa_shift_intervals(text, date, date)
    TO emusa_analytics, emusa_grafana, emusa_bi;
