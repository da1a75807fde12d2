-- 0008 Community build: nothing to change. The Apache-only build's rollup.refresh() now
-- aggregates the coarser rollups from the minute rollup (0008_*.apache.sql); here the
-- continuous aggregates and their refresh policies (0002) keep the rollups current.
SELECT 1;
