"""History-scale benchmark (issue 17): does a year of data cost more to look at than a month?

    make bench-history      # or: .venv/bin/pytest -m history tests/benchmarks/test_history.py -s

Two meters with a year of history (history_data.py: 1 s readings for the last 30 days,
one a minute before, one raw chunk per day, every rollup over the whole year), measured at
365 days, then cut to 180 and to 30 days and measured again (EMUSA_BENCH_HISTORY_DAYS).
At each length (history_measures.py): every dashboard panel query over 5 min, 24 h, 7 d,
30 d and 1 year (p50/p95 of EMUSA_BENCH_HISTORY_REPEAT runs, planning time), the daily and
fortnightly reports, one 6-hour summary, one detection cycle, one demand projection, the
worker's trailing rollup refresh, the refresh of one late reading 20 days old, Power BI's
typical imports, the ingestor's writer rate (EMUSA_BENCH_HISTORY_INGEST readings; also
into an empty database) and the analytics worker's peak memory.

Goals (headline rows): for the same query range, cost at the longest history at most 1.3 x
cost at the shortest; panel p95 < 100 ms for ranges up to 30 days and < 1 s over a year;
daily report < 1 s and fortnightly < 2 s at the longest history. The test asserts no time:
the rows say whether each goal was met. Writes bench-results/history.json (results.py;
``history_community`` when run on the Community build); scripts/plot_history.py draws it.
"""

from __future__ import annotations

import os
import time
from datetime import timedelta
from typing import Any

import psycopg
import pytest

from tests.benchmarks import history_measures as hm
from tests.benchmarks import results
from tests.benchmarks.history_data import Settings, build, cut
from tests.conftest import PgServer
from tests.integration.grafana.dataset import Dataset, _setup_site

pytestmark = [pytest.mark.benchmark, pytest.mark.history]

REPEAT = int(os.environ.get("EMUSA_BENCH_HISTORY_REPEAT", "10"))
INGEST_N = int(os.environ.get("EMUSA_BENCH_HISTORY_INGEST", "40000"))
GROWTH = 1.3  # cost at the longest history / cost at the shortest, for the same range
PANEL_GOAL_MS = {"5m": 100.0, "24h": 100.0, "7d": 100.0, "30d": 100.0, "1y": 1000.0}
SAME_RANGE = ("5m", "24h", "7d", "30d")  # ranges that hold the same data at every length
SCALARS = {  # figure key -> words; each compared longest vs shortest history
    "daily_report_s": "daily report (24 h PDF)",
    "fortnightly_report_s": "fortnightly report (PDF, with the previous fortnight)",
    "summary_6h_s": "one 6-hour summary",
    "detection_cycle_s": "one detection cycle (fresh worker, models fitted)",
    "demand_projection_s": "one demand projection",
    "trailing_refresh_s": "worker's refresh job (trailing 30 min), kept session",
    "late_reading_refresh_s": "refresh of one late reading 20 days old, kept session",
}


def measure(d: Dataset, empty_rate: float, days: int) -> dict[str, Any]:
    t0 = time.perf_counter()
    out: dict[str, Any] = {"load_avg_1m": os.getloadavg()[0]}  # how quiet the machine was
    out["panels"] = hm.panels(d, REPEAT)
    out |= hm.reports(d)
    out |= hm.worker_jobs(d)
    out["late_reading_refresh_s"] = hm.late_reading(d, days)
    out["bi_imports"] = hm.bi_imports(d)
    rate = hm.ingest_rate(d.dsn, d.end + timedelta(hours=1), INGEST_N)
    out["ingest_readings_per_s"] = rate
    out["ingest_vs_empty"] = rate / empty_rate
    out["worker_peak_rss_mib"] = hm.worker_memory(d)
    out["measure_s"] = time.perf_counter() - t0
    return out


def _panel_sum(m: dict[str, Any], label: str) -> float:
    return float(sum(p["p95_ms"] for p in m["panels"] if p["range"] == label))


def headline(by_days: dict[int, dict[str, Any]], empty_rate: float) -> list[results.Row]:
    lo, hi = min(by_days), max(by_days)
    a, b = by_days[lo], by_days[hi]
    rows: list[results.Row] = []
    for label in SAME_RANGE:
        rows.append(
            results.Row(
                f"all panels over {label}: sum of p95 at {hi} d of history",
                round(_panel_sum(b, label), 1),
                "ms",
                f"same at {lo} d",
                round(_panel_sum(a, label), 1),
                goal=f"<= {GROWTH} x at {lo} d",
                met=_panel_sum(b, label) <= GROWTH * _panel_sum(a, label),
            )
        )
    for label, goal in PANEL_GOAL_MS.items():
        worst = max((p for p in b["panels"] if p["range"] == label), key=lambda p: p["p95_ms"])
        rows.append(
            results.Row(
                f"worst panel p95 over {label} at {hi} d ({worst['query']})",
                worst["p95_ms"],
                "ms",
                goal=f"< {goal:g} ms",
                met=worst["p95_ms"] < goal,
            )
        )
    for key, words in SCALARS.items():
        rows.append(
            results.Row(
                f"{words} at {hi} d",
                round(b[key], 4),
                "s",
                f"same at {lo} d",
                round(a[key], 4),
                goal=f"<= {GROWTH} x at {lo} d",
                met=b[key] <= GROWTH * a[key],
            )
        )
    rows.append(
        results.Row(
            "daily report at the longest history",
            round(b["daily_report_s"], 3),
            "s",
            goal="< 1 s",
            met=b["daily_report_s"] < 1,
        )
    )
    rows.append(
        results.Row(
            "fortnightly report at the longest history",
            round(b["fortnightly_report_s"], 3),
            "s",
            goal="< 2 s",
            met=b["fortnightly_report_s"] < 2,
        )
    )
    rows.append(
        results.Row(
            f"ingest, writer into {hi} d of history",
            round(b["ingest_readings_per_s"]),
            "readings/s",
            "same into an empty database",
            round(empty_rate),
            goal=f">= 1/{GROWTH} of the empty one",
            met=b["ingest_readings_per_s"] * GROWTH >= empty_rate,
        )
    )
    for name, f in b["bi_imports"].items():
        rows.append(
            results.Row(
                f"Power BI import {name} at {hi} d ({f['rows']:,} rows)",
                round(f["s"], 3),
                "s",
                f"same at {lo} d",
                round(a["bi_imports"][name]["s"], 3),
            )
        )
    rows.append(
        results.Row(
            f"analytics worker peak RSS at {hi} d",
            b["worker_peak_rss_mib"],
            "MiB",
            f"same at {lo} d",
            a["worker_peak_rss_mib"],
        )
    )
    worst_plan = max(b["panels"], key=lambda p: p["planning_ms"])
    rows.append(
        results.Row(
            f"worst planning time at {hi} d ({worst_plan['query']}, {worst_plan['range']})",
            worst_plan["planning_ms"],
            "ms",
        )
    )
    return rows


@pytest.mark.timeout(3600)
def test_history_scale(
    pg_server: PgServer, template_db: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The worker, Grafana and Power BI log in as roles with jit = off (migration 0020);
    # this benchmark connects as the owner, so its sessions (and the worker process it
    # starts) get the same setting through libpq's PGOPTIONS.
    monkeypatch.setenv("PGOPTIONS", "-c jit=off")
    s = Settings.from_env()
    name, empty = (pg_server.create_database(template=template_db) for _ in range(2))
    try:
        data = build(pg_server.dsn(name), s)
        with psycopg.connect(pg_server.dsn(empty), autocommit=True) as conn:
            _setup_site(conn)
            apache = conn.execute("SHOW timescaledb.license").fetchone() == ("apache",)
        empty_rate = hm.ingest_rate(pg_server.dsn(empty), data.end + timedelta(hours=1), INGEST_N)
        by_days: dict[int, dict[str, Any]] = {}
        chunks: dict[int, dict[str, int]] = {}
        for days in reversed(s.days):
            t0 = time.perf_counter()
            chunks[days] = cut(data.dsn, data.end, days)
            cut_s = time.perf_counter() - t0
            by_days[days] = measure(data, empty_rate, days) | {
                "cut_s": cut_s,
                "chunks": chunks[days],
            }
            print(f"\n{days} days: { {k: v for k, v in by_days[days].items() if k != 'panels'} }")
    finally:
        for db in (name, empty):
            pg_server.drop_database(db)
    figures: dict[str, Any] = {
        "build": "apache" if apache else "community",
        "settings": {
            "days": list(s.days),
            "recent_step_s": s.recent_step,
            "old_step_s": s.old_step,
            "repeat": REPEAT,
            "ingest_readings": INGEST_N,
        },
        "dataset": {
            "raw_rows_longest": data.raw_rows,
            "build_s": {k: round(v, 1) for k, v in data.seconds.items()},
        },
        "ingest_empty_readings_per_s": empty_rate,
        "by_days": {str(k): v for k, v in sorted(by_days.items())},
    }
    rows = headline(by_days, empty_rate)
    bench = "history" if apache else "history_community"
    title = "History scale: cost against history length" + ("" if apache else " (Community build)")
    results.write(bench, title, rows, figures)
    for r in rows:
        print(f"{r.figure}: {r.value} {r.unit} (baseline {r.baseline_value}) met={r.met}")
    assert all(len(m["panels"]) == len(by_days[max(by_days)]["panels"]) for m in by_days.values())
