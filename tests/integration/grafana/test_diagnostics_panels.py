"""The 'Diagnóstico Modbus' dashboard shows what the stored diagnostics say (diagnostics_data)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

import psycopg
import pytest

from tests.integration.grafana import dashboards as dash
from tests.integration.grafana.dataset import METERS, SITE, Dataset
from tests.integration.grafana.diagnostics_data import silent_window
from tests.integration.grafana.macros import Context, expand
from tests.integration.grafana.runner import Result, connect, run

pytestmark = pytest.mark.integration

UID = "emusa-diagnostico-modbus"


@pytest.fixture(scope="module")
def conn(dashboard_data: Dataset) -> Iterator[psycopg.Connection[tuple[Any, ...]]]:
    with connect(dashboard_data.dsn) as c:
        yield c


def panel(
    conn: psycopg.Connection[tuple[Any, ...]], title: str, start: datetime, end: datetime
) -> Result:
    (q,) = [
        q
        for q in dash.all_queries()
        if q.dashboard == UID and q.panel and q.panel["title"] == title
    ]
    return run(conn, expand(q.sql, Context(start, end, {"site": SITE, "meter": list(METERS)})))


def test_a_silent_meter_shows_unreachable_and_the_time_since_its_last_good_read(
    conn: psycopg.Connection[tuple[Any, ...]], dashboard_data: Dataset
) -> None:
    silent_from, silent_to = silent_window(dashboard_data)
    end = silent_from + timedelta(minutes=30)
    start = end - timedelta(hours=1)
    status = panel(conn, "Status", start, end)
    assert dict(status.rows) == {"kron1": "online", "kron2": "unreachable"}
    since = dict(panel(conn, "Tempo desde a última leitura boa", start, end).rows)
    assert since["kron2"] == pytest.approx(30 * 60, abs=1)
    assert since["kron1"] == pytest.approx(0.5, abs=0.1)
    p95 = dict(panel(conn, "Latência p95 (último período)", start, end).rows)
    assert p95 == {"kron1": 28.0, "kron2": None}, "no latency without an answer"
    after = dict(panel(conn, "Status", silent_to, silent_to + timedelta(minutes=10)).rows)
    assert after["kron2"] == "online", "it recovered"


def test_failure_rates_and_latency_history(
    conn: psycopg.Connection[tuple[Any, ...]], dashboard_data: Dataset
) -> None:
    _silent_from, silent_to = silent_window(dashboard_data)
    # the first whole clock hour at least 5 minutes after the silence: it holds each flaky
    # minute (:07, :08, :09) exactly once, whatever minute the data set ends at
    start = (silent_to + timedelta(minutes=64)).replace(minute=0, second=0, microsecond=0)
    end = start + timedelta(hours=1)
    rates = panel(conn, "Falhas Modbus por minuto", start, end)
    per_meter: dict[str, list[tuple[float, float, float]]] = {}
    for _t, meter, timeouts, crc, exc in rates.rows:
        per_meter.setdefault(meter, []).append((timeouts, crc, exc))
    # one minute in each hour has 3 timeouts, another 2 CRC errors, another an exception
    assert [sum(col) for col in zip(*per_meter["kron2"], strict=True)] == [3.0, 2.0, 1.0]
    assert all(v == 0 for row in per_meter["kron1"] for v in row)
    latency = panel(conn, "Latência por medidor (p95, ms)", start, end)
    assert {(m, v) for _t, m, v in latency.rows} == {("kron1", 28.0), ("kron2", 31.0)}
    buses = panel(conn, "Barramentos: último período", start, end)
    assert len(buses.rows) == 1
    row = dict(zip(buses.columns, buses.rows[0], strict=True))
    assert (row["Barramento"], row["Medidores"], row["Online"]) == ("rs485a", 2, 2)
