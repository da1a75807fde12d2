"""Charts drawn with ReportLab's own graphics (vector, no screenshots). Pure module."""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta

from reportlab.graphics.charts.barcharts import VerticalBarChart
from reportlab.graphics.charts.legends import Legend
from reportlab.graphics.charts.lineplots import LinePlot
from reportlab.graphics.shapes import Drawing, Line, String
from reportlab.lib import colors

from analytics import i18n
from analytics.i18n import Lang
from analytics.reports.content import Point

PALETTE = (
    colors.HexColor("#1f5fa8"),
    colors.HexColor("#e07b00"),
    colors.HexColor("#2e8b57"),
    colors.HexColor("#8e44ad"),
    colors.HexColor("#c0392b"),
    colors.HexColor("#16a085"),
)
REF_COLOR = colors.HexColor("#c0392b")
WIDTH = 480
HEIGHT = 170


def segments(points: Sequence[Point], origin: datetime) -> list[list[tuple[float, float]]]:
    """The runs of a series to draw as separate lines (x in hours from ``origin``).

    A line breaks at a ``None`` value (no data) and wherever two consecutive points are
    further apart than 1.5 times the series' median spacing (missing buckets), so an
    outage shows as a gap, never as a line interpolated across it.
    """
    steps = sorted((b.at - a.at).total_seconds() for a, b in itertools.pairwise(points))
    limit = 1.5 * steps[len(steps) // 2] if steps else math.inf
    out: list[list[tuple[float, float]]] = []
    run: list[tuple[float, float]] = []
    prev: Point | None = None
    for p in points:
        broken = p.value is None or (prev is not None and (p.at - prev.at).total_seconds() > limit)
        if broken and run:
            out.append(run)
            run = []
        if p.value is not None:
            run.append(((p.at - origin).total_seconds() / 3600, p.value))
        prev = p
    if run:
        out.append(run)
    return out


def _legend(d: Drawing, names: Sequence[tuple[colors.Color, str]], x: float, y: float) -> None:
    if not names:
        return
    lg = Legend()
    lg.x, lg.y = x, y
    lg.fontName, lg.fontSize = "Helvetica", 7
    lg.alignment = "right"
    lg.columnMaximum = 1  # one item per column: a horizontal legend
    lg.deltax = 85
    lg.autoXPadding = 8
    lg.dxTextSpace = 3
    lg.dx, lg.dy = 8, 3
    lg.colorNamePairs = list(names)
    d.add(lg)


def time_chart(
    series: Sequence[tuple[str, Sequence[Point]]],
    origin: datetime,
    hours: float,
    lang: Lang,
    *,
    reference: tuple[str, float] | None = None,
    y_min: float | None = None,
    y_max: float | None = None,
    tick_hours: float = 3,
    label: Callable[[datetime], str] | None = None,
    decimals: int = 0,
) -> Drawing:
    """Lines over time (hours from ``origin``), with an optional horizontal reference."""
    d = Drawing(WIDTH, HEIGHT)
    lp = LinePlot()
    lp.x, lp.y, lp.width, lp.height = 40, 35, WIDTH - 55, HEIGHT - 50
    data: list[list[tuple[float, float]]] = []
    line_colors: list[colors.Color] = []
    names = [(PALETTE[i % len(PALETTE)], n) for i, (n, _) in enumerate(series)]
    for (color, _), (_, pts) in zip(names, series, strict=True):
        runs = segments(pts, origin) or [[(0.0, 0.0)]]
        data.extend(runs)  # one plot line per run: the series' colour, gaps between
        line_colors.extend([color] * len(runs))
    if reference is not None:
        data.append([(0.0, reference[1]), (hours, reference[1])])
        line_colors.append(REF_COLOR)
        names.append((REF_COLOR, reference[0]))
    lp.data = data
    for i in range(len(data)):
        lp.lines[i].strokeWidth = 1.0
        lp.lines[i].strokeColor = line_colors[i]
    if reference is not None:
        lp.lines[len(data) - 1].strokeDashArray = (3, 2)
    lp.xValueAxis.valueMin = 0
    lp.xValueAxis.valueMax = hours
    lp.xValueAxis.valueSteps = [k * tick_hours for k in range(int(hours / tick_hours) + 1)]
    fmt = label or i18n.hhmm
    lp.xValueAxis.labelTextFormat = lambda x: fmt(origin + timedelta(hours=x))
    lp.xValueAxis.labels.fontSize = 7
    lp.xValueAxis.labels.fontName = "Helvetica"
    lp.yValueAxis.labels.fontSize = 7
    lp.yValueAxis.labels.fontName = "Helvetica"
    lp.yValueAxis.labelTextFormat = lambda y: i18n.number(y, decimals, lang)
    if y_min is not None:
        lp.yValueAxis.valueMin = y_min
    if y_max is not None:
        lp.yValueAxis.valueMax = y_max
    lp.yValueAxis.visibleGrid = True
    lp.yValueAxis.gridStrokeColor = colors.HexColor("#dddddd")
    d.add(lp)
    _legend(d, names, 42, HEIGHT - 4)
    return d


def pf_range(series: Sequence[Sequence[Point]], reference: float) -> tuple[float, float]:
    """A power-factor axis that shows both the data and the reference: down to the
    lowest value (in steps of 0.05), up to 1."""
    low = min([reference, *(p.value for pts in series for p in pts if p.value is not None)])
    return max(0.0, math.floor((low - 0.01) * 20) / 20), 1.0


def demand_bars(
    days: Sequence[str],
    *,
    ponta: Sequence[float | None],
    fora: Sequence[float | None],
    limit: float | None,
    contracted: float | None,
    lang: Lang,
) -> Drawing:
    """Max 15-min demand per day, ponta and fora ponta bars, contracted and limit lines.
    A day without a value (``None``) gets no bar."""
    d = Drawing(WIDTH, HEIGHT + 20)
    bc = VerticalBarChart()
    bc.x, bc.y, bc.width, bc.height = 40, 35, WIDTH - 55, HEIGHT - 35
    bc.data = [list(fora), list(ponta)]  # None: no bar (no data that day), never a zero
    top = max([*(v or 0 for v in fora), *(v or 0 for v in ponta), (limit or 0), 1.0])
    top *= 1.1
    bc.valueAxis.valueMin = 0
    bc.valueAxis.valueMax = top
    bc.valueAxis.labels.fontSize = 7
    bc.valueAxis.labelTextFormat = lambda y: i18n.number(y, 0, lang)
    bc.categoryAxis.categoryNames = list(days)
    bc.categoryAxis.labels.fontSize = 6
    bc.categoryAxis.labels.angle = 45
    bc.categoryAxis.labels.boxAnchor = "ne"
    bc.bars[0].fillColor = PALETTE[0]
    bc.bars[1].fillColor = PALETTE[1]
    bc.barSpacing = 1
    bc.groupSpacing = 4
    d.add(bc)
    names = [(PALETTE[0], i18n.t("fora_ponta", lang)), (PALETTE[1], i18n.t("ponta", lang))]
    for value, color, dash, key in (
        (contracted, colors.HexColor("#555555"), None, "contracted"),
        (limit, REF_COLOR, (3, 2), "limit"),
    ):
        if value is None:
            continue
        y = bc.y + bc.height * value / top
        line = Line(bc.x, y, bc.x + bc.width, y, strokeColor=color, strokeWidth=1)
        if dash:
            line.strokeDashArray = dash
        d.add(line)
        names.append((color, i18n.t(key, lang)))
    _legend(d, names, 42, HEIGHT + 16)
    return d


def caption(text: str) -> Drawing:
    d = Drawing(WIDTH, 12)
    d.add(String(0, 2, text, fontName="Helvetica-Bold", fontSize=9))
    return d
