-- 0014 Community build: the analytics worker (emusa_analytics) refreshes the continuous
-- aggregates itself (backfills, late data: see 0015). refresh_continuous_aggregate()
-- requires the caller to own the aggregate and cannot run inside a transaction block or a
-- function, so a SECURITY DEFINER wrapper cannot do it. Instead the four aggregates are
-- owned by a NOLOGIN role, emusa_rollup_owner, of which emusa_analytics is a member
-- (ownership is checked through role membership). TimescaleDB passes the new owner on to
-- each aggregate's materialization hypertable, its partial and direct views and its
-- compressed hypertable. The refresh policies keep running as their job owner, the
-- migration owner, who becomes a member too, so that the policies still pass the
-- ownership check when the migration owner is not a superuser (a background job cannot
-- run as a NOLOGIN role on PostgreSQL 15).
-- The aggregates' views read `readings` with their owner's rights: the owner role reads it.
-- A later migration that recreates an aggregate must give it to emusa_rollup_owner again.
DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'emusa_rollup_owner') THEN
        CREATE ROLE emusa_rollup_owner NOLOGIN;
    END IF;
END
$$;
GRANT emusa_rollup_owner TO CURRENT_USER;
GRANT emusa_rollup_owner TO emusa_analytics;
GRANT USAGE ON SCHEMA public, rollup TO emusa_rollup_owner;
GRANT SELECT ON readings TO emusa_rollup_owner;

ALTER MATERIALIZED VIEW rollup.agg_1m OWNER TO emusa_rollup_owner;
ALTER MATERIALIZED VIEW rollup.agg_15m OWNER TO emusa_rollup_owner;
ALTER MATERIALIZED VIEW rollup.agg_1h OWNER TO emusa_rollup_owner;
ALTER MATERIALIZED VIEW rollup.agg_1d OWNER TO emusa_rollup_owner;
