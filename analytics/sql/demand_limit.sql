-- Demand controller: the demand limit of the 15-minute interval starting at %(start)s,
-- as bi.site_demand_15m states it: the tariff period of the interval start
-- (emusa_tariff_period), the contracted demand of that period (ponta demand on tarifa
-- azul during ponta, else the single / fora-ponta demand) and the tolerance.
SELECT s.site_id, s.timezone, t.period,
       CASE WHEN s.tariff_modality = 'azul' AND t.period = 'ponta'
            THEN s.contracted_demand_ponta_kw ELSE s.contracted_demand_kw END AS contracted_kw,
       s.demand_tolerance
FROM sites s
CROSS JOIN LATERAL (SELECT emusa_tariff_period(s.site_id, %(start)s) AS period) t
WHERE s.site_id = %(site)s
