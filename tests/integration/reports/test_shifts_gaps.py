# ruff: noqa: RUF001  (pt-BR typography in the expected texts)
"""The daily report with a one-hour outage of one meter: the outage is a gap in the
chart data (never a line across it), the completeness table counts the readings the
database holds, and the shift table carries the numbers of bi.energy_by_shift."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from pathlib import Path

import psycopg
import pytest
from pypdf import PdfReader

from analytics import i18n
from analytics.delivery.config import DeliveryConfig
from analytics.reports import charts, data, service
from analytics.worker.rollups import refresh
from tests.integration.reports.conftest import DAY, STEP, TZ
from tests.integration.reports.plant import SITE

pytestmark = pytest.mark.integration

GAP = (datetime(2026, 11, 10, 10, 0, tzinfo=TZ), datetime(2026, 11, 10, 11, 0, tzinfo=TZ))


@pytest.fixture
def outage_db(plant_db: str) -> str:
    """The plant history with meter m2 silent from 10:00 to 11:00 local on DAY."""
    with psycopg.connect(plant_db, autocommit=True) as conn:
        conn.execute(
            "DELETE FROM readings WHERE meter_id = (SELECT meter_id FROM meters WHERE name = 'm2')"
            " AND time >= %s AND time < %s",
            GAP,
        )
    refresh(plant_db, DAY[0] - timedelta(hours=1), DAY[1] + timedelta(hours=1))
    return plant_db


def _text(path: Path) -> str:
    return "\n".join(page.extract_text() for page in PdfReader(path).pages)


def _cells(text: str, *cells: str) -> bool:
    """A table row: these cells in order (pypdf extracts cells as lines or spaced)."""
    return re.search(r"\s+".join(re.escape(c) for c in cells), text) is not None


def test_outage_is_a_gap_in_the_chart_data(outage_db: str) -> None:
    with psycopg.connect(outage_db) as conn:
        d = data.daily(conn, SITE, DAY[0], DAY[1], "pt-BR")
    series = {s.meter: s for s in d.series}
    for quantity in ("kw", "v_l1n", "pf"):
        points = getattr(series["m2"], quantity)
        inside = [p for p in points if GAP[0] <= p.at < GAP[1]]
        assert inside and all(p.value is None for p in inside), quantity  # a break, no value
        runs = charts.segments(points, DAY[0])
        assert len(runs) == 2, quantity
        gap_h = ((GAP[0] - DAY[0]).total_seconds() / 3600, (GAP[1] - DAY[0]).total_seconds() / 3600)
        assert runs[0][-1][0] < gap_h[0] and runs[1][0][0] >= gap_h[1]
        # the site total misses m2 there: a gap, not a drop to m1's demand
        site_inside = [p for p in d.site_demand if GAP[0] <= p.at < GAP[1]]
        assert len(site_inside) == 4 and all(p.value is None for p in site_inside)
        assert len(charts.segments(d.site_demand, DAY[0])) == 2
        # m1 kept reporting: one unbroken line, no None point
        assert all(p.value is not None for p in getattr(series["m1"], quantity))
        assert len(charts.segments(getattr(series["m1"], quantity), DAY[0])) == 1
    # the site demand is not drawn from a bucket with no meter at all, and the rollups
    # hold no m2 row inside the gap (no forward fill)
    with psycopg.connect(outage_db) as conn:
        for relation, meter, time_col in (
            ("readings_1m r JOIN meters m USING (meter_id)", "m.name", "r.bucket"),
            ("readings_15m r JOIN meters m USING (meter_id)", "m.name", "r.bucket"),
            ("readings_1h r JOIN meters m USING (meter_id)", "m.name", "r.bucket"),
            ("bi.readings_1m", "meter", "time_utc"),
            ("bi.demand_15m", "meter", "time_utc"),
        ):
            row = conn.execute(
                f"SELECT count(*) FROM {relation} WHERE {meter} = 'm2'"  # our own names
                f" AND {time_col} >= %s AND {time_col} < %s",
                GAP,
            ).fetchone()
            assert row == (0,), relation
        # the site total in the gap is m1 alone, and says so
        reporting = conn.execute(
            "SELECT DISTINCT meters_reporting FROM bi.site_demand_15m"
            " WHERE time_utc >= %s AND time_utc < %s",
            GAP,
        ).fetchall()
    assert reporting == [(1,)]


def test_completeness_and_shifts_in_the_pdf(outage_db: str, config: DeliveryConfig) -> None:
    rec = service.generate(outage_db, SITE, "daily", start=DAY[0], end=DAY[1], config=config)
    text = _text(Path(rec.path))
    per_day = int(timedelta(days=1) / STEP)
    with psycopg.connect(outage_db) as conn:
        counts = dict(
            conn.execute(
                "SELECT m.name, count(*) FROM readings r JOIN meters m USING (meter_id)"
                " WHERE r.time >= %s AND r.time < %s GROUP BY 1",
                DAY,
            ).fetchall()
        )
        shifts = conn.execute(
            "SELECT shift, energy_kwh, max_demand_kw, power_factor_avg, completeness"
            " FROM bi.energy_by_shift WHERE site_total AND production_date = %s ORDER BY start_utc",
            (DAY[0].date(),),
        ).fetchall()
    assert counts["m1"] == per_day and counts["m2"] == per_day - 20
    assert "Completude dos dados por medidor" in text
    share = i18n.percent((per_day - 20) / per_day, 1, "pt-BR")
    assert _cells(text, "m2", str(per_day - 20), str(per_day), share, "3 min", "1 h 03 min (09:57)")
    assert _cells(text, "m1", str(per_day), str(per_day), "100,0 %", "3 min", "3 min")
    assert f"m2 {share} (maior lacuna 1 h 03 min desde 09:57)" in text
    # shifts A and B lie inside the day: the PDF shows the view's numbers
    assert "Energia por turno (total da unidade)" in text
    by = {r[0]: r for r in shifts}
    # shift A (06-14) lost m2 for an hour: 28 of its 32 intervals have every meter
    assert by["A"][4] == pytest.approx(28 / 32) and by["B"][4] == 1
    for name in ("A", "B"):
        _, energy, demand, pf, completeness = by[name]
        row = (
            f"10/11 {name}",
            "06:00–14:00" if name == "A" else "14:00–22:00",
            i18n.number(energy, 1, "pt-BR"),
            i18n.number(demand, 1, "pt-BR"),
            i18n.number(pf, 3, "pt-BR"),
            i18n.percent(completeness, 0, "pt-BR"),
        )
        assert _cells(text, *row), row
    # the night shifts are cut at the period's edges
    assert _cells(text, "09/11 C", "00:00–06:00")
    assert _cells(text, "10/11 C", "22:00–00:00")


def test_english_texts(outage_db: str, config: DeliveryConfig) -> None:
    cfg = config.model_copy(update={"lang": "en"})
    rec = service.generate(outage_db, SITE, "daily", start=DAY[0], end=DAY[1], config=cfg)
    text = _text(Path(rec.path))
    assert "Energy per shift (site total)" in text
    assert "Data completeness per meter" in text
    assert "(longest gap 1 h 03 min from 09:57)" in text
