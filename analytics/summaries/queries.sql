-- Named queries of the 6-hour summaries (analytics/summaries/).
-- Parameters are psycopg named placeholders; no value is ever pasted into the text.

-- name: window_events
SELECT a.kind, a.severity, m.name AS meter, a.started_at, a.message_pt, a.message_en
FROM anomalies a LEFT JOIN meters m ON m.meter_id = a.meter_id
WHERE a.site_id = %(site)s AND a.started_at < %(end)s
  AND coalesce(a.ended_at, 'infinity') > %(start)s
ORDER BY CASE a.severity WHEN 'critical' THEN 0 WHEN 'warning' THEN 1 ELSE 2 END, a.started_at;

-- name: model_status
-- The statistical model's state (day groups scored or still warming up) at its latest
-- fit before a summary window's end (written by analytics/detection/job.py as job 'model_fit').
SELECT details FROM analytics_job_runs
WHERE job = 'model_fit' AND site_id = %(site)s AND period_start < %(end)s
ORDER BY period_start DESC
LIMIT 1;

-- name: insert_summary
INSERT INTO summaries (site_id, period_start, period_end, text_pt, text_en, source, metrics)
VALUES (%(site)s, %(start)s, %(end)s, %(text_pt)s, %(text_en)s, %(source)s, %(metrics)s)
ON CONFLICT (site_id, period_start, period_end) DO NOTHING
RETURNING summary_id;
