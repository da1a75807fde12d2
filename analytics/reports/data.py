"""Read what a report shows from the database (named queries in ``queries.sql``)."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime, timedelta
from typing import Any, LiteralString

import psycopg
from psycopg import sql

from analytics.errors import AnalyticsError, DatabaseError
from analytics.i18n import Lang
from analytics.reports.content import (
    Anomaly,
    Completeness,
    DailyData,
    DayDemand,
    FortnightData,
    HourEnergy,
    MeterKpis,
    MeterSeries,
    PeriodSplit,
    Point,
    ShiftFigures,
    Site,
    Stat,
    Window,
)
from contract import sqlfiles

Conn = psycopg.Connection[tuple[Any, ...]]


class UnknownSiteError(AnalyticsError):
    """The site named in a command or configuration is not in the database."""


def queries() -> dict[str, LiteralString]:
    """The named queries of ``queries.sql`` (our own file, never values)."""
    return sqlfiles.beside(__file__)


def _rows(conn: Conn, name: str, **params: Any) -> list[tuple[Any, ...]]:
    try:
        query = sql.SQL(queries()[name])  # our own file, never a value
        return conn.execute(query, params).fetchall()
    except psycopg.Error as exc:
        raise DatabaseError(f"report query {name} failed: {exc}") from exc


def _f(v: Any) -> float | None:
    return None if v is None else float(v)


def site(conn: Conn, site_id: str) -> Site:
    rows = _rows(conn, "site", site=site_id)
    if not rows:
        raise UnknownSiteError(f"unknown site {site_id!r}")
    r = rows[0]
    return Site(r[0], r[1], r[2], r[3], _f(r[4]), _f(r[5]), float(r[6]), float(r[7]))


def sites(conn: Conn) -> list[str]:
    return [str(r[0]) for r in _rows(conn, "sites")]


def first_data(conn: Conn, site_id: str) -> datetime | None:
    rows = _rows(conn, "first_data", site=site_id)
    return rows[0][0] if rows and rows[0][0] is not None else None


def with_gaps(points: list[Point], step: timedelta) -> list[Point]:
    """``points`` (sorted buckets of ``step``) with a ``None`` point in each run of
    missing buckets, so a chart breaks its line there instead of joining across it."""
    out: list[Point] = []
    for p in points:
        if out and p.at - out[-1].at > step:
            out.append(Point(out[-1].at + step, None))
        out.append(p)
    return out


def _series(conn: Conn, s: Site, start: datetime, end: datetime) -> list[MeterSeries]:
    short = end - start <= timedelta(days=3)
    name = "series_15m" if short else "series_1h"
    step = timedelta(minutes=15) if short else timedelta(hours=1)
    by: dict[str, list[tuple[Any, ...]]] = defaultdict(list)
    for r in _rows(conn, name, site=s.site_id, start=start, end=end):
        by[r[0]].append(r)
    tz = s.tz
    out = []
    for meter, rows in by.items():

        def pts(i: int, rows: list[tuple[Any, ...]] = rows) -> list[Point]:
            return with_gaps([Point(r[1].astimezone(tz), _f(r[i])) for r in rows], step)

        out.append(MeterSeries(meter, pts(2), pts(3), pts(4), pts(5), pts(6)))
    return out


def daily(conn: Conn, site_id: str, start: datetime, end: datetime, lang: Lang) -> DailyData:
    """Everything the 24-hour report shows for [start, end)."""
    s = site(conn, site_id)
    tz = s.tz
    p = {"site": site_id, "start": start, "end": end}
    splits = [
        PeriodSplit(r[0], r[1], _f(r[2]), _f(r[3])) for r in _rows(conn, "meter_splits", **p)
    ] + [PeriodSplit(None, r[0], _f(r[1]), _f(r[2])) for r in _rows(conn, "site_splits", **p)]
    energy: dict[str, float] = defaultdict(float)
    has_energy: set[str] = set()
    for sp in splits:
        if sp.meter is not None and sp.energy_kwh is not None:
            energy[sp.meter] += sp.energy_kwh
            has_energy.add(sp.meter)
    meters = [
        MeterKpis(
            r[0],
            int(r[1]),
            Stat(_f(r[2]), _f(r[3]), _f(r[4])),
            Stat(_f(r[5]), _f(r[6]), _f(r[7])),
            Stat(_f(r[8]), _f(r[9]), _f(r[10])),
            Stat(_f(r[11]), _f(r[12]), _f(r[13])),
            energy[r[0]] if r[0] in has_energy else None,
        )
        for r in _rows(conn, "meter_kpis", **p)
    ]
    anomalies = [
        Anomaly(
            r[0].astimezone(tz),
            r[1].astimezone(tz) if r[1] else None,
            r[2],
            r[3],
            r[4],
            r[5] if lang == "pt-BR" else r[6],
        )
        for r in _rows(conn, "anomalies", **p)
    ]
    windows = [
        Window(
            r[0].astimezone(tz),
            (r[0] + timedelta(hours=1)).astimezone(tz),
            float(r[1]),
            float(r[2] or 0.0),
            str(r[3]),
        )
        for r in _rows(conn, "top_hours", **p)
    ]
    summaries = [r[0] if lang == "pt-BR" else r[1] for r in _rows(conn, "summaries", **p)]
    demand = with_gaps(
        [
            Point(r[0].astimezone(tz), _f(r[1]) if r[2] >= r[3] else None)
            for r in _rows(conn, "site_demand", **p)
        ],
        timedelta(minutes=15),
    )
    shifts = [
        ShiftFigures(
            r[0],
            str(r[1]),
            r[2].astimezone(tz),
            r[3].astimezone(tz),
            _f(r[4]),
            _f(r[5]),
            _f(r[6]),
            int(r[7]),
            int(r[8]),
        )
        for r in _rows(conn, "shifts", **p)
    ]
    completeness = [
        Completeness(
            str(r[0]),
            int(r[1]),
            _f(r[2]),
            (end - start).total_seconds(),
            _f(r[3]),
            r[4].astimezone(tz) if r[4] is not None else None,
        )
        for r in _rows(conn, "completeness", **p)
    ]
    return DailyData(
        s,
        start.astimezone(tz),
        end.astimezone(tz),
        meters,
        splits,
        _series(conn, s, start, end),
        anomalies,
        windows,
        summaries,
        demand,
        shifts,
        completeness,
    )


def fortnight(conn: Conn, site_id: str, start: datetime, end: datetime) -> FortnightData:
    """Everything the fortnightly analysis needs for [start, end)."""
    s = site(conn, site_id)
    tz = s.tz
    p = {"site": site_id, "start": start, "end": end}
    rows = _rows(conn, "demand_days", **p)
    days = [
        DayDemand(r[0], _f(r[1]), _f(r[2]), _f(r[3]), _f(r[4]), _f(r[5]), int(r[6]), _f(r[7]))
        for r in rows
    ]

    def peak(values: list[float | None]) -> float | None:
        present = [v for v in values if v is not None]
        return max(present) if present else None

    ponta = peak([d.max_ponta_kw for d in days])
    fora = peak([d.max_fora_kw for d in days])
    hours = [
        HourEnergy(r[0].astimezone(tz), _f(r[1]), _f(r[2]), _f(r[3]), _f(r[4]), _f(r[5]))
        for r in _rows(conn, "hours", **p)
    ]
    counts = {str(r[0]): int(r[1]) for r in _rows(conn, "anomaly_counts", **p)}
    return FortnightData(
        s,
        start.astimezone(tz),
        end.astimezone(tz),
        days,
        hours,
        peak([ponta, fora]),
        ponta,
        fora,
        sum(int(r[8]) for r in rows),
        counts,
    )
