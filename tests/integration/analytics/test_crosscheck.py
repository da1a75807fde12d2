"""Counter cross-check on real TimescaleDB with simulator history: each injected meter
fault (counter reset, counter x2, power x√3, meter swap, outage) gives exactly its
anomaly with both energy figures, through the detect job and the alert outbox; two
clean days give none."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pytest

from analytics import config
from analytics.db import connect
from analytics.detection import crosscheck
from analytics.detection.job import detect
from analytics.worker.context import Context
from gateway.simulator.faults import Fault, mutate
from gateway.simulator.model import Event, PlantModel
from tests.harness.worker import worker_context
from tests.integration.analytics import history, stored
from tests.unit.analytics.simframes import ts

pytestmark = pytest.mark.integration

START = ts("2026-11-23 06:00")  # Monday
AT = ts("2026-11-23 09:20")
NOW = ts("2026-11-23 12:10")  # detection covers data up to 12:05: hours up to 11-12 complete
STEP = 20.0
SWAP_VALUE = 812_345.6


def _ctx(db: str) -> Context:
    return worker_context(config.load({"database_url": db, "model_enabled": False}, env={}))


FAULTS: dict[str, tuple[tuple[Event, ...], tuple[Fault, ...]]] = {
    "reset": ((), (Fault("counter_reset", AT.timestamp()),)),
    "counter-x2": ((), (Fault("counter_scale", AT.timestamp(), factor=2.0),)),
    "power-sqrt3": ((), (Fault("power_scale", AT.timestamp(), factor=math.sqrt(3)),)),
    "swap": ((), (Fault("counter_swap", AT.timestamp(), value=SWAP_VALUE),)),
    "outage": ((Event("silent", AT.timestamp(), 12 * 60),), ()),
    # the meter is replaced while it is off: its counter comes back as the new meter's
    "swap-offline": (
        (Event("silent", AT.timestamp(), 10 * 60),),
        (Fault("counter_swap", AT.timestamp() + 300, value=SWAP_VALUE),),
    ),
    "clean": ((), ()),
}


def _write_sites(db: str) -> dict[str, int]:
    seeds = {}
    for n, (name, (events, faults)) in enumerate(FAULTS.items()):
        # no contracted demand: a counter x2 would (rightly) also exceed it via the counters
        ids = history.add_site(db, name, contracted_kw=None)
        seed = 1 + n
        plant = PlantModel(seed=seed, events=events)
        history.write(
            db, ids["m1"], seed, START, NOW, step=STEP, events=events,
            mutate=mutate(plant, faults) if faults else None,
        )  # fmt: skip
        seeds[name] = seed
    history.refresh(db, START, NOW)
    return seeds


def test_each_counter_fault_gives_its_anomaly_with_both_figures(db: str) -> None:
    seeds = _write_sites(db)
    detect(_ctx(db), NOW)
    by_site: dict[str, list[dict[str, Any]]] = {}
    for r in stored.anomalies(db):
        by_site.setdefault(r["site_id"], []).append(r)

    assert "clean" not in by_site, by_site.get("clean")
    assert {s: sorted(r["kind"] for r in rows) for s, rows in by_site.items()} == {
        "reset": ["counter_reset"],
        "counter-x2": ["counter_mismatch"],
        "power-sqrt3": ["counter_mismatch"],
        "swap": ["counter_jump"],
        "outage": ["counter_lost_data", "meter_silent"],
        "swap-offline": ["counter_jump", "meter_silent"],
    }
    at = AT.timestamp()

    (reset,) = by_site["reset"]
    d = reset["details"]
    assert reset["started_at"] == AT - timedelta(seconds=STEP) and reset["ended_at"] == AT
    energy_before = PlantModel(seed=seeds["reset"]).energy_kwh(at - STEP)
    assert d["counter_before"] == pytest.approx(energy_before)
    assert 0 <= d["counter_after"] < 1.0  # counting again from zero
    # apart from the step, counter and power agree in the hour
    assert d["counter_kwh"] == pytest.approx(d["integrated_kwh"], rel=0.01)
    assert d["hour"] == ts("2026-11-23 09:00").isoformat() and d["cause"] == "reset"
    assert reset["severity"] == "warning" and reset["quantity"] == "e_imp_kwh"

    for name, factor, expect in (
        ("counter-x2", "2", 2.0),
        ("power-sqrt3", "1/√3", 1 / math.sqrt(3)),
    ):
        (ev,) = by_site[name]
        d = ev["details"]
        assert d["ratio"] == pytest.approx(expect, rel=0.01), name
        assert d["factor"] == factor
        assert ev["measured"] == pytest.approx(d["counter_kwh"], abs=1e-3)
        assert ev["limit_value"] == pytest.approx(d["integrated_kwh"], abs=1e-3)
        # from the hour of the fault to the last complete hour, still going on
        assert ev["started_at"] == ts("2026-11-23 09:00") and ev["ended_at"] is None
        assert d["coverage"] > 0.99
        assert ev["severity"] == "critical"

    (swap,) = by_site["swap"]
    d = swap["details"]
    model = PlantModel(seed=seeds["swap"])
    assert d["step_kwh"] == pytest.approx(SWAP_VALUE - model.energy_kwh(at - STEP), abs=1.0)
    assert d["counter_after"] == pytest.approx(SWAP_VALUE, abs=2.0)
    assert d["during_gap"] is False and d["cause"] == "jump"
    assert swap["severity"] == "warning"  # down: the energy views read it as a rollover

    offline = next(r for r in by_site["swap-offline"] if r["kind"] == "counter_jump")
    assert offline["details"]["during_gap"] is True
    # measured: what the counter shows over the hour, step included; limit: the integral
    assert offline["measured"] == pytest.approx(
        offline["details"]["counter_kwh"] + offline["details"]["step_kwh"], abs=0.01
    )
    assert offline["limit_value"] == pytest.approx(offline["details"]["integrated_kwh"], abs=0.01)
    assert offline["details"]["counter_after"] == pytest.approx(SWAP_VALUE, abs=100.0)
    assert offline["started_at"] == AT - timedelta(seconds=STEP)

    lost = next(r for r in by_site["outage"] if r["kind"] == "counter_lost_data")
    d = lost["details"]
    model = PlantModel(seed=seeds["outage"])
    resumed = at + 12 * 60
    assert d["gap_counter_kwh"] == pytest.approx(
        model.energy_kwh(resumed) - model.energy_kwh(at - STEP), abs=1e-3
    )
    assert lost["started_at"] == AT - timedelta(seconds=STEP)
    assert lost["measured"] == pytest.approx(d["gap_counter_kwh"], abs=1e-3)
    assert lost["limit_value"] == 0.0 and lost["severity"] == "info"

    # the messages carry both figures, in both languages
    for rows in by_site.values():
        for r in rows:
            if not r["kind"].startswith("counter_"):
                continue
            d = r["details"]
            first = d.get("gap_counter_kwh", d["counter_kwh"])
            assert f"{first:,.1f}" in r["message_en"], r["message_en"]
            pt = f"{first:,.1f}".replace(",", "_").replace(".", ",").replace("_", ".")
            assert pt in r["message_pt"], r["message_pt"]
            assert "kWh" in r["message_en"] and "kWh" in r["message_pt"]

    # alerts queued for MQTT / e-mail like any other event: opened (+ closed when over)
    box = stored.outbox(db)
    counter_ids = {
        r["anomaly_id"]
        for rows in by_site.values()
        for r in rows
        if r["kind"].startswith("counter_")
    }
    opened = {b["anomaly_id"] for b in box if b["event"] == "opened"}
    assert counter_ids <= opened
    payload = next(b["payload"] for b in box if b["anomaly_id"] == reset["anomaly_id"])
    assert payload["kind"] == "counter_reset" and payload["measured"] == reset["measured"]

    # running again later: nothing new, the factor events are still the same events
    detect(_ctx(db), NOW + timedelta(minutes=5))
    assert len(stored.anomalies(db)) == sum(len(rows) for rows in by_site.values())
    assert len(stored.outbox(db)) == len(box)


def test_two_clean_days_give_no_cross_check_anomaly(db: str) -> None:
    start, now = ts("2026-11-21 00:00"), ts("2026-11-23 00:10")  # Saturday + low-load Sunday
    ids = history.add_site(db, "plant", ("m1", "m2", "f32"))
    for n, meter in enumerate(("m1", "m2")):
        history.write(db, ids[meter], 7 + n, start, now, step=STEP)

    def as_f32(_t: float, v: dict[str, float]) -> None:  # a KRON/Eastron float register
        v["e_imp_kwh"] = float(np.float32(v["e_imp_kwh"]))

    history.write(db, ids["f32"], 9, start, now, step=STEP, mutate=as_f32)
    history.refresh(db, start, now)
    detect(_ctx(db), now)
    kinds = {r["kind"] for r in stored.anomalies(db)}
    assert kinds.isdisjoint(crosscheck.KINDS), kinds  # (the weekend's low PF is a real finding)
    with connect(db) as conn:
        hours = crosscheck.load(conn, "plant", start, ts("2026-11-23 00:00"))
    assert len(hours) == 3 * 48
    fine = [h for h in hours if h.meter_id != ids["f32"]]
    worst = max(abs(h.counter_kwh - h.integrated_kwh) / h.integrated_kwh for h in fine)
    assert worst < 0.01  # well inside the 5 % tolerance
    coarse = [h.resolution_kwh for h in hours if h.meter_id == ids["f32"]]
    assert min(coarse) == 0.5  # type: ignore[type-var]  # F32 spacing at 4.2 million kWh
    assert min(h.coverage for h in hours if h.hour > start) == 1.0


def test_outage_across_detect_runs_is_reported_once_when_readings_resume(db: str) -> None:
    start, end = ts("2026-11-23 08:00"), ts("2026-11-23 15:00")
    off, on = ts("2026-11-23 10:00"), ts("2026-11-23 13:00")
    outage = (Event("silent", off.timestamp(), (on - off).total_seconds()),)
    ids = history.add_site(db, "plant", contracted_kw=None)
    history.write(db, ids["m1"], 5, start, end, step=STEP, events=outage)
    history.refresh(db, start, end)
    ctx = _ctx(db)
    now = ts("2026-11-23 09:30")
    while now <= end:  # the worker every 20 minutes, data arriving as it goes
        detect(ctx, now)
        now += timedelta(minutes=20)
    rows = stored.anomalies(db)
    assert sorted(r["kind"] for r in rows) == ["counter_lost_data", "meter_silent"]
    (lost,) = [r for r in rows if r["kind"] == "counter_lost_data"]
    d = lost["details"]
    model = PlantModel(seed=5)
    last = off.timestamp() - STEP
    assert d["gap_from"] == datetime.fromtimestamp(last, UTC).isoformat()
    assert d["gap_to"] == on.isoformat() and d["gap_minutes"] == pytest.approx(180.3, abs=0.1)
    assert d["gap_counter_kwh"] == pytest.approx(
        model.energy_kwh(on.timestamp()) - model.energy_kwh(last), abs=1e-3
    )
    # reported with the hour the readings came back in
    assert d["hour"] == on.isoformat()
    assert [b["event"] for b in stored.outbox(db) if b["anomaly_id"] == lost["anomaly_id"]] == [
        "opened",
        "closed",
    ]
