-- 0007 delivery state of reports and alerts: e-mail attempts of a report (a report is
-- e-mailed once per period: reports.emailed_at), and per-anomaly alert decisions with a
-- cooldown per (site, meter, kind), kept in the database so a restart never re-sends.

ALTER TABLE reports
    ADD COLUMN email_attempts integer NOT NULL DEFAULT 0 CHECK (email_attempts >= 0),
    ADD COLUMN last_email_error text;
COMMENT ON COLUMN reports.email_attempts IS 'SMTP attempts made for this report (all deliveries together).';
COMMENT ON COLUMN reports.last_email_error IS 'Last SMTP error; NULL once sent.';

CREATE TABLE alert_deliveries (
    anomaly_id bigint PRIMARY KEY REFERENCES anomalies (anomaly_id) ON DELETE CASCADE,
    site_id    text NOT NULL REFERENCES sites (site_id) ON UPDATE CASCADE,
    meter_id   integer REFERENCES meters (meter_id),
    kind       text NOT NULL,
    outcome    text NOT NULL CHECK (outcome IN ('sent', 'suppressed', 'failed')),
    channels   text[] NOT NULL DEFAULT '{}',
    attempts   integer NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    last_error text,
    decided_at timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE alert_deliveries IS 'One row per anomaly considered for an alert: sent (channels that took it), suppressed (cooldown of its meter and kind) or failed (retried until alerts.max_attempts).';

CREATE TABLE alert_cooldowns (
    site_id      text NOT NULL REFERENCES sites (site_id) ON UPDATE CASCADE,
    meter_id     integer REFERENCES meters (meter_id),
    kind         text NOT NULL,
    last_sent_at timestamptz NOT NULL,
    anomaly_id   bigint,
    suppressed   integer NOT NULL DEFAULT 0 CHECK (suppressed >= 0),
    CONSTRAINT alert_cooldowns_key UNIQUE NULLS NOT DISTINCT (site_id, meter_id, kind)
);
COMMENT ON TABLE alert_cooldowns IS 'Last alert sent per site, meter and kind; alerts of the same meter and kind inside the cooldown are suppressed and counted.';

GRANT SELECT, INSERT, UPDATE ON alert_deliveries, alert_cooldowns TO emusa_analytics;
GRANT SELECT ON alert_deliveries, alert_cooldowns TO emusa_grafana;
