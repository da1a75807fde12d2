-- Demand controller: its events (kind demand_projection) whose interval has ended but
-- whose outcome is not recorded yet (closed at the next run, also after downtime).
SELECT anomaly_id, started_at, ended_at, measured, details
FROM anomalies
WHERE site_id = %(site)s AND kind = %(kind)s AND meter_id IS NULL
  AND ended_at <= %(now)s AND ended_at >= %(since)s
  AND NOT details ? 'outcome'
ORDER BY started_at
