-- Named queries of the ingestor writer, loaded once by ingestor/writer.py.
-- {columns} is replaced by the quoted `readings` columns (time, meter_id, seq, then one
-- per canonical quantity in contract/quantities.py order), built with psycopg.sql.

-- name: has_invalidations
-- The ingestor logs the time ranges it wrote for the rollups (migration 0015, both builds).
SELECT to_regprocedure('rollup.late_before()') IS NOT NULL;

-- name: has_meter_info
-- Migration 0019 (meter metadata) applied: an ingestor started before `migrate` keeps
-- storing readings and diagnostics without it.
SELECT to_regclass('meter_registers') IS NOT NULL;

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
-- One range of readings of the batch; only when it starts before rollup.late_before()
-- (Apache build: always; Community: older than the refresh policies reach).
INSERT INTO rollup.invalidations (range_start, range_end)
SELECT lo, hi FROM (VALUES (%s::timestamptz, %s::timestamptz)) AS r (lo, hi)
WHERE lo < rollup.late_before();

-- name: insert_meter_diagnostics
-- Modbus diagnostics of a meter for one reporting period; a redelivery is skipped.
-- {channel_columns}: channel, port, identifier (migration 0019; a channel of the plant's
-- file, else NULL), left out on a database before 0019 (insert_meter_diagnostics_before_0019).
INSERT INTO modbus_meter_diagnostics (
    time, meter_id, gateway, bus, unit, status, period_s, requests, successes, timeouts,
    crc_errors, exceptions, exception_codes, connect_errors, invalid, retries,
    latency_last_ms, latency_p50_ms, latency_p95_ms, latency_max_ms,
    consecutive_failures, backoff_s, next_try_in_s, seconds_since_good_read{channel_columns})
VALUES (
    %(time)s, %(meter_id)s, %(gateway)s, %(bus)s, %(unit)s, %(status)s, %(period_s)s,
    %(requests)s, %(successes)s, %(timeouts)s, %(crc_errors)s, %(exceptions)s,
    %(exception_codes)s, %(connect_errors)s, %(invalid)s, %(retries)s,
    %(latency_last_ms)s, %(latency_p50_ms)s, %(latency_p95_ms)s, %(latency_max_ms)s,
    %(consecutive_failures)s, %(backoff_s)s, %(next_try_in_s)s, %(seconds_since_good_read)s
    {channel_values})
ON CONFLICT DO NOTHING;

-- name: insert_bus_diagnostics
-- Modbus diagnostics of a gateway's bus for one reporting period; a redelivery is skipped.
INSERT INTO modbus_bus_diagnostics (
    time, site_id, gateway, bus, period_s, requests, successes, timeouts, crc_errors,
    exceptions, exception_codes, connect_errors, invalid, retries, latency_last_ms,
    latency_p50_ms, latency_p95_ms, latency_max_ms, cycles, cycle_last_ms, cycle_max_ms,
    overruns, meters, meters_online)
VALUES (
    %(time)s, %(site)s, %(gateway)s, %(bus)s, %(period_s)s, %(requests)s, %(successes)s,
    %(timeouts)s, %(crc_errors)s, %(exceptions)s, %(exception_codes)s, %(connect_errors)s,
    %(invalid)s, %(retries)s, %(latency_last_ms)s, %(latency_p50_ms)s, %(latency_p95_ms)s,
    %(latency_max_ms)s, %(cycles)s, %(cycle_last_ms)s, %(cycle_max_ms)s, %(overruns)s,
    %(meters)s, %(meters_online)s)
ON CONFLICT DO NOTHING;

-- name: update_meter_info
-- The meter's part of its newest info message (contract/meterinfo.py). A retained message
-- received again (at every reconnect) changes nothing: info_changed_at marks a change of
-- the meter's part or (registers_changed, from the statements below) of its registers.
UPDATE meters SET
    model = %(model)s, gateway = %(gateway)s, map_file = %(map)s, unit_id = %(unit)s,
    channel = %(channel)s, identifier = %(identifier)s, port = %(port)s, info_changed_at = now()
WHERE meter_id = %(meter_id)s
  AND (%(registers_changed)s
       OR info_changed_at IS NULL
       OR (model, gateway, map_file, unit_id, channel, identifier, port)
          IS DISTINCT FROM (%(model)s::text, %(gateway)s::text, %(map)s::text,
                            %(unit)s::integer, %(channel)s::text, %(identifier)s::text,
                            %(port)s::text));

-- name: upsert_meter_register
INSERT INTO meter_registers (meter_id, quantity, position, name, description, unit, ai)
VALUES (%(meter_id)s, %(quantity)s, %(position)s, %(name)s, %(description)s, %(unit)s, %(ai)s)
ON CONFLICT (meter_id, quantity) DO UPDATE SET
    position = EXCLUDED.position, name = EXCLUDED.name, description = EXCLUDED.description,
    unit = EXCLUDED.unit, ai = EXCLUDED.ai
WHERE (meter_registers.position, meter_registers.name, meter_registers.description,
       meter_registers.unit, meter_registers.ai)
      IS DISTINCT FROM (EXCLUDED.position, EXCLUDED.name, EXCLUDED.description,
                        EXCLUDED.unit, EXCLUDED.ai);

-- name: drop_meter_registers
-- The registers the meter's newest info message no longer lists.
DELETE FROM meter_registers
WHERE meter_id = %(meter_id)s AND NOT (quantity = ANY (%(quantities)s::text[]));
