-- 0014 Apache-only build: nothing to change. The rollups are tables refreshed by
-- rollup.refresh() / rollup.refresh_pending(), SECURITY DEFINER functions that
-- emusa_analytics may execute (0004); only the Community build's continuous aggregates
-- need an owner role that the analytics worker belongs to (0014_*.timescale.sql).
SELECT 1;
