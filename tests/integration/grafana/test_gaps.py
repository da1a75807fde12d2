"""A one-hour outage of every meter shows as a gap in every dashboard time series.

The history (8 days, two meters, 5 s readings around the outage, 1 min elsewhere) has
no reading from 10:00 to 11:00 local on its last-but-one day. Each time-series panel
query, expanded as Grafana would, runs as emusa_grafana over a 2 h range (raw readings),
24 h (1 min rollup) and 7 days (1 h rollup) containing the outage. Inside it a query
returns no value (no row, or a row of NULLs: nothing carried forward, nothing
interpolated); and a line that has data on both sides gets a NULL row inside the gap,
which breaks it in the panel (spanNulls off), since Grafana joins consecutive points
however far apart they are.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import psycopg
import pytest

from tests.conftest import PgServer
from tests.integration.grafana import dashboards as dash
from tests.integration.grafana.dataset import METERS, SITE, Dataset, Segment, Shape, generate
from tests.integration.grafana.macros import Context, expand
from tests.integration.grafana.runner import Result, connect, run

pytestmark = pytest.mark.integration

TZ = ZoneInfo("America/Sao_Paulo")
END = datetime(2026, 11, 25, 18, tzinfo=TZ)
GAP = (datetime(2026, 11, 24, 10, tzinfo=TZ), datetime(2026, 11, 24, 11, tzinfo=TZ))
RANGES = {
    "2h": (GAP[0] - timedelta(minutes=30), GAP[1] + timedelta(minutes=30)),
    "24h": (GAP[0] - timedelta(hours=12), GAP[0] + timedelta(hours=12)),
    "7d": (END - timedelta(days=7), END),
}
SERIES = [q for q in dash.all_queries() if q.fmt == "time_series"]


def _ts(d: datetime) -> int:
    return int(d.timestamp())


@pytest.fixture(scope="module")
def gap_data(pg_server: PgServer, template_db: str) -> Iterator[Dataset]:
    name = pg_server.create_database(template=template_db)
    a, b, end = _ts(GAP[0]), _ts(GAP[1]), _ts(END)
    shape = Shape(
        end,
        [
            Segment(end - 8 * 86_400, a - 3 * 3600, 60, 600),
            Segment(a - 3 * 3600, a, 5, 60),
            Segment(b, b + 3 * 3600, 5, 60),
            Segment(b + 3 * 3600, end, 60, 600),
        ],
    )
    try:
        yield generate(pg_server.dsn(name), shape)
    finally:
        pg_server.drop_database(name)


@pytest.fixture(scope="module")
def conn(gap_data: Dataset) -> Iterator[psycopg.Connection[tuple[Any, ...]]]:
    with connect(gap_data.dsn) as c:
        yield c


def test_the_outage_is_in_the_data(gap_data: Dataset) -> None:
    with psycopg.connect(gap_data.dsn) as c:
        row = c.execute(
            "SELECT count(*) FILTER (WHERE time >= %s AND time < %s),"
            " count(*) FILTER (WHERE time >= %s AND time < %s),"
            " count(*) FILTER (WHERE time >= %s AND time < %s)"
            " FROM readings",
            (*GAP, GAP[0] - timedelta(hours=1), GAP[0], GAP[1], GAP[1] + timedelta(hours=1)),
        ).fetchone()
    assert row is not None
    assert row[0] == 0 and row[1] == row[2] == 2 * 720  # 5 s readings of two meters


def _values(res: Result, row: tuple[Any, ...]) -> list[Any]:
    return [v for c, v in zip(res.columns, row, strict=True) if c not in ("time", "metric")]


@pytest.mark.parametrize("span", list(RANGES))
@pytest.mark.parametrize("q", SERIES, ids=[q.id for q in SERIES])
def test_gap_is_a_gap(
    conn: psycopg.Connection[tuple[Any, ...]],
    q: dash.Query,
    span: str,
) -> None:
    assert q.panel is not None
    start, stop = RANGES[span]
    ctx = Context(
        start.astimezone(UTC),
        stop.astimezone(UTC),
        {
            "site": SITE,
            "meter": METERS[0] if q.dashboard == "emusa-formas-de-onda" else list(METERS),
        },
    )
    res = run(conn, expand(q.sql, ctx))
    t = res.columns.index("time")
    m = res.columns.index("metric") if "metric" in res.columns else None
    # A point stamped at the gap's start may describe the minute that ended there (the
    # projection panel stamps a minute at its end); anything later is inside the outage.
    inside = [r for r in res.rows if GAP[0] < r[t] < GAP[1]]
    filled = [r for r in inside if any(v is not None for v in _values(res, r))]
    assert not filled, f"{q.id} ({span}) has values inside the outage: {filled[:3]}"
    if q.panel["fieldConfig"]["defaults"]["custom"].get("drawStyle") != "line":
        return  # bars are not joined
    metrics = {None if m is None else r[m] for r in res.rows}
    for metric in metrics:
        rows = [r for r in res.rows if m is None or r[m] == metric]
        before = any(r[t] < GAP[0] and any(v is not None for v in _values(res, r)) for r in rows)
        after = any(r[t] >= GAP[1] and any(v is not None for v in _values(res, r)) for r in rows)
        if before and after:
            assert any(
                GAP[0] <= r[t] < GAP[1] and all(v is None for v in _values(res, r)) for r in rows
            ), (
                f"{q.id} ({span}): the line of {metric} would be drawn across the outage"
                " (no NULL row inside it)"
            )
