"""The `retention` job drops the Modbus diagnostics history older than 90 days (Apache
build: drop_chunks through emusa_drop_old_diagnostics(), run as emusa_analytics) and keeps
everything newer. On Community the retention policies do it (the tests branch on
``SHOW timescaledb.license``)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import psycopg
import pytest
from psycopg.conninfo import make_conninfo

from analytics import config
from analytics.worker.registry import scheduled
from analytics.worker.retention import drop_old_diagnostics
from ingestor.migrate import set_role_passwords
from tests.harness.worker import worker_context
from tests.integration.analytics import history

pytestmark = pytest.mark.integration

AGES = (200, 120, 60, 1)  # days: two chunks to drop, two to keep (7-day chunks)


def _seed(db: str, now: datetime) -> None:
    ids = history.add_site(db, "plant")
    with psycopg.connect(db) as conn:
        for days in AGES:
            t = now - timedelta(days=days)
            conn.execute(
                "INSERT INTO modbus_meter_diagnostics (time, meter_id, gateway, bus, unit, status,"
                " period_s, requests, successes, timeouts, crc_errors, exceptions,"
                " connect_errors, invalid, retries, consecutive_failures, backoff_s)"
                " VALUES (%s, %s, 'gw1', 'lan', 1, 'online', 15, 30, 30, 0, 0, 0, 0, 0, 0, 0, 0)",
                (t, ids["m1"]),
            )
            conn.execute(
                "INSERT INTO modbus_bus_diagnostics (time, site_id, gateway, bus, period_s,"
                " requests, successes, timeouts, crc_errors, exceptions, connect_errors, invalid,"
                " retries, cycles, overruns, meters, meters_online)"
                " VALUES (%s, 'plant', 'gw1', 'lan', 15, 30, 30, 0, 0, 0, 0, 0, 0, 15, 0, 2, 2)",
                (t,),
            )


def _ages(db: str, table: str, now: datetime) -> list[int]:
    with psycopg.connect(db) as conn:
        rows = conn.execute(f"SELECT time FROM {table} ORDER BY time").fetchall()
    return sorted((round((now - r[0]).total_seconds() / 86400) for r in rows), reverse=True)


def test_diagnostics_older_than_90_days_are_dropped_as_the_analytics_role(db: str) -> None:
    now = datetime.now(UTC)
    _seed(db, now)
    set_role_passwords(db, {"EMUSA_ANALYTICS_DB_PASSWORD": "pw"})
    dsn = make_conninfo(db, user="emusa_analytics", password="pw")
    ctx = worker_context(config.load({"database_url": dsn}, env={}))

    if _license(db) == "timescale":
        # Community: the job has nothing to do (it returns 0); the retention policies of
        # 0011 drop the chunks. Background workers are off in tests: run them here.
        assert drop_old_diagnostics(ctx, now) == 0
        with psycopg.connect(db, autocommit=True) as conn:
            ids = conn.execute(
                "SELECT job_id FROM timescaledb_information.jobs WHERE proc_name ="
                " 'policy_retention' AND hypertable_name LIKE 'modbus_%%diagnostics'"
            ).fetchall()
            assert len(ids) == 2
            for (job_id,) in ids:
                conn.execute("CALL run_job(%s)", (job_id,))
    else:
        assert drop_old_diagnostics(ctx, now) == 4  # 200 and 120 days, both tables
    assert _ages(db, "modbus_meter_diagnostics", now) == [60, 1]
    assert _ages(db, "modbus_bus_diagnostics", now) == [60, 1]
    assert drop_old_diagnostics(ctx, now) == 0  # nothing left to drop
    assert "retention" in {j.name for j in scheduled(ctx)}


def test_the_analytics_role_cannot_drop_chunks_itself(db: str) -> None:
    set_role_passwords(db, {"EMUSA_ANALYTICS_DB_PASSWORD": "pw"})
    dsn = make_conninfo(db, user="emusa_analytics", password="pw")
    with psycopg.connect(dsn) as conn, pytest.raises(psycopg.errors.InsufficientPrivilege):
        conn.execute(
            "SELECT drop_chunks('modbus_meter_diagnostics', older_than => interval '1 day')"
        )


def _license(db: str) -> str:
    with psycopg.connect(db) as conn:
        row = conn.execute("SHOW timescaledb.license").fetchone()
    assert row is not None
    return str(row[0])


def test_keep_below_a_day_is_refused(db: str) -> None:
    if _license(db) == "timescale":
        # Community: emusa_drop_old_diagnostics() is a no-op (retention policies drop the
        # chunks), so there is no argument to check; it drops nothing whatever it is given.
        with psycopg.connect(db) as conn:
            row = conn.execute("SELECT emusa_drop_old_diagnostics(interval '1 hour')").fetchone()
        assert row == (0,)
        return
    with (
        psycopg.connect(db) as conn,
        pytest.raises(psycopg.errors.RaiseException, match="at least 1 day"),
    ):
        conn.execute("SELECT emusa_drop_old_diagnostics(interval '1 hour')")
