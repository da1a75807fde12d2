-- 0012 least reach (issue 13): a read-only role can neither stall ingestion nor reach
-- what it does not read.
--
-- TimescaleDB's TRUNCATE (and PostgreSQL's lock queue) let a role that merely *names* a
-- table queue an ACCESS EXCLUSIVE lock on it before its privileges are checked: the
-- request waits behind any open query, and every insert and query then waits behind it.
-- Three defences:
-- 1. Nobody reaches the raw tables' schema by default: PUBLIC loses USAGE on `public`;
--    the ingestor, analytics and Grafana roles keep the explicit USAGE of 0004. emusa_bi
--    reaches schema `bi` only (its views read the raw tables with their owner's rights),
--    so naming `public.readings` fails at once: "permission denied for schema public".
-- 2. The read-only roles' sessions are read-only by default: TRUNCATE, LOCK ... IN
--    ACCESS EXCLUSIVE MODE and every write fail at once ("read-only transaction") instead
--    of queueing for a lock; this also covers tables they can still name (chunks in
--    _timescaledb_internal, which every role querying a hypertable must reach, and the
--    system catalogs).
-- 3. Their statements give up instead of waiting: lock_timeout 1 s bounds how long any
--    lock request of theirs can hold the queue; statement_timeout and
--    idle_in_transaction_session_timeout end runaway queries and abandoned transactions
--    (whose locks block migrations and chunk drops).
-- These are role defaults: a session may change them (SET), which a read-only client
-- (Grafana, Power BI) does not do. Values, and why:
--   emusa_grafana: statement 30 s (a panel that needs more is broken, and Grafana's own
--     data source timeout is of that order), idle in transaction 1 min.
--   emusa_bi: statement 15 min (a Power BI import of bi.readings_1m over a year streams
--     millions of rows in one statement), idle in transaction 5 min.
-- The roles are cluster-wide (0004), so are these settings.

REVOKE ALL ON SCHEMA public FROM PUBLIC;
GRANT USAGE ON SCHEMA public TO emusa_ingestor, emusa_analytics, emusa_grafana;

ALTER ROLE emusa_grafana SET default_transaction_read_only = on;
ALTER ROLE emusa_grafana SET lock_timeout = '1s';
ALTER ROLE emusa_grafana SET statement_timeout = '30s';
ALTER ROLE emusa_grafana SET idle_in_transaction_session_timeout = '1min';

ALTER ROLE emusa_bi SET default_transaction_read_only = on;
ALTER ROLE emusa_bi SET lock_timeout = '1s';
ALTER ROLE emusa_bi SET statement_timeout = '15min';
ALTER ROLE emusa_bi SET idle_in_transaction_session_timeout = '5min';

-- emusa_tariff_period() is SECURITY DEFINER (it reads the tariff calendar for readers
-- without access to it). Only the roles that need it may run it: analytics (reports,
-- demand), Grafana (dashboards) and emusa_bi, because bi.demand_15m and
-- bi.site_demand_15m call it and a view runs functions with the rights of its reader.
-- emusa_bi cannot call it directly (no USAGE on schema public): only through those views,
-- which show the same tariff periods. The function is STRICT, read-only, with a pinned
-- search_path, and answers for one site and instant.
REVOKE ALL ON FUNCTION emusa_tariff_period(text, timestamptz) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION emusa_tariff_period(text, timestamptz)
    TO emusa_analytics, emusa_grafana, emusa_bi;
