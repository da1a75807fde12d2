"""One meter's outage is a gap in the site total, not a drop.

Two meters report every 10 s for three days; kron2 is silent from 14:00 to 15:00 local
on the last day but one. The "Potência ativa (kW)" panel of the overview, expanded as
Grafana would and run as emusa_grafana over 2 h (raw), 24 h (1-min rollup) and 7 days
(1-h rollup): its "Total do site" series has no value inside the outage (the sum of the
one meter left would read as a drop in the plant's load), while kron1's own line goes on.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import psycopg
import pytest

from analytics.worker import rollups
from tests.conftest import PgServer
from tests.integration.grafana import dashboards as dash
from tests.integration.grafana.dataset import METERS, SITE, Dataset, Segment, Shape, generate
from tests.integration.grafana.macros import Context, expand
from tests.integration.grafana.runner import connect, run

pytestmark = pytest.mark.integration

TZ = ZoneInfo("America/Sao_Paulo")
END = datetime(2026, 11, 25, 18, tzinfo=TZ)
OUT = (datetime(2026, 11, 24, 14, tzinfo=TZ), datetime(2026, 11, 24, 15, tzinfo=TZ))
RANGES = {
    "2h": (OUT[0] - timedelta(minutes=30), OUT[1] + timedelta(minutes=30)),
    "24h": (OUT[0] - timedelta(hours=12), OUT[0] + timedelta(hours=12)),
    "7d": (END - timedelta(days=7), END),
}
(TOTAL,) = [q for q in dash.all_queries() if "Total do site" in q.sql and q.fmt == "time_series"]
(PER_METER,) = [  # the same panel's per-meter lines (target A)
    q for q in dash.all_queries()
    if q.dashboard == TOTAL.dashboard and q.where == TOTAL.where.replace("/ B", "/ A")
]  # fmt: skip


@pytest.fixture(scope="module")
def data(pg_server: PgServer, template_db: str) -> Iterator[Dataset]:
    name = pg_server.create_database(template=template_db)
    end = int(END.timestamp())
    try:
        made = generate(pg_server.dsn(name), Shape(end, [Segment(end - 3 * 86_400, end, 10, 600)]))
        with psycopg.connect(made.dsn) as conn:
            gone = conn.execute(
                "DELETE FROM readings r USING meters m WHERE m.meter_id = r.meter_id"
                " AND m.name = %s AND r.time >= %s AND r.time < %s",
                (METERS[1], *OUT),
            ).rowcount
        assert gone == 360  # an hour of 10 s readings
        rollups.refresh(made.dsn, OUT[0] - timedelta(hours=1), OUT[1] + timedelta(hours=1))
        yield made
    finally:
        pg_server.drop_database(name)


@pytest.fixture(scope="module")
def conn(data: Dataset) -> Iterator[psycopg.Connection[tuple[Any, ...]]]:
    with connect(data.dsn) as c:
        yield c


@pytest.mark.parametrize("span", list(RANGES))
def test_one_meter_out_is_a_gap_in_the_site_total(
    conn: psycopg.Connection[tuple[Any, ...]], span: str
) -> None:
    start, stop = RANGES[span]
    ctx = Context(
        start.astimezone(UTC), stop.astimezone(UTC), {"site": SITE, "meter": list(METERS)}
    )
    assert ctx.interval_ms >= 5000, "the ranges of this test use buckets of 5 s or more"
    res = run(conn, expand(TOTAL.sql, ctx))
    lines = run(conn, expand(PER_METER.sql, ctx))
    t, m, kw = (res.columns.index(c) for c in ("time", "metric", "kW"))
    assert lines.columns == res.columns

    def values(metric: str, inside: bool) -> list[float]:
        return [
            r[kw] for r in res.rows + lines.rows
            if r[m] == metric and r[kw] is not None and (OUT[0] <= r[t] < OUT[1]) == inside
        ]  # fmt: skip

    assert values("Total do site", inside=False), "the total is drawn outside the outage"
    assert not values("Total do site", inside=True), (
        f"{span}: the site total has values while kron2 was silent: {values('Total do site', True)[:3]}"
    )
    assert values(METERS[0], inside=True), f"{span}: kron1's own line must go on"
    total_rows = [r for r in res.rows if r[m] == "Total do site"]
    assert any(OUT[0] <= r[t] < OUT[1] and r[kw] is None for r in total_rows), (
        f"{span}: no NULL row breaks the total's line at the outage"
    )
