-- 0011 Community build: the Modbus diagnostics history (0009) is kept 90 days, dropped by
-- TimescaleDB's own retention policies (a background job per hypertable).
-- emusa_drop_old_diagnostics() exists on both builds so that the analytics worker's daily
-- `retention` job can call it without asking which build it runs on; here it has nothing
-- to do.
SELECT add_retention_policy('modbus_meter_diagnostics', drop_after => INTERVAL '90 days');
SELECT add_retention_policy('modbus_bus_diagnostics', drop_after => INTERVAL '90 days');

CREATE FUNCTION emusa_drop_old_diagnostics(keep interval DEFAULT INTERVAL '90 days')
RETURNS integer
LANGUAGE sql STABLE
AS $$ SELECT 0 $$;
COMMENT ON FUNCTION emusa_drop_old_diagnostics(interval) IS
    'Community build: a no-op returning 0 (retention policies drop the diagnostics chunks).';
REVOKE ALL ON FUNCTION emusa_drop_old_diagnostics(interval) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION emusa_drop_old_diagnostics(interval) TO emusa_analytics;
