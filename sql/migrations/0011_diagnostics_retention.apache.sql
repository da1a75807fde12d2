-- 0011 Apache-only build: retention policies are a Community feature, but drop_chunks is
-- not. The Modbus diagnostics history (0009) is kept 90 days, like on the Community
-- build: the analytics worker's daily `retention` job calls this function, which drops
-- the chunks older than `keep` and returns how many it dropped. It runs with the rights
-- of the migration owner (who owns the hypertables); the analytics role may only call it.
CREATE FUNCTION emusa_drop_old_diagnostics(keep interval DEFAULT INTERVAL '90 days')
RETURNS integer
LANGUAGE plpgsql VOLATILE
SECURITY DEFINER
SET search_path = public, pg_temp
AS $$
DECLARE
    dropped integer := 0;
    n integer;
BEGIN
    IF keep < INTERVAL '1 day' THEN
        RAISE EXCEPTION 'emusa_drop_old_diagnostics: keep must be at least 1 day, got %', keep;
    END IF;
    SELECT count(*) INTO n FROM drop_chunks('modbus_meter_diagnostics', older_than => keep);
    dropped := dropped + n;
    SELECT count(*) INTO n FROM drop_chunks('modbus_bus_diagnostics', older_than => keep);
    RETURN dropped + n;
END
$$;
COMMENT ON FUNCTION emusa_drop_old_diagnostics(interval) IS
    'Apache build: drop the Modbus diagnostics chunks older than keep (default 90 days); returns the number dropped.';
REVOKE ALL ON FUNCTION emusa_drop_old_diagnostics(interval) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION emusa_drop_old_diagnostics(interval) TO emusa_analytics;
