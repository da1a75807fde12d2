"""What the history-scale benchmark measures at each history length (test_history.py).

Every function takes the data set (``Dataset``: the database and its newest instant) and
returns figures; times are medians of repeated runs (panels: p50/p95 of ``repeat``).
The queries, jobs and reports are the project's own: panel SQL from the provisioned
dashboards expanded as Grafana does, ``analytics`` functions as the worker calls them.
"""

from __future__ import annotations

import io
import json
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import psycopg
from pypdf import PdfReader

from analytics import config, db
from analytics.delivery.config import DeliveryConfig, Tariff
from analytics.demand import job as demand_job
from analytics.detection import job as detection_job
from analytics.reports import data as report_data
from analytics.reports import periods
from analytics.reports.daily import build_daily
from analytics.reports.fortnightly import build_fortnightly
from analytics.summaries import job as summary_job
from analytics.worker import context, rollups, store
from contract import Reading
from gateway.simulator.model import PlantModel
from ingestor.writer import Writer
from tests.integration.grafana import dashboards as dash
from tests.integration.grafana.dataset import METERS, SITE, Dataset
from tests.integration.grafana.macros import Context, expand
from tests.integration.grafana.runner import connect, run

TZ = ZoneInfo("America/Sao_Paulo")
RANGES = {
    "5m": timedelta(minutes=5),
    "24h": timedelta(days=1),
    "7d": timedelta(days=7),
    "30d": timedelta(days=30),
    "1y": timedelta(days=365),
}
CFG = DeliveryConfig(
    tariff=Tariff(demand_kw=40.0, energy_ponta_kwh=2.1, energy_fora_ponta_kwh=0.45)
)
BI_IMPORTS = {
    "bi.site_demand_15m (a year)": "SELECT * FROM bi.site_demand_15m WHERE time_utc >= %(start)s",
    "bi.energy_daily": "SELECT * FROM bi.energy_daily",
    "bi.energy_by_shift": "SELECT * FROM bi.energy_by_shift",
}


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    k = max(0, min(len(ordered) - 1, round(p / 100 * len(ordered) + 0.5) - 1))
    return ordered[k]


def timed(fn: Callable[[], object], runs: int | None = None) -> float:
    """Median seconds of repeated calls after one warm-up call: 15 runs when a call takes
    under 0.1 s (a few milliseconds of a busy core would otherwise decide the ratio
    between two lengths), 3 under 1 s, one when slower (the run budget is 25 minutes);
    ``runs`` overrides."""
    t0 = time.perf_counter()
    fn()
    warm = time.perf_counter() - t0
    if runs is None:
        runs = 15 if warm < 0.1 else 3 if warm < 1.0 else 1
    out = []
    for _ in range(runs):
        t0 = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t0)
    return statistics.median(out)


def panels(d: Dataset, repeat: int) -> list[dict[str, Any]]:
    """p50/p95 of every panel query over each range ending at the newest reading."""
    found: list[dict[str, Any]] = []
    with connect(d.dsn) as conn:
        for q in dash.all_queries():
            meter: str | list[str] = (
                METERS[0] if q.dashboard == "emusa-formas-de-onda" else list(METERS)
            )
            for label, span in RANGES.items():
                sql = expand(q.sql, Context(d.end - span, d.end, {"site": SITE, "meter": meter}))
                rows = len(run(conn, sql).rows)  # warm-up (plans, caches)
                ms = [run(conn, sql).seconds * 1000 for _ in range(repeat)]
                plan = conn.execute(f"EXPLAIN (SUMMARY ON, FORMAT JSON) {sql}".encode()).fetchone()
                planning = float(plan[0][0]["Planning Time"]) if plan else 0.0
                found.append(
                    {
                        "query": q.id.removesuffix(" / A"),
                        "range": label,
                        "rows": rows,
                        "p50_ms": round(statistics.median(ms), 2),
                        "p95_ms": round(pct(ms, 95), 2),
                        "planning_ms": round(planning, 2),
                    }
                )
    return found


def reports(d: Dataset) -> dict[str, float]:
    """The daily report of the last complete local day, the last complete fortnight's."""
    last_day = (d.end.astimezone(TZ) - timedelta(days=1)).date()
    day = periods.day_period(last_day, TZ)
    this_fortnight = periods.fortnight_dates(d.end.astimezone(TZ).date())[0]
    fortnight = periods.fortnight_period(this_fortnight - timedelta(days=1), TZ)
    prev = periods.previous_period(*fortnight, TZ)
    now = datetime.now(UTC)
    pages: dict[str, int] = {}
    with psycopg.connect(d.dsn) as conn:

        def daily() -> None:
            dd = report_data.daily(conn, SITE, *day, "pt-BR")
            pdf = build_daily(dd, lang="pt-BR", branding=CFG.branding, generated=now)
            pages["daily"] = len(PdfReader(io.BytesIO(pdf)).pages)

        def fortnightly() -> None:
            cur = report_data.fortnight(conn, SITE, *fortnight)
            before = report_data.fortnight(conn, SITE, *prev)
            pdf = build_fortnightly(
                cur, before, tariff=CFG.tariff, lang="pt-BR", branding=CFG.branding, generated=now
            )
            pages["fortnightly"] = len(PdfReader(io.BytesIO(pdf)).pages)

        out = {"daily_report_s": timed(daily), "fortnightly_report_s": timed(fortnightly)}
    assert pages["daily"] >= 2 and pages["fortnightly"] >= 2, pages
    return out


def _context(dsn: str) -> context.Context:
    return context.Context(config.load({"database_url": dsn}, env={}))


def worker_jobs(d: Dataset) -> dict[str, float]:
    """One 6-hour summary, one detection cycle (a fresh worker: models fitted, a new
    session), one demand projection, the refresh job (as the worker runs it every
    minute: on its session, kept between runs)."""
    end = d.end
    window = (end - timedelta(hours=12), end - timedelta(hours=6))
    out: dict[str, float] = {}
    with db.connect(d.dsn) as conn:
        site = store.sites(conn, SITE)[0]

        def summary() -> None:
            with conn.transaction(force_rollback=True):
                summary_job.write_summary(_context(d.dsn), conn, site, *window)

        def projection() -> None:
            demand_job.project_site(conn, SITE, end, demand_job.params_from_env({}))

        out["summary_6h_s"] = timed(summary)
        out["demand_projection_s"] = timed(projection)

    def detection() -> None:  # a fresh worker's minute: 10 minutes since the watermark
        worker = _context(d.dsn)
        try:
            with worker.connection() as c:
                c.execute("DELETE FROM analytics_watermarks WHERE job = 'detect'")
                c.execute(
                    "INSERT INTO analytics_watermarks (job, site_id, watermark)"
                    " VALUES ('detect', %s, %s)",
                    (SITE, end - timedelta(minutes=15)),
                )
            detection_job.detect(worker, end)
        finally:
            worker.close()

    out["detection_cycle_s"] = timed(detection)
    # the worker's refresh_rollups job on its kept session: no logged range, the
    # trailing 30 minutes
    worker = _context(d.dsn)
    try:
        out["trailing_refresh_s"] = timed(lambda: rollups.refresh_rollups(worker, end))
    finally:
        worker.close()
    return out


def late_reading(d: Dataset, history_days: int, days_ago: int = 20) -> float:
    """Median seconds of the worker (on its kept session) refreshing one reading stamped
    ``days_ago`` days back.

    Each history length writes readings of its own: ``history_days`` microseconds into a
    second no reading holds (the data are whole seconds). Writing again what an earlier
    length wrote changes nothing, and the Community build's refresh then has nothing to
    do (12 ms at 30 days against 1.4 s at 365 in the first Community runs)."""
    meter = d.meter_ids[METERS[0]]
    runs = []
    worker = _context(d.dsn)
    try:
        for k in range(16):
            at = d.end - timedelta(days=days_ago, hours=k, seconds=1)
            at += timedelta(microseconds=history_days)
            with psycopg.connect(d.dsn, autocommit=True) as conn:
                written = conn.execute(
                    "INSERT INTO readings (time, meter_id, p_total, e_imp_kwh)"
                    " SELECT %(at)s, meter_id, p_total, e_imp_kwh FROM readings"
                    " WHERE meter_id = %(m)s AND time <= %(at)s ORDER BY time DESC LIMIT 1"
                    " ON CONFLICT (meter_id, time) DO NOTHING",
                    {"at": at, "m": meter},
                ).rowcount
                assert written == 1, f"a reading at {at} already exists"
                conn.execute(
                    "INSERT INTO rollup.invalidations (range_start, range_end) VALUES (%s, %s)",
                    (at, at),
                )
            with worker.connection() as session:
                t0 = time.perf_counter()
                done = rollups.refresh_pending(session)
                runs.append(time.perf_counter() - t0)
            assert done >= 1
    finally:
        worker.close()
    return statistics.median(runs[1:])


def bi_imports(d: Dataset) -> dict[str, dict[str, float]]:
    """Median seconds (and rows) of Power BI's typical imports, as emusa_bi."""
    out: dict[str, dict[str, float]] = {}
    params = {"start": d.end - timedelta(days=365)}
    with psycopg.connect(d.dsn, autocommit=True) as conn:
        conn.execute("SET ROLE emusa_bi")
        for name, sql in BI_IMPORTS.items():
            rows = len(conn.execute(sql, params).fetchall())

            def fetch(sql: str = sql) -> None:
                conn.execute(sql, params).fetchall()

            seconds = timed(fetch)
            out[name] = {"s": seconds, "rows": rows}
    return out


def _readings(n: int, start: datetime) -> list[Reading]:
    model = PlantModel(1)
    table = [model.values(start.timestamp() + 60 * k) for k in range(50)]
    return [
        Reading(SITE, METERS[i % 2], start + timedelta(seconds=i // 2), i, table[(i // 2) % 50])
        for i in range(n)
    ]


def ingest_rate(dsn: str, start: datetime, n: int, batch: int = 2000) -> float:
    """Readings/s of the ingestor's writer fed from memory, batches of ``batch``."""
    items = _readings(n, start)
    with Writer(dsn) as w:
        w.connect()
        t0 = time.perf_counter()
        for i in range(0, n, batch):
            w.write(items[i : i + batch])
        seconds = time.perf_counter() - t0
    with psycopg.connect(dsn, autocommit=True) as conn:
        row = conn.execute("SELECT count(*) FROM readings WHERE time >= %s", (start,)).fetchone()
        assert row == (n,), row
        conn.execute("DELETE FROM readings WHERE time >= %s", (start,))
        conn.execute("DELETE FROM rollup.invalidations")
    return n / seconds


def worker_memory(d: Dataset) -> float:
    """Peak RSS (MiB) of a fresh process running the worker's jobs on this database."""
    out = subprocess.run(
        [sys.executable, "-m", "tests.benchmarks.history_worker", d.dsn, d.end.isoformat()],
        capture_output=True,
        text=True,
        check=True,
        timeout=600,
    )
    return float(json.loads(out.stdout.strip().splitlines()[-1])["peak_rss_mib"])


def meter_ids(dsn: str) -> dict[str, int]:
    with psycopg.connect(dsn) as conn:
        rows = conn.execute("SELECT name, meter_id FROM meters").fetchall()
    return {str(n): int(i) for n, i in rows}
