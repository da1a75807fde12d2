"""When jobs run: pure period arithmetic, and a small loop with an injectable clock.

Jobs keep their own progress in the database (period claims, watermarks), so the loop
only decides *when* to look; a restarted worker simply looks again and catches up.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import psycopg

from analytics.errors import AnalyticsError

log = logging.getLogger(__name__)

# Failures that explain themselves (database or broker away, bad configuration): one line
# each, no traceback. Anything else is a bug and is logged with its traceback.
EXPECTED_FAILURES: tuple[type[BaseException], ...] = (AnalyticsError, psycopg.OperationalError)

SIX_HOURS = timedelta(hours=6)


def utcnow() -> datetime:
    return datetime.now(UTC)


def clock_from(
    start: datetime, monotonic: Callable[[], float] = time.monotonic
) -> Callable[[], datetime]:
    """A clock that reads ``start`` now and then runs at real speed (``run --clock-start``:
    tests choose the instant the worker lives in, so none depends on the hour)."""
    origin, t0 = start.astimezone(UTC), monotonic()
    return lambda: origin + timedelta(seconds=monotonic() - t0)


def window_start(t: datetime, tz: str, hours: int = 6) -> datetime:
    """Start of the local ``hours``-long window (aligned at local midnight) holding ``t``."""
    local = t.astimezone(ZoneInfo(tz))
    start = local.replace(hour=local.hour - local.hour % hours, minute=0, second=0, microsecond=0)
    return start.astimezone(UTC)


def _next_boundary(t: datetime, tz: str, hours: int) -> datetime:
    """The first window boundary at or after ``t``."""
    start = window_start(t, tz, hours)
    if start == t:
        return t
    local = start.astimezone(ZoneInfo(tz))
    # wall-clock arithmetic, so a DST change shortens or stretches one window only
    nxt = (local.replace(tzinfo=None) + timedelta(hours=hours)).replace(tzinfo=local.tzinfo)
    return nxt.astimezone(UTC)


def complete_windows(
    first_data: datetime, now: datetime, tz: str, *, hours: int = 6, settle: timedelta
) -> Iterator[tuple[datetime, datetime]]:
    """Every complete window [start, end) starting at or after ``first_data``.

    A window is complete when its end plus ``settle`` has passed. Nothing is yielded
    for the window in which the data started (it is incomplete): no summary before the
    first complete window.
    """
    start = _next_boundary(first_data, tz, hours)
    while True:
        end = _next_boundary(start + timedelta(seconds=1), tz, hours)
        if end + settle > now:
            return
        yield start, end
        start = end


@dataclass
class Job:
    """A registered job: ``run(now)`` is called every ``every``; it must be idempotent."""

    name: str
    every: timedelta
    run: Callable[[datetime], object]


class Scheduler:
    """Runs due jobs in registration order; one failing job never stops the others."""

    def __init__(
        self,
        jobs: Sequence[Job],
        clock: Callable[[], datetime] = utcnow,
        tick: float = 1.0,
    ) -> None:
        self.jobs = list(jobs)
        self.clock = clock
        self.tick = tick
        self._due: dict[str, datetime] = {}
        self.failing: dict[str, int] = {}  # job -> consecutive failures
        self.stop_event = threading.Event()

    def run_pending(self, now: datetime | None = None) -> dict[str, object]:
        """Run the jobs due at ``now``; returns each run job's result (or its exception)."""
        now = now or self.clock()
        results: dict[str, object] = {}
        for job in self.jobs:
            if now < self._due.get(job.name, now):
                continue
            self._due[job.name] = now + job.every
            try:
                results[job.name] = job.run(now)
            except Exception as exc:  # a job failing must not stop the worker
                self._failed(job.name, exc)
                results[job.name] = exc
            else:
                failures = self.failing.pop(job.name, 0)
                if failures:
                    log.info(
                        "job %s recovered after %d failed runs", job.name, failures,
                        extra={"job": job.name, "action": "recovered"},
                    )  # fmt: skip
        return results

    def _failed(self, name: str, exc: Exception) -> None:
        n = self.failing[name] = self.failing.get(name, 0) + 1
        extra = {"job": name, "action": "run", "failures": n}
        if not isinstance(exc, EXPECTED_FAILURES):
            log.error("job %s failed: %s", name, exc, extra=extra, exc_info=exc)
        elif n == 1 or n % 100 == 0:  # a long outage: the first failure, then every 100th
            log.error("job %s failed (%d in a row): %s", name, n, exc, extra=extra)
        else:
            log.debug("job %s failed (%d in a row): %s", name, n, exc, extra=extra)

    def run_forever(self) -> None:
        log.info("scheduler started with %s", [j.name for j in self.jobs])
        while not self.stop_event.is_set():
            self.run_pending()
            self.stop_event.wait(self.tick)
        log.info("scheduler stopped")

    def stop(self) -> None:
        self.stop_event.set()
