-- Named queries of the ingestor writer, loaded once by ingestor/writer.py.
-- {columns} is replaced by the quoted `readings` columns (time, meter_id, seq, then one
-- per canonical quantity in gateway/quantities.py order), built with psycopg.sql.

-- name: has_invalidations
-- Apache-only build: the ingestor logs the time range of each batch for the rollups.
SELECT to_regclass('rollup.invalidations') IS NOT NULL;

-- name: load_meters
SELECT site_id, name, meter_id FROM meters;

-- name: create_staging
-- One per connection; emptied at every commit.
CREATE TEMP TABLE IF NOT EXISTS emusa_ingest_staging (LIKE readings) ON COMMIT DELETE ROWS;

-- name: copy_staging
COPY emusa_ingest_staging ({columns}) FROM STDIN (FORMAT BINARY);

-- name: copy_readings
-- Straight into the hypertable: the fast path, inside a savepoint (fails on a duplicate).
COPY readings ({columns}) FROM STDIN (FORMAT BINARY);

-- name: merge_staging
-- Redelivered or replayed readings hit the unique (meter_id, time) and are skipped.
INSERT INTO readings ({columns}) SELECT {columns} FROM emusa_ingest_staging
ON CONFLICT DO NOTHING;

-- name: insert_reading
INSERT INTO readings ({columns}) VALUES ({placeholders}) ON CONFLICT DO NOTHING;

-- name: register_site
INSERT INTO sites (site_id, name) VALUES (%(site)s, %(site)s) ON CONFLICT DO NOTHING;

-- name: register_meter
INSERT INTO meters (site_id, name) VALUES (%(site)s, %(meter)s) ON CONFLICT DO NOTHING;

-- name: find_meter
SELECT meter_id FROM meters WHERE site_id = %(site)s AND name = %(meter)s;

-- name: insert_reject
INSERT INTO ingest_rejects (topic, reason, payload, payload_bytes, truncated)
VALUES (%s, %s, %s, %s, %s);

-- name: log_invalidation
INSERT INTO rollup.invalidations (range_start, range_end) VALUES (%s, %s);
