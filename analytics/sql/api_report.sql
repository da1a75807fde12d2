-- The HTTP API's /reports/{id}.pdf.
SELECT report_id, site_id, kind, lang, period_start, period_end, path, bytes, created_at, emailed_at
FROM reports
WHERE report_id = %(id)s
