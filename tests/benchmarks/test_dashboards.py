"""Latency of every dashboard query on 30 days of 1-second data from 2 meters (5.2 M rows).

    .venv/bin/pytest -m benchmark tests/benchmarks/test_dashboards.py -s

The data set is generated once for the session (tests/integration/grafana/dataset.py:
the plant model on 2-minute knots, numpy interpolation and noise, one binary COPY per
meter, then the rollups refreshed over the 30 days). Each query is expanded as Grafana
would for ranges of 5 min, 1 h, 24 h, 7 days and 30 days ending at the newest reading,
run as emusa_grafana, once to warm up and then REPEAT times. Target: p95 < 100 ms for
every query and range. Figures go to bench-results/dashboards.json (results.py).
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest

from tests.benchmarks import results
from tests.conftest import PgServer
from tests.integration.grafana import dashboards as dash
from tests.integration.grafana.dataset import METERS, SITE, Dataset, Shape, generate
from tests.integration.grafana.macros import Context, expand
from tests.integration.grafana.runner import connect, run

pytestmark = pytest.mark.benchmark

DAYS = 30
REPEAT = 40  # p95 of 40 runs: one scheduling hiccup of a shared 2-core machine is not the p95
TARGET_P95_MS = 100.0
RANGES = {
    "5m": timedelta(minutes=5),
    "1h": timedelta(hours=1),
    "24h": timedelta(days=1),
    "7d": timedelta(days=7),
    "30d": timedelta(days=30),
}


@pytest.fixture(scope="session")
def month(pg_server: PgServer, template_db: str) -> Iterator[Dataset]:
    name = pg_server.create_database(template=template_db)
    try:
        t0 = time.perf_counter()
        data = generate(pg_server.dsn(name), Shape.full(DAYS))
        data.seconds["total_s"] = time.perf_counter() - t0
        yield data
    finally:
        pg_server.drop_database(name)


def _pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    k = max(0, min(len(ordered) - 1, round(p / 100 * len(ordered) + 0.5) - 1))
    return ordered[k]


@pytest.mark.timeout(3600)  # the 5.2 M-row data set takes minutes to build
def test_dashboard_query_latency(month: Dataset) -> None:
    queries = dash.all_queries()
    found: list[dict[str, Any]] = []
    with connect(month.dsn) as conn:
        for q in queries:
            meter: str | list[str] = (
                METERS[0] if q.dashboard == "emusa-formas-de-onda" else list(METERS)
            )
            for label, span in RANGES.items():
                sql = expand(
                    q.sql, Context(month.end - span, month.end, {"site": SITE, "meter": meter})
                )
                run(conn, sql)  # warm-up (plans, caches)
                ms = [run(conn, sql).seconds * 1000 for _ in range(REPEAT)]
                rows = len(run(conn, sql).rows)
                found.append(
                    {
                        "query": q.id,
                        "range": label,
                        "rows": rows,
                        "p50_ms": round(statistics.median(ms), 2),
                        "p95_ms": round(_pct(ms, 95), 2),
                        "max_ms": round(max(ms), 2),
                    }
                )
    slow = [r for r in found if r["p95_ms"] >= TARGET_P95_MS]
    worst = max(found, key=lambda r: r["p95_ms"])
    worst_by_range = {
        label: max((r for r in found if r["range"] == label), key=lambda r: r["p95_ms"])
        for label in RANGES
    }
    doc: dict[str, Any] = {
        "dataset": {
            "days": DAYS,
            "meters": len(METERS),
            "raw_rows": month.raw_rows,
            "generation_s": {k: round(v, 1) for k, v in month.seconds.items()},
        },
        "repeat": REPEAT,
        "target_p95_ms": TARGET_P95_MS,
        "worst": worst,
        "over_target": slow,
        "queries": found,
    }
    headline = [
        results.Row(
            f"worst p95 over {label} ({w['query'].removesuffix(' / A')})",
            w["p95_ms"],
            "ms",
            goal=f"< {TARGET_P95_MS:g} ms",
            met=w["p95_ms"] < TARGET_P95_MS,
        )
        for label, w in worst_by_range.items()
    ]
    results.write("dashboards", "Dashboard query latency", headline, doc)
    print(f"\ndataset: {month.raw_rows:,} raw rows, generation {doc['dataset']['generation_s']}")
    print(f"{'query':<90} {'range':>5} {'rows':>6} {'p50 ms':>8} {'p95 ms':>8}")
    for r in found:
        print(
            f"{r['query'][:90]:<90} {r['range']:>5} {r['rows']:>6} {r['p50_ms']:>8.1f} {r['p95_ms']:>8.1f}"
        )
    print(f"worst p95: {worst['p95_ms']} ms ({worst['query']}, {worst['range']})")
    assert not slow, f"{len(slow)} query/range pairs over p95 {TARGET_P95_MS} ms: {slow[:5]}"
