-- Named queries of ingestor/bounds.py: what a flood can make the ingestor store is
-- bounded: sites and meters registered on first sight (EMUSA_INGESTOR_MAX_SITES /
-- EMUSA_INGESTOR_MAX_METERS) and dead letters (EMUSA_INGESTOR_REJECTS_PER_REASON).
-- (register_site, register_meter and find_meter are in queries.sql.)

-- name: find_meters
-- Meters of the batch that exist already (registered by another replica, or admitted).
SELECT m.site_id, m.name, m.meter_id
FROM meters m
JOIN unnest(%(sites)s::text[], %(names)s::text[]) AS k (site_id, name)
    ON k.site_id = m.site_id AND k.name = m.name;

-- name: find_sites
SELECT site_id FROM sites WHERE site_id = ANY(%(sites)s::text[]);

-- name: lock_registration
-- One registering transaction at a time, across replicas, until it commits: the counts
-- below stay true while the new sites and meters are added.
SELECT pg_advisory_xact_lock(hashtext('emusa.register'));

-- name: count_registered
SELECT (SELECT count(*) FROM sites), (SELECT count(*) FROM meters);

-- name: refused_meters
-- The sites and meters refused for a limit, per topic (parsed by the caller).
SELECT topic, reason, count(*), min(received_at), max(received_at)
FROM ingest_rejects
WHERE reason IN ('unknown_meter_limit', 'unknown_site_limit')
GROUP BY topic, reason
ORDER BY max(received_at) DESC
LIMIT %(limit)s;

-- name: trim_rejects
-- Migration 0013: chunks older than 30 days and all but the newest rows
-- of each reason.
SELECT chunks_dropped, rows_deleted FROM emusa_trim_ingest_rejects(per_reason => %(per_reason)s);
