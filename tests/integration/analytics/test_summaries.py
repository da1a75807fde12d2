"""Six-hourly summaries on real TimescaleDB: first complete window only, catch-up after
a 13-hour outage (injected clock), two racing workers, the LLM path and its failures."""

from __future__ import annotations

import threading
from datetime import datetime, timedelta
from typing import Any

import psycopg
import pytest
from psycopg.rows import dict_row

from analytics import config
from analytics.detection.job import detect
from analytics.summaries.job import summarize
from analytics.worker.context import Context
from analytics.worker.registry import scheduled
from analytics.worker.scheduler import Scheduler
from tests.harness.worker import worker_context
from tests.integration.analytics import history
from tests.unit.analytics.fake_llm import fake_llm
from tests.unit.analytics.simframes import ts

pytestmark = pytest.mark.integration

FIRST = ts("2026-11-23 03:17")  # data starts mid-window: no summary for 00-06


@pytest.fixture
def plant(db: str) -> str:
    ids = history.add_site(db, "plant")
    end = ts("2026-11-24 03:00")
    history.write(db, ids["m1"], 1, FIRST, end, step=60)
    history.refresh(db, FIRST, end)
    return db


def _ctx(db: str, **flags: Any) -> Context:
    return worker_context(
        config.load({"database_url": db, "model_enabled": False, **flags}, env={})
    )


def _summaries(db: str) -> list[dict[str, Any]]:
    with psycopg.connect(db, row_factory=dict_row) as conn:
        return conn.execute("SELECT * FROM summaries ORDER BY period_start").fetchall()


def _count(db: str, query: str) -> int:
    with psycopg.connect(db) as conn:
        row = conn.execute(query).fetchone()
    assert row is not None
    return int(row[0])


def test_catch_up_after_13_hour_outage_writes_each_missing_summary_once(plant: str) -> None:
    clock = {"now": ts("2026-11-23 12:20")}

    def make() -> Scheduler:  # a fresh worker: nothing in memory, state in the database
        ctx = _ctx(plant)
        return Scheduler(scheduled(ctx), clock=lambda: clock["now"])

    first = make().run_pending()
    assert first["summarize"] == [("plant", ts("2026-11-23 06:00"))]
    assert [s["period_start"] for s in _summaries(plant)] == [ts("2026-11-23 06:00")]

    clock["now"] = ts("2026-11-24 01:20")  # the worker was down for 13 hours
    worker = make()
    assert worker.run_pending()["summarize"] == [
        ("plant", ts("2026-11-23 12:00")),
        ("plant", ts("2026-11-23 18:00")),
    ]
    assert worker.run_pending(clock["now"] + timedelta(minutes=1))["summarize"] == []
    assert make().run_pending()["summarize"] == []

    rows = _summaries(plant)
    assert [(s["period_start"], s["period_end"]) for s in rows] == [
        (ts("2026-11-23 06:00"), ts("2026-11-23 12:00")),
        (ts("2026-11-23 12:00"), ts("2026-11-23 18:00")),
        (ts("2026-11-23 18:00"), ts("2026-11-24 00:00")),
    ]
    assert all(s["source"] == "deterministic" for s in rows)
    first_text = rows[0]["text_pt"]
    assert first_text.startswith("Resumo de 6 h - plant, 23/11/2026 06h00-12h00.")
    assert "kWh" in first_text and "frente às 6 h anteriores" not in first_text  # 00-06 partial
    assert "frente às 6 h anteriores" in rows[1]["text_pt"]
    assert rows[0]["metrics"]["energy_kwh"] > 0 and rows[0]["metrics"]["peak_demand_kw"] > 0
    assert _count(plant, "SELECT count(*) FROM analytics_job_runs WHERE job = 'summary_6h'") == 3
    assert _count(plant, "SELECT count(*) FROM analytics_outbox WHERE channel = 'summaries'") == 3


def test_no_summary_before_detection_covered_the_window(plant: str) -> None:
    assert summarize(_ctx(plant), ts("2026-11-23 12:20")) == []
    detect(_ctx(plant), ts("2026-11-23 12:20"))
    assert len(summarize(_ctx(plant), ts("2026-11-23 12:20"))) == 1


def test_two_racing_workers_write_each_summary_once(plant: str) -> None:
    now = ts("2026-11-24 01:20")
    detect(_ctx(plant), now)
    barrier = threading.Barrier(2, timeout=30)
    results: list[list[tuple[str, datetime]]] = []
    errors: list[BaseException] = []

    def worker() -> None:
        try:
            ctx = _ctx(plant)
            barrier.wait()
            results.append(summarize(ctx, now))
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors and len(results) == 2
    done = sorted(results[0] + results[1])
    assert len(done) == 3 and len(set(done)) == 3  # each window by exactly one worker
    assert len(_summaries(plant)) == 3
    assert _count(plant, "SELECT count(*) FROM analytics_outbox WHERE channel = 'summaries'") == 3


def test_llm_rewrite_is_stored_as_llm(plant: str) -> None:
    now = ts("2026-11-23 12:20")
    with fake_llm("echo") as server:
        ctx = _ctx(plant, llm_url=server.url, llm_model="tiny")
        detect(ctx, now)
        assert len(summarize(ctx, now)) == 1
    (row,) = _summaries(plant)
    assert row["source"] == "llm"
    assert row["text_pt"].startswith("Reescrito. Resumo de 6 h")
    assert row["text_en"].startswith("Reescrito. 6-hour summary")
    assert len(server.requests) == 2


@pytest.mark.parametrize("mode", ["error", "slow", "garbage", "drop"])
def test_llm_failure_falls_back_to_the_deterministic_text(plant: str, mode: str) -> None:
    now = ts("2026-11-23 12:20")
    with fake_llm(mode) as server:
        server.delay = 1.5
        ctx = _ctx(plant, llm_url=server.url, llm_model="tiny", llm_timeout=0.3)
        detect(ctx, now)
        assert len(summarize(ctx, now)) == 1
    (row,) = _summaries(plant)
    assert row["source"] == "deterministic"
    assert row["text_pt"].startswith("Resumo de 6 h - plant")
