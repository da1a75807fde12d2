-- 0001 core schema: sites, meters, readings hypertable, tariff calendar, event tables.
-- Plain SQL, applied once by `emusa-ingestor migrate` inside one transaction.
-- Column names of `readings` come from the canonical registry gateway/quantities.py;
-- tests/integration/test_schema.py fails when the two disagree.

CREATE EXTENSION IF NOT EXISTS timescaledb;

-- A name that is safe as an MQTT topic level and as a file name.
CREATE FUNCTION emusa_valid_name(p text) RETURNS boolean
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
AS $$ SELECT p ~ '^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$' $$;

CREATE FUNCTION emusa_valid_timezone(p text) RETURNS boolean
LANGUAGE plpgsql IMMUTABLE STRICT
AS $$
BEGIN
    PERFORM now() AT TIME ZONE p;
    RETURN true;
EXCEPTION WHEN invalid_parameter_value THEN
    RETURN false;
END
$$;

CREATE TABLE sites (
    site_id                    text PRIMARY KEY CHECK (emusa_valid_name(site_id)),
    name                       text NOT NULL,
    timezone                   text NOT NULL DEFAULT 'America/Sao_Paulo'
                               CHECK (emusa_valid_timezone(timezone)),
    tariff_modality            text NOT NULL DEFAULT 'verde'
                               CHECK (tariff_modality IN ('verde', 'azul', 'branca', 'convencional')),
    contracted_demand_kw       double precision CHECK (contracted_demand_kw > 0),
    contracted_demand_ponta_kw double precision CHECK (contracted_demand_ponta_kw > 0),
    demand_tolerance           double precision NOT NULL DEFAULT 0.05
                               CHECK (demand_tolerance >= 0 AND demand_tolerance < 1),
    pf_reference               double precision NOT NULL DEFAULT 0.92
                               CHECK (pf_reference > 0 AND pf_reference <= 1),
    created_at                 timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE sites IS 'A plant (site) with its time zone, tariff modality and contracted demand.';
COMMENT ON COLUMN sites.contracted_demand_kw IS 'Contracted demand in kW (fora-ponta for tarifa azul; the single demand otherwise).';
COMMENT ON COLUMN sites.contracted_demand_ponta_kw IS 'Contracted demand in ponta, kW (tarifa azul only).';
COMMENT ON COLUMN sites.demand_tolerance IS 'Fraction above contracted demand before ultrapassagem is billed (ANEEL: 5%).';

CREATE TABLE meters (
    meter_id              integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    site_id               text NOT NULL REFERENCES sites (site_id) ON UPDATE CASCADE,
    name                  text NOT NULL CHECK (emusa_valid_name(name)),
    model                 text,
    description           text,
    nominal_voltage_ln    double precision NOT NULL DEFAULT 127 CHECK (nominal_voltage_ln > 0),
    nominal_voltage_ll    double precision NOT NULL DEFAULT 220 CHECK (nominal_voltage_ll > 0),
    include_in_site_total boolean NOT NULL DEFAULT true,
    first_seen            timestamptz NOT NULL DEFAULT now(),
    UNIQUE (site_id, name)
);
COMMENT ON TABLE meters IS 'Power meters; registered by the ingestor on first sight of their MQTT topic.';
COMMENT ON COLUMN meters.include_in_site_total IS 'False for sub-meters already counted by a main meter, so site totals do not double count.';

CREATE TABLE readings (
    time         timestamptz NOT NULL,
    meter_id     integer NOT NULL REFERENCES meters (meter_id),
    seq          bigint,
    v_l1n        double precision,
    v_l2n        double precision,
    v_l3n        double precision,
    v_l12        double precision,
    v_l23        double precision,
    v_l31        double precision,
    i_l1         double precision,
    i_l2         double precision,
    i_l3         double precision,
    i_n          double precision,
    p_l1         double precision,
    p_l2         double precision,
    p_l3         double precision,
    p_total      double precision,
    q_l1         double precision,
    q_l2         double precision,
    q_l3         double precision,
    q_total      double precision,
    s_l1         double precision,
    s_l2         double precision,
    s_l3         double precision,
    s_total      double precision,
    pf_l1        double precision,
    pf_l2        double precision,
    pf_l3        double precision,
    pf_total     double precision,
    freq         double precision,
    e_imp_kwh    double precision,
    e_exp_kwh    double precision,
    e_imp_kvarh  double precision,
    e_exp_kvarh  double precision,
    thd_v_l1     double precision,
    thd_v_l2     double precision,
    thd_v_l3     double precision,
    thd_i_l1     double precision,
    thd_i_l2     double precision,
    thd_i_l3     double precision,
    demand_kw    double precision,
    demand_kva   double precision
);
SELECT create_hypertable('readings', by_range('time', INTERVAL '1 day'));
CREATE UNIQUE INDEX readings_meter_time_key ON readings (meter_id, time DESC);
COMMENT ON TABLE readings IS 'Raw meter readings, one row per meter and poll; unique per (meter_id, time) so redelivery is harmless.';
COMMENT ON COLUMN readings.seq IS 'Gateway sequence number of the reading (per meter, gaps reveal lost polls).';

-- Tariff calendar ------------------------------------------------------------------
CREATE TABLE tariff_windows (
    site_id    text NOT NULL REFERENCES sites (site_id) ON DELETE CASCADE ON UPDATE CASCADE,
    period     text NOT NULL CHECK (period IN ('ponta', 'intermediario')),
    starts     time NOT NULL,
    ends       time NOT NULL,
    valid_from date NOT NULL DEFAULT DATE '2000-01-01',
    PRIMARY KEY (site_id, period, starts, valid_from),
    CHECK (ends > starts)
);
COMMENT ON TABLE tariff_windows IS 'Local-time windows of horario de ponta and intermediario on working days, per site (set by each distributor). Outside them, and all day on weekends and holidays: fora_ponta.';

CREATE TABLE holidays (
    site_id text NOT NULL REFERENCES sites (site_id) ON DELETE CASCADE ON UPDATE CASCADE,
    day     date NOT NULL,
    name    text NOT NULL,
    PRIMARY KEY (site_id, day)
);
COMMENT ON TABLE holidays IS 'Extra (regional or distributor) holidays of a site; national holidays come from emusa_br_national_holidays().';

-- New sites get the typical windows: ponta 18-21 h, intermediario one hour either side.
CREATE FUNCTION emusa_site_default_windows() RETURNS trigger
LANGUAGE plpgsql
AS $$
BEGIN
    INSERT INTO tariff_windows (site_id, period, starts, ends) VALUES
        (NEW.site_id, 'ponta', '18:00', '21:00'),
        (NEW.site_id, 'intermediario', '17:00', '18:00'),
        (NEW.site_id, 'intermediario', '21:00', '22:00');
    RETURN NEW;
END
$$;
CREATE TRIGGER sites_default_windows AFTER INSERT ON sites
    FOR EACH ROW EXECUTE FUNCTION emusa_site_default_windows();

-- Easter Sunday (anonymous Gregorian algorithm, Meeus/Jones/Butcher).
CREATE FUNCTION emusa_easter(p_year integer) RETURNS date
LANGUAGE plpgsql IMMUTABLE STRICT PARALLEL SAFE
AS $$
DECLARE
    a int := p_year % 19;
    b int := p_year / 100;
    c int := p_year % 100;
    d int := b / 4;
    e int := b % 4;
    f int := (b + 8) / 25;
    g int := (b - f + 1) / 3;
    h int := (19 * a + b - d - g + 15) % 30;
    i int := c / 4;
    k int := c % 4;
    l int := (32 + 2 * e + 2 * i - h - k) % 7;
    m int := (a + 11 * h + 22 * l) / 451;
    mon int := (h + l - 7 * m + 114) / 31;
    dy int := ((h + l - 7 * m + 114) % 31) + 1;
BEGIN
    RETURN make_date(p_year, mon, dy);
END
$$;

-- Days without horario de ponta, besides weekends, as listed by ANEEL (REN 414/2010
-- art. 2, kept by REN 1000/2021, per secondary sources): Carnival Tuesday, Good Friday,
-- Corpus Christi and the national holidays. 20 November (Lei 14.759/2023, national since
-- 2024) is included from 2024: confirm with the distributor; add others per site in
-- `holidays`.
CREATE FUNCTION emusa_br_national_holidays(p_year integer)
RETURNS TABLE (day date, name text)
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
AS $$
    SELECT make_date(p_year, m, d), n FROM (VALUES
        (1, 1, 'Confraternização Universal'),
        (4, 21, 'Tiradentes'),
        (5, 1, 'Dia do Trabalho'),
        (9, 7, 'Independência do Brasil'),
        (10, 12, 'Nossa Senhora Aparecida'),
        (11, 2, 'Finados'),
        (11, 15, 'Proclamação da República'),
        (12, 25, 'Natal')) AS fixed (m, d, n)
    UNION ALL
    SELECT make_date(p_year, 11, 20), 'Dia Nacional de Zumbi e da Consciência Negra'
    WHERE p_year >= 2024
    UNION ALL
    SELECT emusa_easter(p_year) + o, n FROM (VALUES
        (-47, 'Carnaval (terça-feira)'),
        (-2, 'Sexta-feira da Paixão'),
        (60, 'Corpus Christi')) AS movable (o, n)
$$;

-- Tariff period ('ponta', 'intermediario' or 'fora_ponta') of an instant at a site.
-- Intermediario applies only to tarifa branca; other modalities have two periods.
-- A window covers [starts, ends) in the site's local time.
CREATE FUNCTION emusa_tariff_period(p_site text, p_ts timestamptz) RETURNS text
LANGUAGE plpgsql STABLE STRICT SECURITY DEFINER
SET search_path = pg_catalog, public
AS $$
DECLARE
    s      sites%ROWTYPE;
    local  timestamp;
    result text;
BEGIN
    SELECT * INTO s FROM sites WHERE site_id = p_site;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'emusa_tariff_period: unknown site %', p_site
            USING ERRCODE = 'foreign_key_violation';
    END IF;
    local := p_ts AT TIME ZONE s.timezone;
    IF extract(isodow FROM local) >= 6
       OR EXISTS (SELECT 1 FROM emusa_br_national_holidays(extract(year FROM local)::int) h
                  WHERE h.day = local::date)
       OR EXISTS (SELECT 1 FROM holidays h WHERE h.site_id = p_site AND h.day = local::date) THEN
        RETURN 'fora_ponta';
    END IF;
    SELECT w.period INTO result
    FROM tariff_windows w
    WHERE w.site_id = p_site
      AND w.valid_from = (SELECT max(v.valid_from) FROM tariff_windows v
                          WHERE v.site_id = p_site AND v.valid_from <= local::date)
      AND local::time >= w.starts AND local::time < w.ends
      AND (w.period = 'ponta' OR s.tariff_modality = 'branca')
    ORDER BY w.period = 'ponta' DESC
    LIMIT 1;
    RETURN coalesce(result, 'fora_ponta');
END
$$;

-- Events and outputs ----------------------------------------------------------------
CREATE TABLE anomalies (
    anomaly_id  bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    site_id     text NOT NULL REFERENCES sites (site_id) ON UPDATE CASCADE,
    meter_id    integer REFERENCES meters (meter_id),
    kind        text NOT NULL,
    detector    text NOT NULL DEFAULT 'rule' CHECK (detector IN ('rule', 'model')),
    severity    text NOT NULL CHECK (severity IN ('info', 'warning', 'critical')),
    started_at  timestamptz NOT NULL,
    ended_at    timestamptz CHECK (ended_at IS NULL OR ended_at >= started_at),
    quantity    text,
    measured    double precision,
    limit_value double precision,
    message_pt  text NOT NULL,
    message_en  text NOT NULL,
    details     jsonb NOT NULL DEFAULT '{}'::jsonb,
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT anomalies_event_key UNIQUE NULLS NOT DISTINCT (site_id, meter_id, kind, started_at)
);
CREATE INDEX anomalies_started_idx ON anomalies (started_at DESC);
COMMENT ON TABLE anomalies IS 'Detected events (rule or model), one row per event, extended while it lasts (ended_at NULL = ongoing).';

CREATE TABLE summaries (
    summary_id   bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    site_id      text NOT NULL REFERENCES sites (site_id) ON UPDATE CASCADE,
    period_start timestamptz NOT NULL,
    period_end   timestamptz NOT NULL CHECK (period_end > period_start),
    text_pt      text NOT NULL,
    text_en      text NOT NULL,
    source       text NOT NULL DEFAULT 'deterministic' CHECK (source IN ('deterministic', 'llm')),
    metrics      jsonb NOT NULL DEFAULT '{}'::jsonb,
    created_at   timestamptz NOT NULL DEFAULT now(),
    UNIQUE (site_id, period_start, period_end)
);
COMMENT ON TABLE summaries IS 'Six-hourly summaries for managers; at most one per site and period.';

CREATE TABLE reports (
    report_id    bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    site_id      text NOT NULL REFERENCES sites (site_id) ON UPDATE CASCADE,
    kind         text NOT NULL CHECK (kind IN ('daily', 'fortnightly', 'adhoc')),
    lang         text NOT NULL DEFAULT 'pt-BR' CHECK (lang IN ('pt-BR', 'en')),
    period_start timestamptz NOT NULL,
    period_end   timestamptz NOT NULL CHECK (period_end > period_start),
    path         text NOT NULL,
    sha256       text NOT NULL CHECK (sha256 ~ '^[0-9a-f]{64}$'),
    bytes        bigint NOT NULL CHECK (bytes > 0),
    created_at   timestamptz NOT NULL DEFAULT now(),
    emailed_at   timestamptz,
    recipients   text[] NOT NULL DEFAULT '{}'
);
CREATE UNIQUE INDEX reports_scheduled_key ON reports (site_id, kind, lang, period_start)
    WHERE kind <> 'adhoc';
COMMENT ON TABLE reports IS 'Generated PDF reports; a scheduled report exists at most once per site, kind, language and period.';

CREATE TABLE ingest_rejects (
    reject_id     bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    received_at   timestamptz NOT NULL DEFAULT now(),
    topic         text NOT NULL,
    reason        text NOT NULL,
    payload       bytea NOT NULL,
    payload_bytes integer NOT NULL CHECK (payload_bytes >= 0),
    truncated     boolean NOT NULL DEFAULT false
);
CREATE INDEX ingest_rejects_received_idx ON ingest_rejects (received_at DESC);
COMMENT ON TABLE ingest_rejects IS 'Dead letters: MQTT messages the ingestor refused, with the reason and the (possibly truncated) raw payload.';

-- Energy consumed in a bucket from counter readings, robust to one counter reset.
-- p_prev_last: the counter at the end of the adjacent previous bucket (NULL when that
-- bucket has no data, so energy across a gap is not attributed to this bucket).
-- base = p_prev_last, else the first reading of the bucket.
-- * No reset (the lowest reading is at least half the base): energy = last - base,
--   clamped at 0 so float32 jitter of a counter never yields negative energy.
-- * Reset (the counter fell below half the base: meter reset or replaced, restarting
--   near zero): energy = what was counted before the drop (max - base, if positive)
--   plus what was counted after it (last - min).
CREATE FUNCTION emusa_counter_delta(
    p_prev_last double precision, p_first double precision, p_last double precision,
    p_min double precision, p_max double precision
) RETURNS double precision
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$
    SELECT CASE
        WHEN p_last IS NULL THEN NULL
        WHEN p_min >= coalesce(p_prev_last, p_first) / 2
            THEN greatest(p_last - coalesce(p_prev_last, p_first), 0)
        ELSE greatest(p_max - coalesce(p_prev_last, p_first), 0) + (p_last - p_min)
    END
$$;
