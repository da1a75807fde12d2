-- Named queries of the HTTP API (analytics/api/app.py).
-- Parameters are psycopg named placeholders; no value is ever pasted into the text.

-- name: health
-- /health: the database answers.
SELECT 1;

-- name: session
-- The session guards, set once per connection: a query,
-- a lock wait and a transaction left idle (an export whose client stopped reading) are
-- ended by the server after these many milliseconds.
SELECT set_config('statement_timeout', %(statement_timeout_ms)s, false),
       set_config('lock_timeout', %(lock_timeout_ms)s, false),
       set_config('idle_in_transaction_session_timeout', %(idle_in_transaction_ms)s, false);

-- name: missing_names
-- Which of the requested site (when given) and meter names the database
-- does not hold, site first (the API answers 404 naming the first).
SELECT 'site' AS parameter, %(site)s::text AS name
WHERE %(site)s::text IS NOT NULL
  AND NOT EXISTS (SELECT 1 FROM sites WHERE site_id = %(site)s::text)
UNION ALL
SELECT 'meter', w.name
FROM unnest(%(meters)s::text[]) AS w (name)
WHERE NOT EXISTS (
    SELECT 1 FROM meters m
    WHERE m.name = w.name AND (%(site)s::text IS NULL OR m.site_id = %(site)s::text)
);

-- name: reports
-- /reports list: newest first, filtered by site and kind when given.
SELECT report_id, site_id, kind, lang, period_start, period_end, path, bytes, created_at, emailed_at
FROM reports
WHERE (%(site)s::text IS NULL OR site_id = %(site)s::text)
  AND (%(kind)s::text IS NULL OR kind = %(kind)s::text)
ORDER BY created_at DESC, report_id DESC
LIMIT %(limit)s;

-- name: latest_report
-- /reports/latest.pdf: the report whose period ends last.
SELECT report_id, site_id, kind, lang, period_start, period_end, path, bytes, created_at, emailed_at
FROM reports
WHERE (%(site)s::text IS NULL OR site_id = %(site)s::text)
  AND (%(kind)s::text IS NULL OR kind = %(kind)s::text)
ORDER BY period_end DESC, created_at DESC
LIMIT 1;

-- name: report
-- /reports/{id}.pdf.
SELECT report_id, site_id, kind, lang, period_start, period_end, path, bytes, created_at, emailed_at
FROM reports
WHERE report_id = %(id)s;
