-- Named queries of the production shifts (analytics/shifts/store.py): positional
-- parameters. The checks of a configuration are the database's (migration 0010).

-- name: delete_version
DELETE FROM site_shifts WHERE site_id = %s AND valid_from = %s;

-- name: insert_shift
INSERT INTO site_shifts (site_id, shift, days, starts, ends, valid_from)
VALUES (%s, %s, %s, %s::time, %s::time, %s);

-- name: clear
DELETE FROM site_shifts WHERE site_id = %s;

-- name: site_exists
SELECT 1 FROM sites WHERE site_id = %s;

-- name: day_shifts
-- (shift, day type, local start, local end) of a production date (%s twice), one site.
SELECT i.shift, i.day_type,
       to_char(i.starts_at AT TIME ZONE s.timezone, 'YYYY-MM-DD HH24:MI'),
       to_char(i.ends_at AT TIME ZONE s.timezone, 'YYYY-MM-DD HH24:MI')
FROM sites s, emusa_shift_intervals(s.site_id, %s, %s) i
WHERE s.site_id = %s
ORDER BY i.starts_at;
