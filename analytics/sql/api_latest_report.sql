-- The HTTP API's /reports/latest.pdf: the report whose period ends last.
SELECT report_id, site_id, kind, lang, period_start, period_end, path, bytes, created_at, emailed_at
FROM reports
WHERE (%(site)s::text IS NULL OR site_id = %(site)s::text)
  AND (%(kind)s::text IS NULL OR kind = %(kind)s::text)
ORDER BY period_end DESC, created_at DESC
LIMIT 1
