-- The HTTP API: which of the requested site (when given) and meter names the database
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
)
