-- Named queries of the alert delivery (analytics/delivery/alerts.py): the decision per
-- anomaly (alert_deliveries) and the cooldown per (site, meter, kind) (alert_cooldowns).

-- name: pending_alerts
-- Anomalies of the alerted severities started in the lookback, not decided yet or
-- failed fewer than max_attempts times; the columns of alerts.Event, in order.
SELECT a.anomaly_id, a.site_id, a.meter_id, m.name, a.kind, a.severity, a.started_at,
       a.ended_at, a.quantity, a.measured, a.limit_value, a.message_pt, a.message_en,
       s.name, s.timezone, coalesce(d.attempts, 0), coalesce(a.details, '{}'::jsonb)
FROM anomalies a
JOIN sites s ON s.site_id = a.site_id
LEFT JOIN meters m ON m.meter_id = a.meter_id
LEFT JOIN alert_deliveries d ON d.anomaly_id = a.anomaly_id
WHERE a.severity = ANY(%(severities)s)
  AND a.started_at >= %(since)s AND a.started_at <= %(now)s
  AND (%(site)s::text IS NULL OR a.site_id = %(site)s)
  AND (d.anomaly_id IS NULL OR (d.outcome = 'failed' AND d.attempts < %(max_attempts)s))
ORDER BY a.started_at, a.anomaly_id;

-- name: lock_cooldown
-- One worker decides per (site, meter, kind) at a time: positional (site, meter, kind).
SELECT last_sent_at FROM alert_cooldowns
WHERE site_id = %s AND meter_id IS NOT DISTINCT FROM %s AND kind = %s
FOR UPDATE;

-- name: count_suppressed
UPDATE alert_cooldowns SET suppressed = suppressed + 1
WHERE site_id = %s AND meter_id IS NOT DISTINCT FROM %s AND kind = %s;

-- name: start_cooldown
-- Positional (site, meter, kind, sent at, anomaly id).
INSERT INTO alert_cooldowns (site_id, meter_id, kind, last_sent_at, anomaly_id)
VALUES (%s, %s, %s, %s, %s)
ON CONFLICT ON CONSTRAINT alert_cooldowns_key DO UPDATE
SET last_sent_at = EXCLUDED.last_sent_at, anomaly_id = EXCLUDED.anomaly_id, suppressed = 0;

-- name: record_decision
-- Positional (anomaly, site, meter, kind, outcome, channels, attempts, last error).
INSERT INTO alert_deliveries (anomaly_id, site_id, meter_id, kind, outcome, channels,
                              attempts, last_error)
VALUES (%s, %s, %s, %s, %s, %s, %s, %s)
ON CONFLICT (anomaly_id) DO UPDATE
SET outcome = EXCLUDED.outcome, channels = EXCLUDED.channels,
    attempts = alert_deliveries.attempts + EXCLUDED.attempts,
    last_error = EXCLUDED.last_error, decided_at = now();
