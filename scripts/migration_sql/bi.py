"""The documented ``bi`` schema read by Power BI (part of migration 0003)."""

from __future__ import annotations

from contract.quantities import counters, gauges


def _comment(rel: str, col: str, text: str) -> str:
    return f"COMMENT ON COLUMN {rel}.{col} IS '{text.replace(chr(39), chr(39) * 2)}';"


def bi_readings(create: str = "CREATE VIEW") -> str:
    cols = [
        "r.bucket AS time_utc",
        "(r.bucket AT TIME ZONE s.timezone) AS time_local",
        "s.site_id",
        "m.name AS meter",
        "r.samples",
    ]
    comments = [
        ("time_utc", "Start of the minute (UTC, timestamptz)."),
        ("time_local", "Start of the minute in the site's local time (timestamp without zone)."),
        ("site_id", "Site (plant) identifier."),
        ("meter", "Meter name, as in the MQTT topic."),
        ("samples", "Number of raw readings in the minute."),
    ]
    for q in gauges():
        cols.append(f"r.{q.name}_avg AS {q.name}")
        comments.append((q.name, f"{q.label_en}, minute average ({q.unit or 'ratio'})."))
    for q in counters():
        cols.append(f"r.{q.name}_delta AS {q.name}")
        comments.append(
            (q.name, f"{q.label_en} during the minute ({q.unit}), from counter deltas.")
        )
    body = ",\n    ".join(cols)
    return (
        f"{create} bi.readings_1m AS\nSELECT\n    {body}\nFROM readings_1m r\n"
        "JOIN meters m ON m.meter_id = r.meter_id\nJOIN sites s ON s.site_id = m.site_id;\n"
        "COMMENT ON VIEW bi.readings_1m IS 'One row per meter and minute: averages of each "
        "quantity and energy per minute.';\n"
        + "\n".join(_comment("bi.readings_1m", c, t) for c, t in comments)
        + "\n"
    )


BI_STATIC = """CREATE SCHEMA bi;
COMMENT ON SCHEMA bi IS 'Documented, read-only views for Power BI and other BI tools.';

CREATE VIEW bi.meters AS
SELECT m.site_id, s.name AS site_name, m.name AS meter, m.model, m.description,
       m.nominal_voltage_ln, m.nominal_voltage_ll, m.include_in_site_total, m.first_seen
FROM meters m JOIN sites s ON s.site_id = m.site_id;
COMMENT ON VIEW bi.meters IS 'Meters and the site each belongs to.';
COMMENT ON COLUMN bi.meters.site_id IS 'Site (plant) identifier.';
COMMENT ON COLUMN bi.meters.site_name IS 'Site display name.';
COMMENT ON COLUMN bi.meters.meter IS 'Meter name, as in the MQTT topic.';
COMMENT ON COLUMN bi.meters.model IS 'Meter model (register map name).';
COMMENT ON COLUMN bi.meters.description IS 'Free text: location, feeder, load.';
COMMENT ON COLUMN bi.meters.nominal_voltage_ln IS 'Nominal line-neutral voltage (V).';
COMMENT ON COLUMN bi.meters.nominal_voltage_ll IS 'Nominal line-line voltage (V).';
COMMENT ON COLUMN bi.meters.include_in_site_total IS 'Whether the meter counts in site totals (false for sub-meters).';
COMMENT ON COLUMN bi.meters.first_seen IS 'When the first reading of the meter arrived (UTC).';

{readings}
CREATE VIEW bi.demand_15m AS
SELECT d.bucket AS time_utc,
       (d.bucket AT TIME ZONE s.timezone) AS time_local,
       s.site_id,
       m.name AS meter,
       emusa_tariff_period(s.site_id, d.bucket) AS tariff_period,
       d.demand_kw,
       d.demand_kvar,
       d.e_imp_kwh_delta AS energy_kwh,
       d.pf_total_avg AS power_factor,
       d.samples
FROM demand_15m d
JOIN meters m ON m.meter_id = d.meter_id
JOIN sites s ON s.site_id = m.site_id;
COMMENT ON VIEW bi.demand_15m IS 'Demand per meter and 15-minute interval with its tariff period.';
COMMENT ON COLUMN bi.demand_15m.time_utc IS 'Start of the interval (UTC).';
COMMENT ON COLUMN bi.demand_15m.time_local IS 'Start of the interval in the site''s local time.';
COMMENT ON COLUMN bi.demand_15m.site_id IS 'Site (plant) identifier.';
COMMENT ON COLUMN bi.demand_15m.meter IS 'Meter name.';
COMMENT ON COLUMN bi.demand_15m.tariff_period IS 'ponta, intermediario (tarifa branca only) or fora_ponta, from the site tariff calendar.';
COMMENT ON COLUMN bi.demand_15m.demand_kw IS 'Average active power over the interval (kW) = imported kWh x 4.';
COMMENT ON COLUMN bi.demand_15m.demand_kvar IS 'Average reactive power over the interval (kvar).';
COMMENT ON COLUMN bi.demand_15m.energy_kwh IS 'Active energy imported in the interval (kWh).';
COMMENT ON COLUMN bi.demand_15m.power_factor IS 'Average total power factor in the interval.';
COMMENT ON COLUMN bi.demand_15m.samples IS 'Number of raw readings in the interval.';

CREATE VIEW bi.site_demand_15m AS
SELECT d.bucket AS time_utc,
       (d.bucket AT TIME ZONE s.timezone) AS time_local,
       s.site_id,
       emusa_tariff_period(s.site_id, d.bucket) AS tariff_period,
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
CROSS JOIN LATERAL (
    SELECT CASE WHEN s.tariff_modality = 'azul'
                 AND emusa_tariff_period(s.site_id, d.bucket) = 'ponta'
                THEN s.contracted_demand_ponta_kw
                ELSE s.contracted_demand_kw END AS contracted_kw
) c;
COMMENT ON VIEW bi.site_demand_15m IS 'Site demand per 15-minute interval against the contracted demand.';
COMMENT ON COLUMN bi.site_demand_15m.time_utc IS 'Start of the interval (UTC).';
COMMENT ON COLUMN bi.site_demand_15m.time_local IS 'Start of the interval in the site''s local time.';
COMMENT ON COLUMN bi.site_demand_15m.site_id IS 'Site (plant) identifier.';
COMMENT ON COLUMN bi.site_demand_15m.tariff_period IS 'ponta, intermediario (tarifa branca only) or fora_ponta.';
COMMENT ON COLUMN bi.site_demand_15m.demand_kw IS 'Site demand: sum of the meters counted in the site total (kW).';
COMMENT ON COLUMN bi.site_demand_15m.demand_kvar IS 'Site reactive demand (kvar).';
COMMENT ON COLUMN bi.site_demand_15m.energy_kwh IS 'Site active energy imported in the interval (kWh).';
COMMENT ON COLUMN bi.site_demand_15m.power_factor IS 'Site power factor in the interval, P / sqrt(P^2 + Q^2).';
COMMENT ON COLUMN bi.site_demand_15m.meters_reporting IS 'Meters with data in the interval.';
COMMENT ON COLUMN bi.site_demand_15m.contracted_kw IS 'Contracted demand that applies in this tariff period (kW).';
COMMENT ON COLUMN bi.site_demand_15m.limit_kw IS 'Contracted demand plus the tolerance (ANEEL: 5%) before ultrapassagem is billed (kW).';
COMMENT ON COLUMN bi.site_demand_15m.exceeds_limit IS 'True when the demand is above limit_kw (ultrapassagem).';

CREATE VIEW bi.energy_daily AS
SELECT (d.time_local)::date AS day,
       d.site_id,
       d.meter,
       sum(d.energy_kwh) AS energy_kwh,
       sum(d.energy_kwh) FILTER (WHERE d.tariff_period = 'ponta') AS energy_ponta_kwh,
       sum(d.energy_kwh) FILTER (WHERE d.tariff_period = 'intermediario') AS energy_intermediario_kwh,
       sum(d.energy_kwh) FILTER (WHERE d.tariff_period = 'fora_ponta') AS energy_fora_ponta_kwh,
       max(d.demand_kw) AS max_demand_kw,
       max(d.demand_kw) FILTER (WHERE d.tariff_period = 'ponta') AS max_demand_ponta_kw,
       max(d.demand_kw) FILTER (WHERE d.tariff_period <> 'ponta') AS max_demand_fora_ponta_kw,
       avg(d.power_factor) AS power_factor_avg,
       sum(d.samples) AS samples
FROM bi.demand_15m d
GROUP BY 1, 2, 3;
COMMENT ON VIEW bi.energy_daily IS 'Energy and maximum demand per meter and local day, split by tariff period.';
COMMENT ON COLUMN bi.energy_daily.day IS 'Local calendar day of the site.';
COMMENT ON COLUMN bi.energy_daily.site_id IS 'Site (plant) identifier.';
COMMENT ON COLUMN bi.energy_daily.meter IS 'Meter name.';
COMMENT ON COLUMN bi.energy_daily.energy_kwh IS 'Active energy imported in the day (kWh).';
COMMENT ON COLUMN bi.energy_daily.energy_ponta_kwh IS 'Of which in horario de ponta (kWh).';
COMMENT ON COLUMN bi.energy_daily.energy_intermediario_kwh IS 'Of which in intermediario, tarifa branca only (kWh).';
COMMENT ON COLUMN bi.energy_daily.energy_fora_ponta_kwh IS 'Of which fora de ponta (kWh).';
COMMENT ON COLUMN bi.energy_daily.max_demand_kw IS 'Largest 15-minute demand of the day (kW).';
COMMENT ON COLUMN bi.energy_daily.max_demand_ponta_kw IS 'Largest 15-minute demand in ponta (kW).';
COMMENT ON COLUMN bi.energy_daily.max_demand_fora_ponta_kw IS 'Largest 15-minute demand outside ponta (kW).';
COMMENT ON COLUMN bi.energy_daily.power_factor_avg IS 'Average of the 15-minute power factors.';
COMMENT ON COLUMN bi.energy_daily.samples IS 'Number of raw readings in the day.';

CREATE VIEW bi.anomalies AS
SELECT a.anomaly_id, a.site_id, m.name AS meter, a.kind, a.detector, a.severity,
       a.started_at, a.ended_at,
       (a.started_at AT TIME ZONE s.timezone) AS started_local,
       (a.ended_at AT TIME ZONE s.timezone) AS ended_local,
       a.quantity, a.measured, a.limit_value, a.message_pt, a.message_en
FROM anomalies a
JOIN sites s ON s.site_id = a.site_id
LEFT JOIN meters m ON m.meter_id = a.meter_id;
COMMENT ON VIEW bi.anomalies IS 'Detected anomalies (rules and model), one row per event.';
COMMENT ON COLUMN bi.anomalies.anomaly_id IS 'Event identifier.';
COMMENT ON COLUMN bi.anomalies.site_id IS 'Site (plant) identifier.';
COMMENT ON COLUMN bi.anomalies.meter IS 'Meter name (empty for site-level events).';
COMMENT ON COLUMN bi.anomalies.kind IS 'Event kind, for example voltage_band, frequency, power_factor, demand_exceeded, meter_silent.';
COMMENT ON COLUMN bi.anomalies.detector IS 'rule (power-quality rules) or model (statistical detector).';
COMMENT ON COLUMN bi.anomalies.severity IS 'info, warning or critical.';
COMMENT ON COLUMN bi.anomalies.started_at IS 'Start of the event (UTC).';
COMMENT ON COLUMN bi.anomalies.ended_at IS 'End of the event (UTC); empty while ongoing.';
COMMENT ON COLUMN bi.anomalies.started_local IS 'Start of the event in local time.';
COMMENT ON COLUMN bi.anomalies.ended_local IS 'End of the event in local time.';
COMMENT ON COLUMN bi.anomalies.quantity IS 'Quantity involved (canonical name).';
COMMENT ON COLUMN bi.anomalies.measured IS 'Worst measured value during the event.';
COMMENT ON COLUMN bi.anomalies.limit_value IS 'Limit that was crossed.';
COMMENT ON COLUMN bi.anomalies.message_pt IS 'Explanation in Portuguese.';
COMMENT ON COLUMN bi.anomalies.message_en IS 'Explanation in English.';

CREATE VIEW bi.summaries AS
SELECT su.summary_id, su.site_id, su.period_start, su.period_end,
       (su.period_start AT TIME ZONE s.timezone) AS period_start_local,
       (su.period_end AT TIME ZONE s.timezone) AS period_end_local,
       su.text_pt, su.text_en, su.source, su.created_at
FROM summaries su
JOIN sites s ON s.site_id = su.site_id;
COMMENT ON VIEW bi.summaries IS 'Six-hourly summaries written for managers.';
COMMENT ON COLUMN bi.summaries.summary_id IS 'Summary identifier.';
COMMENT ON COLUMN bi.summaries.site_id IS 'Site (plant) identifier.';
COMMENT ON COLUMN bi.summaries.period_start IS 'Start of the summarised window (UTC).';
COMMENT ON COLUMN bi.summaries.period_end IS 'End of the summarised window (UTC).';
COMMENT ON COLUMN bi.summaries.period_start_local IS 'Start of the window in local time.';
COMMENT ON COLUMN bi.summaries.period_end_local IS 'End of the window in local time.';
COMMENT ON COLUMN bi.summaries.text_pt IS 'Summary text in Portuguese.';
COMMENT ON COLUMN bi.summaries.text_en IS 'Summary text in English.';
COMMENT ON COLUMN bi.summaries.source IS 'deterministic (from the numbers) or llm (rewritten by a language model).';
COMMENT ON COLUMN bi.summaries.created_at IS 'When the summary was written (UTC).';
"""
