"""Detection benchmark: ``.venv/bin/pytest -m benchmark tests/benchmarks/test_detection.py -s``.

One site, 10 meters: a week of 1-minute history (so that the statistical model has its
training window) and then 24 hours of 1-second readings (864,000 rows) with a few
injected events, written by binary COPY. Measured separately:

* the rollup refresh of those 24 hours (the Apache build's job; the Community build's
  continuous aggregates do it in the background);
* one detection run over the 24 hours: all rules, plus fitting the 10 per-meter models
  on the trailing week and scoring the day (target: under 10 s on this machine);
* the 6-hour summaries of that day.

Peak memory: tracemalloc's peak of Python allocations during detection, and the
process's maximum resident set size. Prints the figures and writes them to
``bench-results/detection.json`` (results.py). Asserts only that the injected events were found,
never a speed.
"""

from __future__ import annotations

import json
import resource
import time
import tracemalloc
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import psycopg
import pytest

from analytics import config
from analytics.detection.job import detect
from analytics.summaries.job import summarize
from analytics.worker.context import Context
from gateway.simulator.model import Event, PlantModel
from ingestor.writer import COLUMNS, COPY_TYPES, QUANTITY_NAMES
from tests.benchmarks import results
from tests.harness.worker import worker_context
from tests.integration.analytics import history
from tests.unit.analytics.simframes import ts

pytestmark = pytest.mark.benchmark

METERS = 10
DAY = ts("2026-11-24 00:00")  # a Tuesday
WEEK_START = DAY - timedelta(days=7)
COUNTERS = {"e_imp_kwh", "e_exp_kwh", "e_imp_kvarh", "e_exp_kvarh", "demand_kw", "demand_kva"}
EVENTS: dict[int, tuple[Event, ...]] = {
    2: (Event("sag", (DAY + timedelta(hours=10)).timestamp(), 1800),),
    5: (Event("pf_drop", (DAY + timedelta(hours=14)).timestamp(), 3600),),
    7: (Event("phase_loss", (DAY + timedelta(hours=16)).timestamp(), 1200),),
}


def _table(model: PlantModel, times: np.ndarray) -> np.ndarray:
    rows = []
    for t in times:
        values = model.values(float(t))
        rows.append([values[q] for q in QUANTITY_NAMES])
    return np.array(rows)


def _series(
    seed: int, start: datetime, end: datetime, coarse: float, fine: float, events: tuple[Event, ...]
) -> tuple[np.ndarray, np.ndarray]:
    """Model values every ``coarse`` s, interpolated to every ``fine`` s, gauges with noise."""
    model = PlantModel(seed=seed, events=events)
    t0, t1 = start.timestamp(), end.timestamp()
    knots = np.arange(t0, t1 + coarse, coarse)
    table = _table(model, knots)
    times = np.arange(t0, t1, fine)
    out = np.empty((len(times), len(QUANTITY_NAMES)))
    rng = np.random.default_rng(seed)
    for j, q in enumerate(QUANTITY_NAMES):
        out[:, j] = np.interp(times, knots, table[:, j])
        if q == "freq":
            out[:, j] += 0.005 * rng.standard_normal(len(times))
        elif q not in COUNTERS:
            out[:, j] *= 1 + 0.002 * rng.standard_normal(len(times))
    # events switch on and off sharply: take the model's own value inside them
    for ev in events:
        inside = (times >= ev.start) & (times < ev.end)
        if inside.any():
            sub = np.arange(ev.start, ev.end, coarse / 10)
            vals = _table(model, sub)
            for j in range(len(QUANTITY_NAMES)):
                out[inside, j] = np.interp(times[inside], sub, vals[:, j])
    return times, out


def _copy(db: str, meter_id: int, times: np.ndarray, values: np.ndarray) -> None:
    statement = f"COPY readings ({', '.join(COLUMNS)}) FROM STDIN (FORMAT BINARY)"
    with psycopg.connect(db) as conn, conn.cursor() as cur, cur.copy(statement) as copy:
        copy.set_types(list(COPY_TYPES))
        for n, (t, row) in enumerate(zip(times.tolist(), values.tolist(), strict=True)):
            copy.write_row((datetime.fromtimestamp(t, UTC), meter_id, n, *row))


def test_detection_24h_1s_10_meters(db: str) -> None:
    names = tuple(f"m{i}" for i in range(1, METERS + 1))
    ids = history.add_site(db, "plant", names, contracted_kw=300.0 * METERS)
    t = time.perf_counter()
    rows = 0
    for i, name in enumerate(names, start=1):
        wt, wv = _series(i, WEEK_START, DAY, 600.0, 60.0, ())
        _copy(db, ids[name], wt, wv)
        dt, dv = _series(i, DAY, DAY + timedelta(days=1), 60.0, 1.0, EVENTS.get(i, ()))
        _copy(db, ids[name], dt, dv)
        rows += len(dt)
    setup_s = time.perf_counter() - t
    history.refresh(db, WEEK_START, DAY)

    t = time.perf_counter()
    history.refresh(db, DAY, DAY + timedelta(days=1))
    refresh_s = time.perf_counter() - t

    now = DAY + timedelta(days=1, minutes=5)  # data up to the end of the day, settled
    flags = {"database_url": db, "catch_up": timedelta(days=1, hours=1)}  # this day only

    def fresh() -> Context:  # a worker that starts with the day to do, models unfitted
        with psycopg.connect(db) as conn:
            conn.execute("DELETE FROM analytics_outbox")
            conn.execute("DELETE FROM anomalies")
            conn.execute("DELETE FROM analytics_watermarks")
            conn.execute(
                "INSERT INTO analytics_watermarks (job, site_id, watermark) VALUES ('detect', 'plant', %s)",
                (DAY,),
            )
        return worker_context(config.load(flags, env={}))

    # time without tracemalloc (it slows allocation-heavy code), then memory in a rerun
    ctx = fresh()
    t = time.perf_counter()
    result = detect(ctx, now)
    detect_s = time.perf_counter() - t
    ctx = fresh()
    tracemalloc.start()
    rerun = detect(ctx, now)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert rerun == result

    t = time.perf_counter()
    summaries = summarize(ctx, now)
    summarize_s = time.perf_counter() - t

    with psycopg.connect(db) as conn:
        found = conn.execute(
            "SELECT m.name, a.kind, a.detector, count(*) FROM anomalies a"
            " LEFT JOIN meters m USING (meter_id) GROUP BY 1, 2, 3 ORDER BY 1, 2, 3"
        ).fetchall()
    kinds = {(str(n), str(k)) for n, k, _, _ in found}
    figures: dict[str, Any] = {
        "meters": METERS,
        "raw_rows_1s": rows,
        "setup_generate_and_copy_s": round(setup_s, 2),
        "rollup_refresh_24h_s": round(refresh_s, 2),
        "detection_24h_s": round(detect_s, 2),
        "detection_target_s": 10,
        "detection_peak_python_mib": round(peak / 2**20, 1),
        "process_max_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "summaries_4_windows_s": round(summarize_s, 2),
        "detect_result": result["plant"],
        "summaries": len(summaries),
        "events": [[str(n), str(k), str(d), int(c)] for n, k, d, c in found],
    }
    print(json.dumps(figures, indent=1))
    headline = [
        results.Row("detection over 24 h x 10 meters (rules + models)", figures["detection_24h_s"],
                    "s", goal="< 10 s", met=detect_s < 10),
        results.Row("rollup refresh of the 24 h (Apache build's job)",
                    figures["rollup_refresh_24h_s"], "s"),
        results.Row("four 6-hour summaries", figures["summaries_4_windows_s"], "s"),
        results.Row("peak Python memory during detection",
                    figures["detection_peak_python_mib"], "MiB"),
        results.Row("benchmark process max RSS", figures["process_max_rss_mib"], "MiB"),
    ]  # fmt: skip
    results.write("detection", "Detection time", headline, figures)

    assert ("m2", "voltage_band") in kinds
    assert ("m5", "power_factor") in kinds
    assert ("m7", "phase_loss") in kinds
    assert len(summaries) == 4
