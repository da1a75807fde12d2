-- 0004 roles with least privilege. Roles are cluster-wide: created NOLOGIN when missing;
-- `emusa-ingestor migrate` gives a role LOGIN and its password only when the matching
-- environment variable is set (EMUSA_<ROLE>_DB_PASSWORD). No password lives here.
DO $$
DECLARE
    r text;
BEGIN
    FOREACH r IN ARRAY ARRAY['emusa_ingestor', 'emusa_analytics', 'emusa_grafana', 'emusa_bi'] LOOP
        IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = r) THEN
            EXECUTE format('CREATE ROLE %I NOLOGIN', r);
        END IF;
        EXECUTE format('GRANT CONNECT ON DATABASE %I TO %I', current_database(), r);
    END LOOP;
END
$$;

-- Nobody but the owner creates objects in the application schemas.
REVOKE CREATE ON SCHEMA public FROM PUBLIC;

-- Ingestor: writes raw readings, registers sites and meters, records rejects.
GRANT USAGE ON SCHEMA public, rollup TO emusa_ingestor;
GRANT SELECT, INSERT ON readings, sites, meters, ingest_rejects TO emusa_ingestor;
DO $$
BEGIN
    IF to_regclass('rollup.invalidations') IS NOT NULL THEN
        GRANT INSERT ON rollup.invalidations TO emusa_ingestor;
    END IF;
END
$$;

-- Analytics: reads everything, writes events and outputs, refreshes the rollups.
GRANT USAGE ON SCHEMA public, rollup, bi TO emusa_analytics;
GRANT SELECT ON ALL TABLES IN SCHEMA public, rollup, bi TO emusa_analytics;
GRANT INSERT, UPDATE ON anomalies, summaries, reports TO emusa_analytics;
DO $$
BEGIN
    IF to_regprocedure('rollup.refresh_pending()') IS NOT NULL THEN
        GRANT EXECUTE ON FUNCTION rollup.refresh(timestamptz, timestamptz),
                                  rollup.refresh_pending() TO emusa_analytics;
    END IF;
END
$$;

-- Grafana: read-only, the raw tail (live KPIs, waveforms), rollups, events, calendar.
GRANT USAGE ON SCHEMA public, rollup, bi TO emusa_grafana;
GRANT SELECT ON readings, meters, sites, tariff_windows, holidays, anomalies, summaries, reports,
    readings_1m, readings_15m, readings_1h, readings_1d, demand_15m,
    site_readings_1m, site_demand_15m, site_readings_1h, site_readings_1d
    TO emusa_grafana;
GRANT SELECT ON ALL TABLES IN SCHEMA rollup, bi TO emusa_grafana;

-- Power BI: the documented bi views only; nothing else readable, nothing writable.
GRANT USAGE ON SCHEMA bi TO emusa_bi;
GRANT SELECT ON ALL TABLES IN SCHEMA bi TO emusa_bi;

-- Views added to bi by later migrations are readable by the readers without new grants.
ALTER DEFAULT PRIVILEGES IN SCHEMA bi GRANT SELECT ON TABLES TO emusa_bi, emusa_grafana, emusa_analytics;
