"""The worker keeps its database session between job runs (a new session pays
TimescaleDB's chunk-catalog load on its first statement, issue 17), and keeping it costs
nothing in safety: a lock a failed job left is released, and a PostgreSQL restart is
survived without restarting the worker."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import psycopg
import pytest
from psycopg.conninfo import make_conninfo

from analytics import config
from analytics.errors import DatabaseError
from analytics.worker.context import Context
from analytics.worker.registry import scheduled
from analytics.worker.scheduler import Scheduler
from ingestor.migrate import set_role_passwords
from tests.conftest import PgServer
from tests.harness.worker import worker_context
from tests.integration.ingestor.conftest import wait_until

pytestmark = pytest.mark.integration

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
LOCK = "emusa.rollup.pending"  # the Community refresh's session-level lock


def _analytics_dsn(db: str) -> str:
    set_role_passwords(db, {"EMUSA_ANALYTICS_DB_PASSWORD": "pw-a"})
    return make_conninfo(db, user="emusa_analytics", password="pw-a")


def _ctx(dsn: str) -> Context:
    return worker_context(config.load({"database_url": dsn, "model_enabled": False}, env={}))


def _worker_sessions(admin: str) -> list[tuple[int, str]]:
    """(pid, application_name) of the analytics role's sessions in this database."""
    with psycopg.connect(admin) as conn:
        rows = conn.execute(
            "SELECT pid, application_name FROM pg_stat_activity"
            " WHERE usename = 'emusa_analytics' AND datname = current_database() ORDER BY pid"
        ).fetchall()
    return [(int(r[0]), str(r[1])) for r in rows]


def _jobs(ctx: Context, *names: str) -> Scheduler:
    return Scheduler([j for j in scheduled(ctx) if j.name in names])


def test_the_jobs_run_on_one_session_kept_between_runs(db: str) -> None:
    ctx = _ctx(_analytics_dsn(db))
    scheduler = _jobs(ctx, "refresh_rollups", "detect", "retention")
    try:
        first = scheduler.run_pending(NOW)
        assert set(first) == {"refresh_rollups", "detect", "retention"}
        assert not [r for r in first.values() if isinstance(r, Exception)], first
        kept = _worker_sessions(db)
        assert len(kept) == 1, kept  # a session per job run would leave none open
        assert kept[0][1] == "emusa-analytics"
        later = scheduler.run_pending(NOW + timedelta(minutes=5))
        assert not [r for r in later.values() if isinstance(r, Exception)], later
        assert _worker_sessions(db) == kept  # the same backend served the next runs
    finally:
        ctx.close()
    assert _worker_sessions(db) == []  # closing the worker closes its sessions


pids: list[int] = []


def _fail_holding_the_lock(ctx: Context) -> None:
    with ctx.connection() as conn:
        pids[:] = [conn.info.backend_pid]
        conn.execute("SELECT pg_advisory_lock(hashtext(%s))", (LOCK,))
        raise RuntimeError("job failed while holding the lock")


def test_a_lock_left_by_a_failed_job_is_released_with_the_session_kept(db: str) -> None:
    ctx = _ctx(_analytics_dsn(db))
    try:
        with pytest.raises(RuntimeError, match="job failed"):
            _fail_holding_the_lock(ctx)
        with psycopg.connect(db, autocommit=True) as other:
            row = other.execute("SELECT pg_try_advisory_lock(hashtext(%s))", (LOCK,)).fetchone()
            assert row is not None and row[0] is True  # another worker may refresh now
        with ctx.connection() as conn:
            assert conn.info.backend_pid == pids[0]
    finally:
        ctx.close()


def test_the_worker_recovers_by_itself_after_a_postgres_restart(
    db: str, pg_server: PgServer
) -> None:
    if pg_server.local is None:
        pytest.skip("PostgreSQL is not a local cluster of this session (TEST_DSN/container)")
    ctx = _ctx(_analytics_dsn(db))
    scheduler = _jobs(ctx, "refresh_rollups", "detect")
    clock = iter(NOW + timedelta(minutes=15 * n) for n in range(10_000))  # both due
    try:
        before = scheduler.run_pending(next(clock))
        assert not [r for r in before.values() if isinstance(r, Exception)], before
        pid = _worker_sessions(db)[0][0]
        pg_server.local.stop()
        try:
            down = scheduler.run_pending(next(clock))  # fails, neither hangs nor raises
            assert set(down) == {"refresh_rollups", "detect"}
            for result in down.values():
                assert isinstance(result, DatabaseError), down
            assert scheduler.failing == {"refresh_rollups": 1, "detect": 1}
        finally:
            pg_server.local.start()
        results: dict[str, object] = {}

        def recovered() -> bool:
            results.update(scheduler.run_pending(next(clock)))
            return not [r for r in results.values() if isinstance(r, Exception)]

        wait_until(recovered, 90, "the worker's jobs to succeed again")
        assert scheduler.failing == {}
        now_pids = [p for p, _ in _worker_sessions(db)]
        assert now_pids and pid not in now_pids  # a new session replaced the broken one
    finally:
        ctx.close()
