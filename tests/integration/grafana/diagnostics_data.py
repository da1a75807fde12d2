"""Modbus diagnostics history for the dashboard data set (dashboard 'Diagnóstico Modbus').

One row per meter and per minute over the data set's 30 days, as a gateway reporting every
60 s would store: the first meter answers every poll; the second loses a few frames to
timeouts, CRC errors and an exception 2 every hour, and was silent (backed off) from 3.5 h
to 2.5 h before the end (so a whole clock hour of flaky minutes follows the silence inside
the data set, whatever minute it ends at).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import psycopg

from tests.integration.grafana.dataset import METERS, SITE, Dataset

SQL = """
INSERT INTO modbus_meter_diagnostics (
    time, meter_id, gateway, bus, unit, status, period_s, requests, successes, timeouts,
    crc_errors, exceptions, exception_codes, connect_errors, invalid, retries,
    latency_last_ms, latency_p50_ms, latency_p95_ms, latency_max_ms,
    consecutive_failures, backoff_s, next_try_in_s, seconds_since_good_read)
SELECT t, %(meter_id)s, 'gw1', 'rs485a', %(unit)s,
       CASE WHEN silent THEN 'unreachable' ELSE 'online' END, 60,
       CASE WHEN silent THEN 2 ELSE 240 END,
       CASE WHEN silent THEN 0 ELSE 240 - f.bad END,
       CASE WHEN silent THEN 2 ELSE f.timeouts END,
       f.crc, f.exc, CASE WHEN f.exc > 0 THEN '{"2": 1}'::jsonb ELSE '{}'::jsonb END, 0, 0,
       CASE WHEN silent THEN 1 ELSE f.timeouts END,
       CASE WHEN silent THEN NULL ELSE 18 + %(unit)s END,
       CASE WHEN silent THEN NULL ELSE 17 + %(unit)s END,
       CASE WHEN silent THEN NULL ELSE 25 + %(unit)s * 3 END,
       CASE WHEN silent THEN NULL ELSE 40 + %(unit)s * 5 END,
       CASE WHEN silent THEN 10 ELSE 0 END,
       CASE WHEN silent THEN 60 ELSE 0 END,
       CASE WHEN silent THEN 30 END,
       CASE WHEN silent THEN extract(epoch FROM t - %(silent_from)s) ELSE 0.5 END
FROM generate_series(%(start)s::timestamptz, %(end)s::timestamptz, interval '1 minute') AS t
CROSS JOIN LATERAL (SELECT %(flaky)s AND t >= %(silent_from)s AND t < %(silent_to)s AS silent) s
CROSS JOIN LATERAL (
    SELECT CASE WHEN %(flaky)s AND extract(minute FROM t) = 7 THEN 3 ELSE 0 END AS timeouts,
           CASE WHEN %(flaky)s AND extract(minute FROM t) = 8 THEN 2 ELSE 0 END AS crc,
           CASE WHEN %(flaky)s AND extract(minute FROM t) = 9 THEN 1 ELSE 0 END AS exc
) f0
CROSS JOIN LATERAL (SELECT f0.*, f0.timeouts + f0.crc + f0.exc AS bad) f
"""

BUS_SQL = """
INSERT INTO modbus_bus_diagnostics (
    time, site_id, gateway, bus, period_s, requests, successes, timeouts, crc_errors,
    exceptions, exception_codes, connect_errors, invalid, retries, latency_last_ms,
    latency_p50_ms, latency_p95_ms, latency_max_ms, cycles, cycle_last_ms, cycle_max_ms,
    overruns, meters, meters_online)
SELECT d.time, %(site)s, d.gateway, d.bus, 60, sum(d.requests), sum(d.successes),
       sum(d.timeouts), sum(d.crc_errors), sum(d.exceptions), '{}'::jsonb, 0, 0,
       sum(d.retries), max(d.latency_last_ms), max(d.latency_p50_ms), max(d.latency_p95_ms),
       max(d.latency_max_ms), 60, 90, 120, 0, count(*), count(*) FILTER (WHERE d.status = 'online')
FROM modbus_meter_diagnostics d
GROUP BY d.time, d.gateway, d.bus
"""


def seed(
    conn: psycopg.Connection[Any],
    site: str,
    meter_ids: list[int],
    start: datetime,
    end: datetime,
    silent: tuple[datetime, datetime],
) -> None:
    for unit, meter_id in enumerate(meter_ids, start=1):
        conn.execute(
            SQL,
            {
                "meter_id": meter_id,
                "unit": unit,
                "flaky": unit == 2,
                "start": start,
                "end": end,
                "silent_from": silent[0],
                "silent_to": silent[1],
            },
        )
    conn.execute(BUS_SQL, {"site": site})


def silent_window(data: Dataset) -> tuple[datetime, datetime]:
    """When the second meter was silent: from 3.5 h to 2.5 h before the end of the data set."""
    return data.end - timedelta(hours=3, minutes=30), data.end - timedelta(hours=2, minutes=30)


def seed_diagnostics(data: Dataset) -> None:
    with psycopg.connect(data.dsn, autocommit=True) as conn:
        seed(
            conn,
            SITE,
            [data.meter_ids[m] for m in METERS],
            data.start,
            data.end,
            silent_window(data),
        )
        conn.execute("ANALYZE modbus_meter_diagnostics, modbus_bus_diagnostics")
