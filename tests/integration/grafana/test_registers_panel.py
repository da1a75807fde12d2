"""'Registros monitorados' shows, per meter, the plant file's own names and descriptions
beside the latest values (meter_info_data: the first meter is channel 1 of the plant's
file, the second has no metadata and falls back to the quantity registry's labels)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import psycopg
import pytest

from contract.quantities import QUANTITIES
from gateway.registers import load_map
from tests.integration.grafana import dashboards as dash
from tests.integration.grafana.dataset import METERS, SITE, Dataset
from tests.integration.grafana.macros import Context, expand
from tests.integration.grafana.meter_info_data import IDENTIFIER, PLANT_FILE, PORT
from tests.integration.grafana.runner import Result, connect, run
from tests.integration.grafana.test_dashboard_queries import _latest

pytestmark = pytest.mark.integration

TITLE = "Registros monitorados (últimas leituras)"


@pytest.fixture(scope="module")
def conn(dashboard_data: Dataset) -> Iterator[psycopg.Connection[tuple[Any, ...]]]:
    with connect(dashboard_data.dsn) as c:
        yield c


def panel(conn: psycopg.Connection[tuple[Any, ...]], data: Dataset, span: timedelta) -> Result:
    (q,) = [
        q
        for q in dash.all_queries()
        if q.dashboard == "emusa-ia-diagnostico" and q.panel and q.panel["title"] == TITLE
    ]
    ctx = Context(data.newest - span, data.newest, {"site": SITE, "meter": list(METERS)})
    return run(conn, expand(q.sql, ctx))


def rows_of(res: Result, meter: str) -> list[dict[str, Any]]:
    return [dict(zip(res.columns, r, strict=True)) for r in res.rows if r[0] == meter]


def test_the_plant_channel_shows_its_file_names_descriptions_and_exact_latest_values(
    conn: psycopg.Connection[tuple[Any, ...]], dashboard_data: Dataset
) -> None:
    res = panel(conn, dashboard_data, timedelta(hours=24))
    measurements = json.loads(PLANT_FILE.read_text(encoding="utf-8"))["measurements"]
    names = load_map(PLANT_FILE).names  # the canonical quantity of each measurement
    newest = _latest(dashboard_data.dsn, METERS[0])
    got = rows_of(res, METERS[0])
    assert [(r["Registro"], r["Descrição"], r["IA"]) for r in got] == [
        (m["name"], m["description"], m["ai"]) for m in measurements
    ]  # the file's own words, in its order ("Tensão fase-neutro L1", ...)
    # the unit of the stored value: the quantity's (the file's "pu" power factor is unitless)
    assert [r["Unidade"] for r in got] == [QUANTITIES[q].unit for q in names]
    assert got[0]["Descrição"] == "Tensão fase-neutro L1"
    for row, quantity in zip(got, names, strict=True):
        assert row["Valor"] == newest[quantity], quantity  # exact, not rounded
        assert row["Horário"] == newest["time"] == dashboard_data.newest
    assert {(r["Identificador"], r["Porta"]) for r in got} == {(IDENTIFIER, PORT)}
    assert any(r["Valor"] is not None for r in got)


def test_a_meter_without_metadata_shows_the_quantity_labels(
    conn: psycopg.Connection[tuple[Any, ...]], dashboard_data: Dataset
) -> None:
    res = panel(conn, dashboard_data, timedelta(hours=1))
    newest = _latest(dashboard_data.dsn, METERS[1])
    present = [q for q in QUANTITIES if newest[q] is not None]
    got = rows_of(res, METERS[1])
    assert len(present) > 10
    assert [(r["Registro"], r["Descrição"], r["Unidade"]) for r in got] == [
        (q, QUANTITIES[q].label_pt, QUANTITIES[q].unit) for q in present
    ]
    assert [r["Valor"] for r in got] == [newest[q] for q in present]
    assert {(r["Identificador"], r["Porta"], r["IA"]) for r in got} == {(None, None, None)}


def test_a_silent_meter_keeps_its_registers_without_values(
    conn: psycopg.Connection[tuple[Any, ...]], dashboard_data: Dataset
) -> None:
    """Past the live window (5 min) there is no latest value: the plant channel still lists
    its registers (empty values), the meter without metadata has nothing to list."""
    ctx_end = dashboard_data.start - timedelta(days=1)  # before any reading
    (q,) = [q for q in dash.all_queries() if q.panel and q.panel["title"] == TITLE]
    res = run(conn, expand(q.sql, Context(ctx_end - timedelta(hours=1), ctx_end,
                                          {"site": SITE, "meter": list(METERS)})))  # fmt: skip
    assert {r[0] for r in res.rows} == {METERS[0]}
    assert len(res.rows) == len(load_map(PLANT_FILE).names)
    assert set(res.column("Valor")) == {None} and set(res.column("Horário")) == {None}


def test_the_panel_shows_the_ia_flag_in_words() -> None:
    (q,) = [q for q in dash.all_queries() if q.panel and q.panel["title"] == TITLE]
    assert q.panel is not None
    (ia,) = [o for o in q.panel["fieldConfig"]["overrides"] if o["matcher"]["options"] == "IA"]
    mapping = ia["properties"][0]["value"][0]["options"]
    assert (mapping["true"]["text"], mapping["false"]["text"]) == ("sim", "não")
