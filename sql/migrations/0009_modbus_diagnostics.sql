-- 0009 Modbus diagnostics history: what each gateway publishes (retained) on
-- <root>/<site>/<meter>/diagnostics and <root>/<site>/gateway/<id>/bus/<bus>/diagnostics
-- every diagnostics.interval seconds (gateway/diagnostics.py). Counts and latencies are
-- those of the period of period_s seconds ending at time: a rate is sum(count)/sum(period_s),
-- which stays right across gateway restarts and lost messages (diagnostics are latest-wins).

CREATE TABLE modbus_meter_diagnostics (
    time                    timestamptz NOT NULL,
    meter_id                integer NOT NULL REFERENCES meters (meter_id),
    gateway                 text NOT NULL,
    bus                     text NOT NULL,
    unit                    integer NOT NULL CHECK (unit BETWEEN 0 AND 255),
    status                  text NOT NULL CHECK (status IN ('online', 'unreachable', 'unknown', 'disabled')),
    period_s                double precision NOT NULL CHECK (period_s >= 0),
    requests                integer NOT NULL CHECK (requests >= 0),
    successes               integer NOT NULL CHECK (successes >= 0),
    timeouts                integer NOT NULL CHECK (timeouts >= 0),
    crc_errors              integer NOT NULL CHECK (crc_errors >= 0),
    exceptions              integer NOT NULL CHECK (exceptions >= 0),
    exception_codes         jsonb NOT NULL DEFAULT '{}',
    connect_errors          integer NOT NULL CHECK (connect_errors >= 0),
    invalid                 integer NOT NULL CHECK (invalid >= 0),
    retries                 integer NOT NULL CHECK (retries >= 0),
    latency_last_ms         double precision,
    latency_p50_ms          double precision,
    latency_p95_ms          double precision,
    latency_max_ms          double precision,
    consecutive_failures    integer NOT NULL CHECK (consecutive_failures >= 0),
    backoff_s               double precision NOT NULL CHECK (backoff_s >= 0),
    next_try_in_s           double precision,
    seconds_since_good_read double precision
);
SELECT create_hypertable('modbus_meter_diagnostics', by_range('time', INTERVAL '7 days'));
CREATE UNIQUE INDEX modbus_meter_diagnostics_key ON modbus_meter_diagnostics (meter_id, time DESC);
COMMENT ON TABLE modbus_meter_diagnostics IS 'Modbus link diagnostics of each meter, one row per reporting period (gateway diagnostics.interval); unique per (meter_id, time) so redelivery is harmless.';
COMMENT ON COLUMN modbus_meter_diagnostics.time IS 'End of the reporting period (UTC, gateway clock).';
COMMENT ON COLUMN modbus_meter_diagnostics.period_s IS 'Length of the period the counts and latencies cover (s).';
COMMENT ON COLUMN modbus_meter_diagnostics.requests IS 'Modbus frames sent in the period, retries included.';
COMMENT ON COLUMN modbus_meter_diagnostics.timeouts IS 'Frames with no byte back within the bus timeout.';
COMMENT ON COLUMN modbus_meter_diagnostics.crc_errors IS 'Frames answered with bytes that made no valid frame (CRC or framing error).';
COMMENT ON COLUMN modbus_meter_diagnostics.exceptions IS 'Modbus exception responses; exception_codes counts them per code.';
COMMENT ON COLUMN modbus_meter_diagnostics.connect_errors IS 'Attempts that could not connect or lost the connection.';
COMMENT ON COLUMN modbus_meter_diagnostics.invalid IS 'Valid frames with the wrong content (register count, undecodable).';
COMMENT ON COLUMN modbus_meter_diagnostics.retries IS 'Frames that were a second or later attempt of the same request.';
COMMENT ON COLUMN modbus_meter_diagnostics.latency_p95_ms IS '95th percentile of the answer time of successful frames in the period (ms); NULL without one.';
COMMENT ON COLUMN modbus_meter_diagnostics.backoff_s IS 'Current backoff between tries of an unreachable meter (s); 0 while it answers.';
COMMENT ON COLUMN modbus_meter_diagnostics.seconds_since_good_read IS 'Seconds since the last complete good read at the end of the period; NULL when never read since the gateway started.';

CREATE TABLE modbus_bus_diagnostics (
    time            timestamptz NOT NULL,
    site_id         text NOT NULL REFERENCES sites (site_id) ON UPDATE CASCADE,
    gateway         text NOT NULL,
    bus             text NOT NULL,
    period_s        double precision NOT NULL CHECK (period_s >= 0),
    requests        integer NOT NULL CHECK (requests >= 0),
    successes       integer NOT NULL CHECK (successes >= 0),
    timeouts        integer NOT NULL CHECK (timeouts >= 0),
    crc_errors      integer NOT NULL CHECK (crc_errors >= 0),
    exceptions      integer NOT NULL CHECK (exceptions >= 0),
    exception_codes jsonb NOT NULL DEFAULT '{}',
    connect_errors  integer NOT NULL CHECK (connect_errors >= 0),
    invalid         integer NOT NULL CHECK (invalid >= 0),
    retries         integer NOT NULL CHECK (retries >= 0),
    latency_last_ms double precision,
    latency_p50_ms  double precision,
    latency_p95_ms  double precision,
    latency_max_ms  double precision,
    cycles          integer NOT NULL CHECK (cycles >= 0),
    cycle_last_ms   double precision,
    cycle_max_ms    double precision,
    overruns        integer NOT NULL CHECK (overruns >= 0),
    meters          integer NOT NULL CHECK (meters >= 0),
    meters_online   integer NOT NULL CHECK (meters_online >= 0)
);
SELECT create_hypertable('modbus_bus_diagnostics', by_range('time', INTERVAL '7 days'));
CREATE UNIQUE INDEX modbus_bus_diagnostics_key ON modbus_bus_diagnostics (site_id, gateway, bus, time DESC);
COMMENT ON TABLE modbus_bus_diagnostics IS 'Modbus diagnostics of each bus of each gateway, one row per reporting period: the counters of its meters together, plus poll cycles, cycle time and overruns.';
COMMENT ON COLUMN modbus_bus_diagnostics.cycles IS 'Poll cycles run in the period.';
COMMENT ON COLUMN modbus_bus_diagnostics.cycle_max_ms IS 'Longest poll cycle of the period (ms).';
COMMENT ON COLUMN modbus_bus_diagnostics.overruns IS 'Cycles that took longer than the poll interval.';

CREATE VIEW bi.modbus_diagnostics AS
SELECT d.time AS time_utc,
       (d.time AT TIME ZONE s.timezone) AS time_local,
       m.site_id, m.name AS meter, d.gateway, d.bus, d.unit, d.status, d.period_s,
       d.requests, d.successes, d.timeouts, d.crc_errors, d.exceptions, d.retries,
       d.latency_p50_ms, d.latency_p95_ms, d.latency_max_ms, d.seconds_since_good_read
FROM modbus_meter_diagnostics d
JOIN meters m ON m.meter_id = d.meter_id
JOIN sites s ON s.site_id = m.site_id;
COMMENT ON VIEW bi.modbus_diagnostics IS 'Modbus link health of each meter, one row per gateway reporting period (default 15 s).';
COMMENT ON COLUMN bi.modbus_diagnostics.time_utc IS 'End of the reporting period (UTC).';
COMMENT ON COLUMN bi.modbus_diagnostics.time_local IS 'End of the reporting period in local time.';
COMMENT ON COLUMN bi.modbus_diagnostics.site_id IS 'Site (plant) identifier.';
COMMENT ON COLUMN bi.modbus_diagnostics.meter IS 'Meter name, as in the MQTT topic.';
COMMENT ON COLUMN bi.modbus_diagnostics.gateway IS 'Gateway id that polls the meter.';
COMMENT ON COLUMN bi.modbus_diagnostics.bus IS 'Bus name in the gateway configuration (RS-485 line or TCP link).';
COMMENT ON COLUMN bi.modbus_diagnostics.unit IS 'Modbus unit (slave) id of the meter.';
COMMENT ON COLUMN bi.modbus_diagnostics.status IS 'online, unreachable (backed off), unknown (never read yet) or disabled.';
COMMENT ON COLUMN bi.modbus_diagnostics.period_s IS 'Seconds the counts cover; rate = sum(count) / sum(period_s).';
COMMENT ON COLUMN bi.modbus_diagnostics.requests IS 'Modbus frames sent in the period, retries included.';
COMMENT ON COLUMN bi.modbus_diagnostics.successes IS 'Frames answered correctly.';
COMMENT ON COLUMN bi.modbus_diagnostics.timeouts IS 'Frames with no answer within the bus timeout.';
COMMENT ON COLUMN bi.modbus_diagnostics.crc_errors IS 'Frames answered with a CRC or framing error.';
COMMENT ON COLUMN bi.modbus_diagnostics.exceptions IS 'Modbus exception responses (for example illegal data address).';
COMMENT ON COLUMN bi.modbus_diagnostics.retries IS 'Frames that were a retry of a failed one.';
COMMENT ON COLUMN bi.modbus_diagnostics.latency_p50_ms IS 'Median answer time of successful frames (ms).';
COMMENT ON COLUMN bi.modbus_diagnostics.latency_p95_ms IS '95th percentile answer time of successful frames (ms).';
COMMENT ON COLUMN bi.modbus_diagnostics.latency_max_ms IS 'Slowest successful frame of the period (ms).';
COMMENT ON COLUMN bi.modbus_diagnostics.seconds_since_good_read IS 'Seconds since the last good read of the meter; empty when not read since the gateway started.';

-- Ingestor writes; Grafana and analytics read; Power BI only through the bi view (the
-- default privileges of 0004 make bi views readable by the readers).
GRANT SELECT, INSERT ON modbus_meter_diagnostics, modbus_bus_diagnostics TO emusa_ingestor;
GRANT SELECT ON modbus_meter_diagnostics, modbus_bus_diagnostics TO emusa_grafana, emusa_analytics;
GRANT SELECT ON bi.modbus_diagnostics TO emusa_bi, emusa_grafana, emusa_analytics;
