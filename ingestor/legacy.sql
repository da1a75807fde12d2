-- Named queries of `emusa-ingestor import-legacy` (ingestor/legacy_source.py and
-- ingestor/legacy_import.py), loaded by ingestor.writer.named_statements. {table} is the
-- old app's table and {columns} its value columns cast to float8, both quoted
-- identifiers built with psycopg.sql; values are always parameters.

-- name: source_table
-- Schema and name of the old app's table as the server resolves it (no row: no table).
SELECT n.nspname::text, c.relname::text
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.oid = to_regclass(%(table)s);

-- name: source_columns
SELECT attname::text FROM pg_attribute
WHERE attrelid = to_regclass(%(table)s) AND attnum > 0 AND NOT attisdropped;

-- name: source_ts_indexed
-- Is there an index whose first column is ts (the old app creates idx_leituras_ts)?
SELECT EXISTS (
    SELECT 1 FROM pg_index i
    JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = i.indkey[0]
    WHERE i.indrelid = to_regclass(%(table)s) AND a.attname = 'ts'
);

-- name: source_count
SELECT count(*) FROM {table} WHERE ts >= %(since)s AND ts < %(until)s;

-- name: source_page
-- One keyset page in (ts, id) order. `ts >= after_ts` lets an index on ts start the scan
-- at the page boundary; the row comparison is spelled out so that index on ts alone
-- (the old app's) serves it.
SELECT id, ts, {columns} FROM {table}
WHERE ts >= %(after_ts)s AND ts < %(until)s
  AND (ts > %(after_ts)s OR id > %(after_id)s)
ORDER BY ts, id
LIMIT %(limit)s;

-- name: stored_instants
-- Instants of this meter already in `readings` within a page's time range.
SELECT time FROM readings
WHERE meter_id = %(meter_id)s AND time >= %(first)s AND time <= %(last)s;

-- name: known_rejects
-- Dead letters already kept for this topic: a second run does not store them again.
SELECT payload FROM ingest_rejects WHERE topic = %(topic)s;
