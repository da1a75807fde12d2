"""Gaps in report series: missing buckets become None points, charts break their lines
there; completeness and duration texts."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from reportlab.graphics import renderPDF
from reportlab.graphics.charts.barcharts import VerticalBarChart
from reportlab.graphics.charts.lineplots import LinePlot

from analytics import i18n
from analytics.reports import charts
from analytics.reports.content import Completeness, Point
from analytics.reports.data import with_gaps

T0 = datetime(2026, 11, 10, 3, tzinfo=UTC)
Q = timedelta(minutes=15)


def pts(*offsets: int, value: float = 1.0) -> list[Point]:
    return [Point(T0 + k * Q, value) for k in offsets]


def test_with_gaps_marks_each_run_of_missing_buckets_once() -> None:
    out = with_gaps(pts(0, 1, 2, 7, 8, 10), Q)
    assert [(int((p.at - T0) / Q), p.value) for p in out] == [
        (0, 1.0), (1, 1.0), (2, 1.0), (3, None), (7, 1.0), (8, 1.0), (9, None), (10, 1.0),
    ]  # fmt: skip
    assert with_gaps(pts(0, 1, 2), Q) == pts(0, 1, 2)
    assert with_gaps([], Q) == []


def test_segments_break_at_none_and_at_missing_buckets() -> None:
    series = [*pts(0, 1, 2), Point(T0 + 3 * Q, None), *pts(4, 5)]
    runs = charts.segments(series, T0)
    assert [[x for x, _ in r] for r in runs] == [[0.0, 0.25, 0.5], [1.0, 1.25]]
    # no None marker, but four buckets missing: still two lines
    runs = charts.segments(pts(0, 1, 2, 3, 8, 9, 10), T0)
    assert [len(r) for r in runs] == [4, 3]
    # regular data: one line; jitter within 1.5 steps does not break it
    jitter = [Point(T0 + k * Q + timedelta(seconds=20 * (k % 2)), 1.0) for k in range(8)]
    assert len(charts.segments(jitter, T0)) == 1
    assert charts.segments([Point(T0, None)], T0) == []


def test_time_chart_draws_one_line_per_run_in_the_series_colour() -> None:
    series = [("m1", pts(0, 1, 2, 3)), ("m2", [*pts(0, 1), Point(T0 + 2 * Q, None), *pts(3)])]
    d = charts.time_chart(series, T0, 1.0, "pt-BR", reference=("limit", 2.0))
    plot = next(c for c in d.contents if isinstance(c, LinePlot))
    assert len(plot.data) == 4  # m1, m2 before and after the gap, the reference
    assert plot.data[1] == [(0.0, 1.0), (0.25, 1.0)] and plot.data[2] == [(0.75, 1.0)]
    assert plot.lines[1].strokeColor == plot.lines[2].strokeColor == charts.PALETTE[1]
    assert plot.lines[3].strokeColor == charts.REF_COLOR


def test_completeness_figures() -> None:
    c = Completeness("m2", 460, 180.0, 86_400.0, 3780.0, None)
    assert c.expected == 480 and c.fraction == 460 / 480 and c.has_gap
    ok = Completeness("m1", 480, 180.0, 86_400.0, 180.0, None)
    assert ok.fraction == 1.0 and not ok.has_gap
    silent = Completeness("m3", 0, None, 86_400.0, 86_400.0, None)
    assert silent.expected is None and silent.fraction is None and silent.has_gap


def test_duration_texts() -> None:
    assert i18n.duration(3780, "pt-BR") == "1 h 03 min"
    assert i18n.duration(180, "en") == "3 min"
    assert i18n.duration(1.5, "pt-BR") == "1,5 s"
    assert i18n.duration(1.0, "en") == "1 s"
    assert i18n.duration(None, "en") == "–"  # noqa: RUF001


def test_demand_bars_leave_a_day_without_data_empty() -> None:
    d = charts.demand_bars(
        ["01/11", "02/11", "03/11"],
        ponta=[90.0, None, None],
        fora=[100.0, None, 120.0],
        limit=150.0,
        contracted=140.0,
        lang="pt-BR",
    )
    bc = next(c for c in d.contents if isinstance(c, VerticalBarChart))
    assert bc.data == [[100.0, None, 120.0], [90.0, None, None]]  # no zero bar invented
    assert bc.categoryAxis.categoryNames == ["01/11", "02/11", "03/11"]  # the day keeps its slot
    assert renderPDF.drawToString(d).startswith(b"%PDF")
