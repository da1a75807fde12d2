-- 0006 analytics worker state: period claims of scheduled jobs (a summary or report
-- exists at most once per site and period, even with two workers), per-job watermarks
-- (a restart resumes where the last run stopped) and the MQTT outbox (an alert or
-- summary is published once, and retried while the broker is down).

CREATE TABLE analytics_job_runs (
    job          text NOT NULL,
    site_id      text NOT NULL REFERENCES sites (site_id) ON UPDATE CASCADE,
    period_start timestamptz NOT NULL,
    period_end   timestamptz NOT NULL CHECK (period_end > period_start),
    worker       text NOT NULL,
    finished_at  timestamptz NOT NULL DEFAULT now(),
    details      jsonb NOT NULL DEFAULT '{}'::jsonb,
    PRIMARY KEY (job, site_id, period_start)
);
COMMENT ON TABLE analytics_job_runs IS 'One row per scheduled job, site and period done (claimed in the transaction that writes the output): a period is done at most once.';

CREATE TABLE analytics_watermarks (
    job        text NOT NULL,
    site_id    text NOT NULL REFERENCES sites (site_id) ON UPDATE CASCADE,
    watermark  timestamptz NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (job, site_id)
);
COMMENT ON TABLE analytics_watermarks IS 'End of the data a continuous job (detection, rollup refresh) has processed, per site.';

CREATE TABLE analytics_outbox (
    message_id   bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    site_id      text NOT NULL REFERENCES sites (site_id) ON UPDATE CASCADE,
    channel      text NOT NULL CHECK (channel IN ('alerts', 'summaries', 'reports')),
    event        text NOT NULL CHECK (event IN ('opened', 'closed', 'summary', 'report')),
    anomaly_id   bigint REFERENCES anomalies (anomaly_id) ON DELETE CASCADE,
    summary_id   bigint REFERENCES summaries (summary_id) ON DELETE CASCADE,
    payload      jsonb NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    published_at timestamptz,
    attempts     integer NOT NULL DEFAULT 0,
    last_error   text
);
CREATE UNIQUE INDEX analytics_outbox_anomaly_key ON analytics_outbox (anomaly_id, event)
    WHERE anomaly_id IS NOT NULL;
CREATE UNIQUE INDEX analytics_outbox_summary_key ON analytics_outbox (summary_id)
    WHERE summary_id IS NOT NULL;
CREATE INDEX analytics_outbox_pending_idx ON analytics_outbox (message_id)
    WHERE published_at IS NULL;
COMMENT ON TABLE analytics_outbox IS 'MQTT messages of analytics (alerts, summaries), written with the event they announce; published_at is set after the broker acknowledged (QoS 1).';

GRANT SELECT, INSERT, UPDATE ON analytics_job_runs, analytics_watermarks, analytics_outbox
    TO emusa_analytics;
GRANT SELECT ON analytics_job_runs, analytics_watermarks, analytics_outbox TO emusa_grafana;
