-- 0021 (both builds): the tariff calendar as sets (issue 17, "a year of data costs no
-- more than a month").
--
-- emusa_tariff_period(site, instant) answers for one instant: a plpgsql SECURITY DEFINER
-- function that reads the site, rebuilds the year's national holidays and looks up the
-- site's holidays, the window version and the window, ~0.1-0.4 ms a call. bi.demand_15m
-- and bi.site_demand_15m called it once per 15-minute row, bi.energy_daily (over
-- bi.demand_15m) five times per row: a year of 2 meters took 25-35 s to import. Here the
-- same rules become relations that a query builds once:
--
-- * emusa_br_holiday_rules(): the national holidays as rules (fixed day, or days from
--   Easter); emusa_br_national_holidays(year) now reads them, same rows as before.
-- * tariff_national_holidays: those holidays for 2000-2100, in one pass (0.4 ms).
-- * tariff_calendar: per site and window version (local days [valid_from, valid_until))
--   the local day cut into pieces [starts, ends) with their period. Working days
--   (working): ponta wins over intermediario, intermediario counts for tarifa branca
--   only, fora_ponta between the windows. Weekends and holidays (not working): one piece,
--   fora_ponta. Before a site's first version, a version from -infinity without windows.
--   Every local instant of a site falls in exactly one row.
-- * tariff_calendar_lookup: one row per site, the same as sorted arrays (the site's
--   holidays, the versions, the working-day pieces keyed by version number and start).
-- * emusa_tariff_period_local(site, local timestamp): the period from the site's lookup
--   row, national holidays through a hashed set, versions and pieces by binary search
--   (width_bucket). A plain LANGUAGE sql function with a body parsed at creation (BEGIN
--   ATOMIC), neither STRICT nor SECURITY DEFINER: PostgreSQL inlines it into the calling
--   query, so N intervals cost one hash join with one row per site and a few array look-
--   ups each, not N function calls. Outside 2000-2100 it asks emusa_br_national_holidays()
--   for the year: it answers what emusa_tariff_period() answers for every instant
--   (tests/integration/test_tariff.py compares them bucket by bucket).
--
-- Privileges: a view reads its tables with its owner's rights, but a function runs, and
-- an inlined function reads its relations, with the caller's rights. The function reads
-- only tariff_calendar_lookup and tariff_national_holidays (views owned by the
-- migration's owner, which reads sites, tariff_windows and holidays) and calls functions
-- whose bodies were parsed at creation (a body parsed at run time would look names up in
-- schema public, where emusa_bi has no USAGE, 0012). Analytics, Grafana and emusa_bi get
-- EXECUTE on it and SELECT on those views (emusa_bi because the bi views call it; it
-- still cannot name them). emusa_tariff_period() stays for single instants (the
-- dashboards' "Posto tarifário agora", analytics); emusa_bi, whose views no longer call
-- it, loses EXECUTE on it.
--
-- bi.demand_15m and bi.site_demand_15m are re-created over the new function: same
-- columns, names, order, types and values; CREATE OR REPLACE keeps their comments and
-- bi.energy_daily, which aggregates bi.demand_15m.

-- The national holidays as one table of rules, read by the one-year function and by the
-- set of 2000-2100 below, so the rules stay in one place. Same days and names as 0001.
CREATE FUNCTION emusa_br_holiday_rules()
RETURNS TABLE (month integer, day integer, easter_offset integer, since integer, name text)
LANGUAGE sql IMMUTABLE PARALLEL SAFE
BEGIN ATOMIC
    SELECT r.month, r.day, r.easter_offset, r.since, r.name FROM (VALUES
        (1, 1, NULL::integer, NULL::integer, 'Confraternização Universal'),
        (4, 21, NULL, NULL, 'Tiradentes'),
        (5, 1, NULL, NULL, 'Dia do Trabalho'),
        (9, 7, NULL, NULL, 'Independência do Brasil'),
        (10, 12, NULL, NULL, 'Nossa Senhora Aparecida'),
        (11, 2, NULL, NULL, 'Finados'),
        (11, 15, NULL, NULL, 'Proclamação da República'),
        (11, 20, NULL, 2024, 'Dia Nacional de Zumbi e da Consciência Negra'),
        (12, 25, NULL, NULL, 'Natal'),
        (NULL, NULL, -47, NULL, 'Carnaval (terça-feira)'),
        (NULL, NULL, -2, NULL, 'Sexta-feira da Paixão'),
        (NULL, NULL, 60, NULL, 'Corpus Christi')) AS r (month, day, easter_offset, since, name);
END;
COMMENT ON FUNCTION emusa_br_holiday_rules() IS 'National days without horario de ponta besides weekends (ANEEL: Carnival Tuesday, Good Friday, Corpus Christi and the national holidays), as rules: a fixed month and day, or days from Easter Sunday; since: first year it applies (20 November, Lei 14.759/2023).';

-- The one-year function reads the rules, with a body parsed at creation (BEGIN ATOMIC):
-- the old body looked emusa_easter() up by name when it ran, which fails for emusa_bi (no
-- USAGE on schema public, 0012), now that the bi views reach it with their reader's
-- rights. At most 12 rows a year (a set-returning function is otherwise estimated at 1,000).
CREATE OR REPLACE FUNCTION emusa_br_national_holidays(p_year integer)
RETURNS TABLE (day date, name text)
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE ROWS 12
BEGIN ATOMIC
    SELECT coalesce(make_date(p_year, r.month, r.day), emusa_easter(p_year) + r.easter_offset),
           r.name
    FROM emusa_br_holiday_rules() AS r
    WHERE p_year >= coalesce(r.since, p_year);
END;

-- The years 2000-2100 in one pass (0.4 ms; 2 ms as 101 calls of the one-year function).
CREATE VIEW tariff_national_holidays AS
SELECT coalesce(make_date(y.year, r.month, r.day), e.easter + r.easter_offset) AS day, r.name
FROM generate_series(2000, 2100) AS y (year)
CROSS JOIN LATERAL (SELECT emusa_easter(y.year) AS easter OFFSET 0) AS e
JOIN emusa_br_holiday_rules() AS r ON y.year >= coalesce(r.since, y.year);
COMMENT ON VIEW tariff_national_holidays IS 'emusa_br_national_holidays() of the years 2000-2100 (a day can be listed twice: Good Friday on Tiradentes).';

CREATE VIEW tariff_calendar AS
WITH versions AS (  -- each site's window versions, from -infinity (no windows) on
    SELECT s.site_id, s.tariff_modality, v.valid_from,
           lead(v.valid_from, 1, 'infinity') OVER (PARTITION BY s.site_id ORDER BY v.valid_from)
               AS valid_until
    FROM sites s
    CROSS JOIN LATERAL (
        SELECT date '-infinity' AS valid_from
        UNION
        SELECT w.valid_from FROM tariff_windows w WHERE w.site_id = s.site_id
    ) v
),
windows AS (  -- the windows that count: intermediario only for tarifa branca
    SELECT v.site_id, v.valid_from, w.period, w.starts, w.ends
    FROM versions v
    JOIN tariff_windows w ON w.site_id = v.site_id AND w.valid_from = v.valid_from
    WHERE w.period = 'ponta' OR v.tariff_modality = 'branca'
),
pieces AS (  -- the day cut at midnight and wherever a window starts or ends
    SELECT v.site_id, v.valid_from, v.valid_until, c.at AS starts,
           lead(c.at, 1, time '24:00') OVER (PARTITION BY v.site_id, v.valid_from ORDER BY c.at)
               AS ends
    FROM versions v
    CROSS JOIN LATERAL (
        SELECT time '00:00' AS at
        UNION
        SELECT b.at
        FROM windows w
        CROSS JOIN LATERAL (VALUES (w.starts), (w.ends)) AS b (at)
        WHERE w.site_id = v.site_id AND w.valid_from = v.valid_from
    ) c
)
SELECT p.site_id, p.valid_from, p.valid_until, true AS working, p.starts, p.ends,
       coalesce((SELECT w.period FROM windows w
                 WHERE w.site_id = p.site_id AND w.valid_from = p.valid_from
                   AND p.starts >= w.starts AND p.starts < w.ends
                 ORDER BY w.period = 'ponta' DESC
                 LIMIT 1), 'fora_ponta') AS period
FROM pieces p
WHERE p.starts < p.ends
UNION ALL
SELECT v.site_id, v.valid_from, v.valid_until, false, time '00:00', time '24:00', 'fora_ponta'
FROM versions v;
COMMENT ON VIEW tariff_calendar IS 'Tariff period of each piece [starts, ends) of the local day, per site and window version (local days [valid_from, valid_until)), on working days (working) and on weekends and holidays (not working: fora_ponta all day). Every local instant of a site falls in one row. emusa_tariff_period_local() answers from it for many instants at once.';

-- FROM sites, with LEFT JOINs: the planner then estimates a join on site_id at one row per
-- site (over the grouped subqueries alone it guessed far fewer rows, and chose nested loops).
CREATE VIEW tariff_calendar_lookup AS
SELECT s.site_id, h.days AS holidays, c.versions, c.keys, c.periods
FROM sites s
LEFT JOIN (
    SELECT x.site_id,
           array_agg(x.valid_from ORDER BY x.valid_from) FILTER (WHERE NOT x.working) AS versions,
           array_agg(x.key ORDER BY x.key) FILTER (WHERE x.working) AS keys,
           array_agg(x.period ORDER BY x.key) FILTER (WHERE x.working) AS periods
    FROM (
        SELECT c.site_id, c.valid_from, c.working, c.period,
               dense_rank() OVER (PARTITION BY c.site_id ORDER BY c.valid_from) * interval '1 day'
                   + (c.starts - time '00:00') AS key
        FROM tariff_calendar c
    ) x
    GROUP BY x.site_id
) c ON c.site_id = s.site_id
LEFT JOIN (SELECT h.site_id, array_agg(h.day ORDER BY h.day) AS days FROM holidays h GROUP BY h.site_id) h
    ON h.site_id = s.site_id;
COMMENT ON VIEW tariff_calendar_lookup IS 'tariff_calendar as sorted arrays, one row per site, for emusa_tariff_period_local(): the site''s holidays, its window versions (valid_from, the first -infinity), and the working-day pieces keyed by version number (days) + start, in that order, with their periods.';

-- Each use of p_local repeats the caller's expression (a time-zone conversion), so the
-- common path uses it as few times as it can: on a weekend day once, on a working day six
-- times. Outside 2000-2100 the national holidays come from emusa_br_national_holidays().
CREATE FUNCTION emusa_tariff_period_local(p_site text, p_local timestamp)
RETURNS TABLE (period text)
LANGUAGE sql STABLE PARALLEL SAFE
BEGIN ATOMIC
    SELECT CASE
        WHEN date_part('isodow', p_local) >= 6 THEN 'fora_ponta'
        WHEN p_local::date IN (SELECT n.day FROM tariff_national_holidays n) THEN 'fora_ponta'
        WHEN p_local::date = ANY (k.holidays) THEN 'fora_ponta'
        WHEN NOT p_local::date <@ daterange('2000-01-01', '2101-01-01')
             AND p_local::date IN (SELECT h.day FROM emusa_br_national_holidays(
                                       extract(year FROM p_local)::integer) h) THEN 'fora_ponta'
        ELSE k.periods[width_bucket(width_bucket(p_local::date, k.versions) * interval '1 day'
                                    + (p_local::time - time '00:00'), k.keys)]
        END
    FROM tariff_calendar_lookup k
    WHERE k.site_id = p_site;
END;
COMMENT ON FUNCTION emusa_tariff_period_local(text, timestamp) IS 'Tariff period (ponta, intermediario, fora_ponta) of a site at a local time: what emusa_tariff_period() answers for that instant, one row (none for an unknown site). Inlined into the calling query: over many rows, CROSS JOIN LATERAL emusa_tariff_period_local(site_id, time AT TIME ZONE timezone).';

REVOKE ALL ON FUNCTION emusa_tariff_period_local(text, timestamp) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION emusa_tariff_period_local(text, timestamp)
    TO emusa_analytics, emusa_grafana, emusa_bi;
GRANT SELECT ON tariff_national_holidays, tariff_calendar, tariff_calendar_lookup
    TO emusa_analytics, emusa_grafana;
GRANT SELECT ON tariff_national_holidays, tariff_calendar_lookup TO emusa_bi;
REVOKE EXECUTE ON FUNCTION emusa_tariff_period(text, timestamptz) FROM emusa_bi;

CREATE OR REPLACE VIEW bi.demand_15m AS
SELECT d.bucket AS time_utc,
       (d.bucket AT TIME ZONE s.timezone) AS time_local,
       s.site_id,
       m.name AS meter,
       t.period AS tariff_period,
       d.demand_kw,
       d.demand_kvar,
       d.e_imp_kwh_delta AS energy_kwh,
       d.pf_total_avg AS power_factor,
       d.samples
FROM demand_15m d
JOIN meters m ON m.meter_id = d.meter_id
JOIN sites s ON s.site_id = m.site_id
CROSS JOIN LATERAL emusa_tariff_period_local(s.site_id, d.bucket AT TIME ZONE s.timezone) t;

CREATE OR REPLACE VIEW bi.site_demand_15m AS
SELECT d.bucket AS time_utc,
       (d.bucket AT TIME ZONE s.timezone) AS time_local,
       s.site_id,
       t.period AS tariff_period,
       d.demand_kw,
       d.demand_kvar,
       d.e_imp_kwh_delta AS energy_kwh,
       d.pf_total_avg AS power_factor,
       d.meters_reporting,
       c.contracted_kw,
       c.contracted_kw * (1 + s.demand_tolerance) AS limit_kw,
       d.demand_kw > c.contracted_kw * (1 + s.demand_tolerance) AS exceeds_limit
FROM site_demand_15m d
JOIN sites s ON s.site_id = d.site_id
CROSS JOIN LATERAL emusa_tariff_period_local(s.site_id, d.bucket AT TIME ZONE s.timezone) t
CROSS JOIN LATERAL (
    SELECT CASE WHEN s.tariff_modality = 'azul' AND t.period = 'ponta'
                THEN s.contracted_demand_ponta_kw
                ELSE s.contracted_demand_kw END AS contracted_kw
) c;
