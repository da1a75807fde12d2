"""Detection on real TimescaleDB with simulator history: every rule fires on its
scenario, stays quiet on clean data, and events are extended and closed, not repeated."""

from __future__ import annotations

import math
import threading
from datetime import timedelta
from typing import Any

import psycopg
import pytest

from analytics import config
from analytics.detection.job import detect
from analytics.worker.context import Context
from gateway.simulator.model import Event
from tests.harness.worker import worker_context
from tests.integration.analytics import history, stored
from tests.unit.analytics.simframes import Mutate, ts

pytestmark = pytest.mark.integration

START = ts("2026-11-23 06:00")  # Monday
AT = ts("2026-11-23 08:00")
NOW = ts("2026-11-23 11:10")
END = NOW  # data up to now: a meter whose data stopped would (rightly) be silent


def _ctx(db: str, **flags: Any) -> Context:
    return worker_context(
        config.load({"database_url": db, "model_enabled": False, **flags}, env={})
    )


def _between(minutes: float, apply: Mutate) -> Mutate:
    def mutate(t: float, v: dict[str, float]) -> None:
        if AT.timestamp() <= t < AT.timestamp() + minutes * 60:
            apply(t, v)

    return mutate


def _low_v1(_t: float, v: dict[str, float]) -> None:
    v["v_l1n"] *= 0.88
    a, b, c = v["v_l1n"], v["v_l2n"], v["v_l3n"]
    v["v_l12"] = math.sqrt(a * a + b * b + a * b)
    v["v_l31"] = math.sqrt(c * c + a * a + c * a)


def _freq(_t: float, v: dict[str, float]) -> None:
    v["freq"] = 59.7


def _heavy_l1(_t: float, v: dict[str, float]) -> None:
    v["i_l1"] *= 1.3


def _event(kind: str, minutes: float) -> tuple[Event, ...]:
    return (Event(kind, AT.timestamp(), minutes * 60),)


# scenario -> (events, mutate, expected (kind, severity) that must be present, meter-level?)
SCENARIOS: dict[str, tuple[tuple[Event, ...], Mutate | None, tuple[str, str]]] = {
    "sag": (_event("sag", 40), None, ("voltage_band", "critical")),
    "swell": (_event("swell", 40), None, ("voltage_band", "critical")),
    "freq": ((), _between(20, _freq), ("frequency", "warning")),
    "vunb": ((), _between(40, _low_v1), ("voltage_unbalance", "warning")),
    "iunb": ((), _between(40, _heavy_l1), ("current_unbalance", "warning")),
    "phase": (_event("phase_loss", 20), None, ("phase_loss", "critical")),
    "pf": (_event("pf_drop", 60), None, ("power_factor", "warning")),
    "demand": (_event("demand_peak", 45), None, ("demand_exceeded", "critical")),
    "silent": (_event("silent", 12), None, ("meter_silent", "warning")),
}


def test_each_rule_fires_on_its_scenario_and_clean_site_is_quiet(db: str) -> None:
    for n, (name, (events, mutate, _)) in enumerate(SCENARIOS.items()):
        ids = history.add_site(db, f"s-{name}")
        history.write(db, ids["m1"], 1 + n % 2, START, END, events=events, mutate=mutate)
    clean = history.add_site(db, "s-clean")
    history.write(db, clean["m1"], 4, START, END)
    history.refresh(db, START, END)

    result = detect(_ctx(db), NOW)
    assert set(result) == {f"s-{n}" for n in SCENARIOS} | {"s-clean"}

    rows = stored.anomalies(db)
    by_site: dict[str, list[dict[str, Any]]] = {}
    for r in rows:
        by_site.setdefault(r["site_id"], []).append(r)
    assert "s-clean" not in by_site, by_site.get("s-clean")
    for name, (_, _, (kind, severity)) in SCENARIOS.items():
        found = [r for r in by_site[f"s-{name}"] if r["kind"] == kind]
        assert len(found) == 1, (name, by_site[f"s-{name}"])
        event = found[0]
        assert event["severity"] == severity, (name, event)
        assert abs(event["started_at"] - AT) <= timedelta(minutes=10), (name, event["started_at"])
        assert event["ended_at"] is not None and event["message_pt"] and event["message_en"]
        assert event["detector"] == "rule"
        assert event["measured"] is not None
    # phase loss explains the voltage and current symptoms: nothing else on that site
    assert {r["kind"] for r in by_site["s-phase"]} == {"phase_loss"}
    assert (
        by_site["s-demand"][0]["meter_id"] is None
        and by_site["s-demand"][0]["limit_value"] == 315.0
    )

    # one "opened" and one "closed" alert per event, queued for MQTT
    box = stored.outbox(db)
    assert len(box) == 2 * len(rows)
    assert {(b["anomaly_id"], b["event"]) for b in box} == {
        (r["anomaly_id"], e) for r in rows for e in ("opened", "closed")
    }

    # running again changes nothing: no duplicate events, no new alerts
    assert detect(_ctx(db), NOW + timedelta(minutes=5))
    assert len(stored.anomalies(db)) == len(rows)
    assert len(stored.outbox(db)) == len(box)


def test_ongoing_event_is_extended_then_closed(db: str) -> None:
    ids = history.add_site(db, "plant")
    sag = (Event("sag", ts("2026-11-23 10:20").timestamp(), 70 * 60),)  # until 11:30
    history.write(db, ids["m1"], 1, START, ts("2026-11-23 12:30"), events=sag)
    history.refresh(db, START, ts("2026-11-23 12:30"))

    detect(_ctx(db), ts("2026-11-23 11:00"))  # data evaluated up to 10:55
    (first,) = stored.anomalies(db)
    assert first["kind"] == "voltage_band" and first["ended_at"] is None
    assert first["started_at"] == ts("2026-11-23 10:20")

    detect(_ctx(db), ts("2026-11-23 11:20"))  # still sagging
    (second,) = stored.anomalies(db)
    assert second["anomaly_id"] == first["anomaly_id"] and second["ended_at"] is None
    assert second["details"]["last_seen"] > first["details"]["last_seen"]

    detect(_ctx(db), ts("2026-11-23 12:30"))  # cleared at 11:30
    (third,) = stored.anomalies(db)
    assert third["anomaly_id"] == first["anomaly_id"]
    assert third["ended_at"] == ts("2026-11-23 11:30")
    assert [b["event"] for b in stored.outbox(db)] == ["opened", "closed"]


def test_model_events_after_a_week_of_history(db: str) -> None:
    ids = history.add_site(db, "plant")
    train_start = ts("2026-11-16 00:00")
    day = ts("2026-11-23 00:00")
    night = (Event("demand_peak", ts("2026-11-23 03:00").timestamp(), 3600),)
    history.write(db, ids["m1"], 1, train_start, day, step=60)
    history.write(db, ids["m1"], 1, day, ts("2026-11-23 06:00"), step=60, events=night)
    history.refresh(db, train_start, ts("2026-11-23 06:00"))
    with psycopg.connect(db) as conn:  # the detector already covered the training week
        conn.execute(
            "INSERT INTO analytics_watermarks (job, site_id, watermark) VALUES ('detect', 'plant', %s)",
            (day,),
        )
    ctx = _ctx(db, model_enabled=True)
    detect(ctx, ts("2026-11-23 06:10"))
    model_events = [r for r in stored.anomalies(db) if r["detector"] == "model"]
    assert len(model_events) == 1
    (event,) = model_events
    assert abs(event["started_at"] - ts("2026-11-23 03:00")) <= timedelta(minutes=2)
    assert event["kind"] == "model_outlier" and event["details"]["drivers"]
    assert event["details"]["drivers"][0]["feature"] in {"p_kw", "q_kvar"}
    assert "potência" in event["message_pt"] and "power" in event["message_en"]
    assert ("plant", ids["m1"]) in ctx.models


def test_two_workers_detecting_at_once_write_each_event_once(db: str) -> None:
    ids = history.add_site(db, "plant")
    history.write(db, ids["m1"], 1, START, END, events=_event("sag", 40))
    history.refresh(db, START, END)
    barrier = threading.Barrier(2, timeout=30)
    results: list[object] = []

    def worker() -> None:
        ctx = _ctx(db)
        barrier.wait()
        results.append(detect(ctx, NOW))

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert len(results) == 2
    rows = stored.anomalies(db)
    assert [r["kind"] for r in rows] == ["voltage_band"]
    assert [b["event"] for b in stored.outbox(db)] == ["opened", "closed"]
