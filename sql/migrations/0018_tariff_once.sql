-- 0018 (both builds): bi.site_demand_15m computes each interval's tariff period once.
-- It called emusa_tariff_period() twice per row on 'azul' sites (the period column and
-- the contracted demand of the interval); a year of Power BI import, the fortnightly
-- report's demand days and the 6-hour summaries pay that function per row
-- (make bench-history, issue 17). The period is now computed in a LATERAL subquery
-- (OFFSET 0: not flattened back into two calls) and used by both. Same columns, same values.
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
CROSS JOIN LATERAL (SELECT emusa_tariff_period(s.site_id, d.bucket) AS period OFFSET 0) t
CROSS JOIN LATERAL (
    SELECT CASE WHEN s.tariff_modality = 'azul' AND t.period = 'ponta'
                THEN s.contracted_demand_ponta_kw
                ELSE s.contracted_demand_kw END AS contracted_kw
) c;
