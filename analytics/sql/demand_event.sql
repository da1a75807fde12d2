-- Demand controller: the event of one interval of a site, if the controller raised one.
SELECT anomaly_id, measured, details
FROM anomalies
WHERE site_id = %(site)s AND kind = %(kind)s AND meter_id IS NULL AND started_at = %(start)s
