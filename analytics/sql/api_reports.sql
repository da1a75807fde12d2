-- The HTTP API's /reports list: newest first, filtered by site and kind when given.
SELECT report_id, site_id, kind, lang, period_start, period_end, path, bytes, created_at, emailed_at
FROM reports
WHERE (%(site)s::text IS NULL OR site_id = %(site)s::text)
  AND (%(kind)s::text IS NULL OR kind = %(kind)s::text)
ORDER BY created_at DESC, report_id DESC
LIMIT %(limit)s
