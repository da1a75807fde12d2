"""The statistical model through the real detect job on TimescaleDB (issue 18).

The independent generator's plant (tests/evaluation), polled every 10 s to keep it small:
a clean fortnight of history, then three days with one injected deviation only the model
can name (a weekend night load x3 on m1). The worker catches up from the first reading,
so the model warms up on the fortnight itself.
"""

from __future__ import annotations

import logging
from datetime import date, timedelta

import psycopg
import pytest
from psycopg.rows import dict_row

from analytics import config
from analytics.db import connect
from analytics.summaries.job import write_summary
from analytics.worker import store
from tests.evaluation import generator, scorer
from tests.evaluation.kinds import CATALOGUE
from tests.harness.worker import worker_context

pytestmark = pytest.mark.integration

NIGHT_LOAD = next(sc for sc in CATALOGUE if sc.what == "night_load")


def _rows(dsn: str, sql: str) -> list[dict[str, object]]:
    with psycopg.connect(dsn, row_factory=dict_row) as conn:
        return conn.execute(sql).fetchall()  # type: ignore[arg-type]


@pytest.mark.timeout(900)
def test_clean_fortnight_quiet_and_an_injected_deviation_found_by_its_quantity(
    db: str, caplog: pytest.LogCaptureFixture
) -> None:
    cfg = generator.EvalConfig(
        first_event_day=date(2026, 3, 12),
        history_days=14,
        event_days=3,
        clean_days=0,
        poll_s=10.0,
        history_poll_s=10.0,
        catalogue=(NIGHT_LOAD,),
    )  # a Thursday; no holiday in the range (the generator's plant works through them)
    data = generator.build(db, cfg)
    with caplog.at_level(logging.INFO, logger="analytics.detection.job"):
        scorer.run_detection(db, data, model=True)
    events = _rows(
        db,
        "SELECT m.name AS meter, a.kind, a.severity, a.quantity, a.started_at, a.ended_at"
        " FROM anomalies a JOIN meters m USING (meter_id) WHERE a.detector = 'model'",
    )
    hist_start, hist_end = data.periods["history"]
    assert [e for e in events if e["started_at"] < hist_end] == []  # learning fortnight quiet
    (label,) = data.labels
    (found,) = events  # the only model event of the whole run: the night load
    assert found["meter"] == "m1" and found["kind"] == "model_outlier"
    assert found["quantity"] in {"p_kw", "q_kvar"} and found["severity"] == "warning"
    assert abs(found["started_at"] - label.start) <= timedelta(minutes=2)  # type: ignore[operator]

    # the warm-up is visible: logged, recorded per fit, and in the 6-hour summary
    assert "m1: not enough history for the model on working" in caplog.text
    fits = _rows(
        db, "SELECT period_start, details FROM analytics_job_runs WHERE job = 'model_fit'"
        " ORDER BY period_start",
    )  # fmt: skip
    first, last = fits[0]["details"], fits[-1]["details"]
    assert first["meters"]["m1"]["ready"] == []  # type: ignore[index]
    assert last["meters"]["m2"]["ready"] == ["working", "weekend_holiday"]  # type: ignore[index]
    ctx = worker_context(config.load({"database_url": db}, env={}))
    start = hist_start + timedelta(days=1, hours=12)
    with connect(db) as conn, conn.transaction():
        (site,) = store.sites(conn, data.site)
        write_summary(ctx, conn, site, start, start + timedelta(hours=6))
    (summary,) = _rows(db, "SELECT text_pt, text_en, metrics FROM summaries")
    assert "Modelo estatístico: histórico ainda insuficiente em m1" in str(summary["text_pt"])
    assert "not enough history yet for m1" in str(summary["text_en"])
