"""Live detection of short events, as the running worker sees them: 1-s readings up to
"now", rollups refreshed to now, no settle delay (the e2e run's settings). A phase loss of
100 s must be found as soon as its minutes are complete, reported once (ongoing at first,
then closed by the event store), and explain the voltage and current symptoms it causes;
also when the meter stops reporting right after it (the gateway stopped: its minutes stay
the meter's newest) and when part of its readings reach the database late (an outage)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest

from analytics import config
from analytics.detection.job import detect
from analytics.worker.context import Context
from analytics.worker.rollups import refresh_rollups
from gateway.simulator.model import Event
from tests.harness.worker import worker_context
from tests.integration.analytics import history, stored
from tests.unit.analytics.simframes import ts

pytestmark = pytest.mark.integration

START = ts("2026-11-24 09:00")  # Tuesday
LOSS_AT = ts("2026-11-24 09:20:10")
LOSS_FOR = 100.0
LOSS_END = LOSS_AT + timedelta(seconds=LOSS_FOR)
LOSS = (Event("phase_loss", LOSS_AT.timestamp(), LOSS_FOR),)


def _ctx(db: str, **flags: Any) -> Context:
    return worker_context(
        config.load({"database_url": db, "model_enabled": False, "settle": "PT0S", **flags}, env={})
    )


def _worker(ctx: Context, now: datetime) -> None:
    """One tick of the worker's rollup refresh, then its detection."""
    refresh_rollups(ctx, now)
    detect(ctx, now)


def _events(db: str, meter: str) -> list[dict[str, Any]]:
    return [r for r in stored.anomalies(db) if r["meter"] == meter]


def _alerts(db: str) -> list[tuple[str, str]]:
    return [
        (m["payload"]["kind"], m["payload"]["event"])
        for m in stored.outbox(db)
        if m["channel"] == "alerts"
    ]


@pytest.mark.parametrize("minutes_after", [2, 4])
def test_a_100_s_phase_loss_is_found_live(db: str, minutes_after: int) -> None:
    now = LOSS_AT + timedelta(minutes=minutes_after)
    ids = history.add_site(db, "live", ("pac1",))
    history.write(db, ids["pac1"], 2, START, now, step=1.0, events=LOSS)
    history.refresh(db, START, now)
    detect(_ctx(db), now)
    found = [(r["kind"], r["severity"]) for r in stored.anomalies(db)]
    assert ("phase_loss", "critical") in found, found


def test_a_phase_loss_at_the_live_edge_is_opened_at_once_then_closed(db: str) -> None:
    ids = history.add_site(db, "live", ("pac1",))
    ctx = _ctx(db)
    # 09:22:10: minutes up to 09:21 complete, the loss ended 20 s before the range ends
    now = LOSS_AT + timedelta(minutes=2)
    history.write(db, ids["pac1"], 2, START, now, step=1.0, events=LOSS)
    _worker(ctx, now)
    (event,) = _events(db, "pac1")
    assert (event["kind"], event["severity"], event["ended_at"]) == ("phase_loss", "critical", None)
    assert event["started_at"] == LOSS_AT
    assert event["measured"] < 5 and event["details"]["phases"] == ["L3"], event
    later = now + timedelta(minutes=3)
    history.write(db, ids["pac1"], 2, now, later, step=1.0, events=LOSS)
    _worker(ctx, later)
    (closed,) = _events(db, "pac1")
    assert closed["anomaly_id"] == event["anomaly_id"]
    assert closed["ended_at"] == LOSS_END, closed
    assert _alerts(db) == [("phase_loss", "opened"), ("phase_loss", "closed")]


def test_late_readings_of_a_phase_loss_on_a_meter_that_then_stops_reach_detection(
    db: str,
) -> None:
    """The e2e run: the database is down for 8 s as the loss begins (those readings are
    written when it is back), the worker runs every minute, and the gateway stops 6 s after
    the loss ended, so the loss's minutes stay the meter's newest for good."""
    ids = history.add_site(db, "live", ("pac1",))
    ctx = _ctx(db)
    outage = (LOSS_AT + timedelta(seconds=5), LOSS_AT + timedelta(seconds=13))
    stop = LOSS_END + timedelta(seconds=6)
    tick = ts("2026-11-24 09:20:40")  # the worker's ticks: 40 s past each minute
    history.write(db, ids["pac1"], 2, START, outage[0], step=1.0, events=LOSS)
    history.write(db, ids["pac1"], 2, outage[1], tick, step=1.0, events=LOSS)
    _worker(ctx, tick)
    history.write(db, ids["pac1"], 2, outage[0], outage[1], step=1.0, events=LOSS)  # late
    written = tick
    for minute in range(1, 6):
        now = tick + timedelta(minutes=minute)
        if written < stop:
            history.write(db, ids["pac1"], 2, written, min(now, stop), step=1.0, events=LOSS)
            written = min(now, stop)
        _worker(ctx, now)
    events = _events(db, "pac1")
    assert [(e["kind"], e["severity"]) for e in events] == [("phase_loss", "critical")], events
    assert events[0]["started_at"] == LOSS_AT and events[0]["ended_at"] == LOSS_END
    assert _alerts(db) == [("phase_loss", "opened"), ("phase_loss", "closed")]


def test_the_worker_refreshes_the_rollups_before_judging_a_minute_they_end_in(db: str) -> None:
    """The worker's rollup refresh ran 5 s into the minute the loss began; its detection
    tick after that minute reads the whole minute, not the 5 s the rollup held."""
    ids = history.add_site(db, "live", ("pac1",))
    ctx = _ctx(db)
    refreshed = ts("2026-11-24 09:20:05")
    history.write(db, ids["pac1"], 2, START, refreshed, step=1.0, events=LOSS)
    refresh_rollups(ctx, refreshed)
    now = ts("2026-11-24 09:21:02")
    history.write(db, ids["pac1"], 2, refreshed, now, step=1.0, events=LOSS)
    detect(ctx, now)
    (event,) = _events(db, "pac1")
    assert (event["kind"], event["started_at"], event["ended_at"]) == ("phase_loss", LOSS_AT, None)
    assert _alerts(db) == [("phase_loss", "opened")]
