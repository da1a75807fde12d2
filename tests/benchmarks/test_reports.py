"""Report build times: run with ``.venv/bin/pytest -m benchmark tests/benchmarks/test_reports.py -s``.

Two simulated meters (``gateway.simulator.model``) in a real TimescaleDB: the report day
at one reading every ``EMUSA_BENCH_REPORT_STEP`` seconds (default 5) and the month before
at one a minute, rollups refreshed. Times the 24-hour and the fortnightly report (the
fortnight also reads the previous one for its trends), each split into database reads
and PDF layout, best and median of ``ROUNDS``. Writes ``bench-results/reports.json`` (results.py);
asserts only that the PDFs are complete, never a speed.
"""

from __future__ import annotations

import io
import json
import os
import statistics
import time
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import psycopg
import pytest
from pypdf import PdfReader

from analytics.delivery.config import DeliveryConfig, Tariff
from analytics.reports import data, periods
from analytics.reports.daily import build_daily
from analytics.reports.fortnightly import build_fortnightly
from tests.benchmarks import results
from tests.conftest import PgServer
from tests.integration.reports.plant import load_history, seed_site

pytestmark = pytest.mark.benchmark

TZ = ZoneInfo("America/Sao_Paulo")
ROUNDS = 3
DAY = (datetime(2026, 11, 10, tzinfo=TZ), datetime(2026, 11, 11, tzinfo=TZ))
FORTNIGHT = (datetime(2026, 11, 1, tzinfo=TZ), datetime(2026, 11, 16, tzinfo=TZ))
MONTH_START = datetime(2026, 10, 16, tzinfo=TZ)
STEP = timedelta(seconds=float(os.environ.get("EMUSA_BENCH_REPORT_STEP", "5")))


def _timed(fn: Any, *args: Any, **kwargs: Any) -> tuple[Any, float]:
    t0 = time.perf_counter()
    out = fn(*args, **kwargs)
    return out, time.perf_counter() - t0


def _figures(samples: list[tuple[float, float]]) -> dict[str, float]:
    total = [a + b for a, b in samples]
    return {
        "best_s": round(min(total), 3),
        "median_s": round(statistics.median(total), 3),
        "db_median_s": round(statistics.median(a for a, _ in samples), 3),
        "layout_median_s": round(statistics.median(b for _, b in samples), 3),
    }


def test_report_build_times(pg_server: PgServer, template_db: str) -> None:
    name = pg_server.create_database(template=template_db)
    dsn = pg_server.dsn(name)
    try:
        ids = seed_site(dsn, 500.0)
        rows_month, seed_s = _timed(
            load_history, dsn, MONTH_START, DAY[0], timedelta(minutes=1), ids
        )
        rows_day, seed_day_s = _timed(load_history, dsn, DAY[0], DAY[1], STEP, ids)
        rows_rest = load_history(dsn, DAY[1], FORTNIGHT[1], timedelta(minutes=1), ids)
        cfg = DeliveryConfig(tariff=Tariff(demand_kw=40.0, energy_ponta_kwh=2.1,
                                           energy_fora_ponta_kwh=0.45))  # fmt: skip
        now = datetime.now(UTC)
        daily: list[tuple[float, float]] = []
        fortnight: list[tuple[float, float]] = []
        pdfs: dict[str, bytes] = {}
        with psycopg.connect(dsn) as conn:
            for _ in range(ROUNDS):
                d, t_db = _timed(data.daily, conn, "plant", DAY[0], DAY[1], "pt-BR")
                pdf, t_pdf = _timed(
                    build_daily, d, lang="pt-BR", branding=cfg.branding, generated=now
                )
                daily.append((t_db, t_pdf))
                pdfs["daily"] = pdf
                prev_range = periods.previous_period(FORTNIGHT[0], FORTNIGHT[1], TZ)
                t0 = time.perf_counter()
                cur = data.fortnight(conn, "plant", *FORTNIGHT)
                prev = data.fortnight(conn, "plant", *prev_range)
                t_db = time.perf_counter() - t0
                pdf, t_pdf = _timed(build_fortnightly, cur, prev, tariff=cfg.tariff, lang="pt-BR",
                                    branding=cfg.branding, generated=now)  # fmt: skip
                fortnight.append((t_db, t_pdf))
                pdfs["fortnightly"] = pdf
    finally:
        pg_server.drop_database(name)
    for kind, pdf in pdfs.items():
        assert len(PdfReader(io.BytesIO(pdf)).pages) >= 2, kind
    figures: dict[str, Any] = {
        "meters": 2,
        "raw_rows": {"report_day": rows_day, "month_1_per_min": rows_month + rows_rest},
        "report_day_step_s": STEP.total_seconds(),
        "seeding_s": round(seed_s + seed_day_s, 1),
        "daily_24h": _figures(daily) | {"pdf_bytes": len(pdfs["daily"])},
        "fortnightly": _figures(fortnight) | {"pdf_bytes": len(pdfs["fortnightly"])},
        "rounds": ROUNDS,
    }
    headline = [
        results.Row(f"{kind} PDF, median of {ROUNDS}", f["median_s"], "s")
        for kind, f in (("24-hour", figures["daily_24h"]), ("fortnightly", figures["fortnightly"]))
    ] + [
        results.Row(f"{kind} PDF, database part (median)", f["db_median_s"], "s")
        for kind, f in (("24-hour", figures["daily_24h"]), ("fortnightly", figures["fortnightly"]))
    ]
    results.write("reports", "PDF report build time", headline, figures)
    print(json.dumps(figures, indent=2))
