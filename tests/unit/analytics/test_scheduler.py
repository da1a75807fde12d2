"""Window arithmetic (00/06/12/18 local) and the loop with an injectable clock."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

import psycopg
import pytest

from analytics.errors import PublishError
from analytics.worker.scheduler import Job, Scheduler, clock_from, complete_windows, window_start
from tests.harness.clock import FakeClock
from tests.unit.analytics.simframes import ts

pytestmark = pytest.mark.unit
TZ = "America/Sao_Paulo"
SETTLE = timedelta(minutes=5)


def test_window_start_is_local_aligned() -> None:
    assert window_start(ts("2026-11-23 11:59"), TZ) == ts("2026-11-23 06:00")
    assert window_start(ts("2026-11-23 00:00"), TZ) == ts("2026-11-23 00:00")
    assert window_start(ts("2026-11-23 23:10"), TZ) == ts("2026-11-23 18:00")
    assert ts("2026-11-23 06:00") == datetime(2026, 11, 23, 9, tzinfo=UTC)


def test_no_window_before_the_first_complete_one() -> None:
    first = ts("2026-11-23 03:17")
    assert list(complete_windows(first, ts("2026-11-23 12:04"), TZ, settle=SETTLE)) == []
    got = list(complete_windows(first, ts("2026-11-23 12:05"), TZ, settle=SETTLE))
    assert got == [(ts("2026-11-23 06:00"), ts("2026-11-23 12:00"))]


def test_catch_up_after_13_hours_yields_the_missing_windows() -> None:
    first = ts("2026-11-23 03:17")
    before = set(complete_windows(first, ts("2026-11-23 12:20"), TZ, settle=SETTLE))
    after = set(complete_windows(first, ts("2026-11-24 01:20"), TZ, settle=SETTLE))
    assert sorted(after - before) == [
        (ts("2026-11-23 12:00"), ts("2026-11-23 18:00")),
        (ts("2026-11-23 18:00"), ts("2026-11-24 00:00")),
    ]


def test_first_data_on_a_boundary_counts_that_window() -> None:
    got = list(complete_windows(ts("2026-11-23 06:00"), ts("2026-11-23 12:30"), TZ, settle=SETTLE))
    assert got == [(ts("2026-11-23 06:00"), ts("2026-11-23 12:00"))]


def test_scheduler_runs_due_jobs_and_survives_failures() -> None:
    calls: list[tuple[str, datetime]] = []

    def ok(now: datetime) -> int:
        calls.append(("ok", now))
        return 1

    def boom(now: datetime) -> None:
        calls.append(("boom", now))
        raise RuntimeError("job failure")

    t0 = ts("2026-11-23 12:00")
    s = Scheduler([Job("boom", timedelta(minutes=5), boom), Job("ok", timedelta(minutes=1), ok)])
    first = s.run_pending(t0)
    assert isinstance(first["boom"], RuntimeError) and first["ok"] == 1
    assert s.run_pending(t0 + timedelta(seconds=30)) == {}
    assert set(s.run_pending(t0 + timedelta(minutes=1))) == {"ok"}
    assert set(s.run_pending(t0 + timedelta(minutes=5))) == {"boom", "ok"}
    assert [c[0] for c in calls] == ["boom", "ok", "ok", "boom", "ok"]


def test_an_outage_is_logged_once_without_traceback_and_its_end_is_logged(
    caplog: pytest.LogCaptureFixture,
) -> None:
    outage = iter([psycopg.OperationalError("connection refused")] * 3 + [None])

    def db_job(now: datetime) -> None:
        exc = next(outage)
        if exc is not None:
            raise exc

    t0 = ts("2026-11-23 12:00")
    s = Scheduler([Job("detect", timedelta(minutes=1), db_job)])
    with caplog.at_level(logging.INFO, logger="analytics.worker.scheduler"):
        for i in range(4):
            s.run_pending(t0 + timedelta(minutes=i))
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(errors) == 1 and errors[0].exc_info is None
    assert "connection refused" in errors[0].getMessage()
    assert caplog.records[-1].getMessage() == "job detect recovered after 3 failed runs"
    assert s.failing == {}


@pytest.mark.parametrize(
    ("exc", "traceback"),
    [(PublishError("broker away"), False), (KeyError("bug"), True)],
)
def test_unexpected_failures_keep_their_traceback(
    caplog: pytest.LogCaptureFixture, exc: Exception, traceback: bool
) -> None:
    def job(now: datetime) -> None:
        raise exc

    with caplog.at_level(logging.ERROR, logger="analytics.worker.scheduler"):
        Scheduler([Job("j", timedelta(minutes=1), job)]).run_pending(ts("2026-11-23 12:00"))
    (record,) = caplog.records
    assert (record.exc_info is not None) is traceback


def test_run_forever_stops_on_request() -> None:
    clock_values = iter([ts("2026-11-23 12:00") + timedelta(minutes=i) for i in range(1000)])
    seen: list[datetime] = []
    s = Scheduler([], clock=lambda: next(clock_values), tick=0.001)

    def record(now: datetime) -> None:
        seen.append(now)
        if len(seen) == 3:
            s.stop()

    s.jobs.append(Job("rec", timedelta(minutes=1), record))
    s.run_forever()
    assert len(seen) == 3


def test_a_clock_started_at_an_instant_runs_from_it_at_real_speed() -> None:
    """``run --clock-start``: the worker lives at the instant a test chose."""
    mono = FakeClock(500.0)
    clock = clock_from(datetime.fromisoformat("2026-03-31T13:59:30-03:00"), mono)
    assert clock() == datetime(2026, 3, 31, 16, 59, 30, tzinfo=UTC)
    mono.t += 45.5
    assert clock() == datetime(2026, 3, 31, 17, 0, 15, 500_000, tzinfo=UTC)
    seen: list[datetime] = []
    Scheduler([Job("rec", timedelta(minutes=1), seen.append)], clock=clock).run_pending()
    assert seen == [datetime(2026, 3, 31, 17, 0, 15, 500_000, tzinfo=UTC)]
