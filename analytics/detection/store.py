"""What detection reads and writes: the rollup rows and raw voltages the rules, the
statistical model and the cross-check judge, the site's day calendar, and the events
(``anomalies``). Named queries in ``detection/queries.sql``.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, LiteralString

import pandas as pd  # type: ignore[import-untyped]

from analytics import db
from analytics.db import Conn
from analytics.detection.events import StoredEvent
from contract import sqlfiles


def _q(name: str) -> LiteralString:
    """A query of ``detection/queries.sql`` (our own file, never a value)."""
    return sqlfiles.beside(__file__)[name]


def frame(conn: Conn, name: str, params: dict[str, Any]) -> pd.DataFrame:
    """Rows of a named rollup query (``minute_rows``, ``minute_rows_extremes``,
    ``hourly_rows``, ``demand_rows``) over ``site``, [``start``, ``end``)."""
    return db.frame(conn, _q(name), params)


def raw_voltage(conn: Conn, windows: list[tuple[int, datetime, datetime]]) -> pd.DataFrame:
    """Raw phase voltages of (meter_id, start, end) windows (detection.extremes)."""
    params = {
        "meters": [w[0] for w in windows], "starts": [w[1] for w in windows],
        "ends": [w[2] for w in windows],
        # the windows' span as plain values: the planner then reads only its chunks
        "lo": min((w[1] for w in windows), default=None),
        "hi": max((w[2] for w in windows), default=None),
    }  # fmt: skip
    return frame(conn, "raw_voltage", params)


def last_before(conn: Conn, site: str, start: datetime) -> dict[int, datetime]:
    rows = conn.execute(_q("last_before"), {"site": site, "start": start}).fetchall()
    return {int(r["meter_id"]): r["last_bucket"] for r in rows if r["last_bucket"] is not None}


def off_days(conn: Conn, site: str, start: datetime, end: datetime) -> list[date]:
    """National and site holidays between ``start`` and ``end`` (the model's day groups)."""
    params = {"site": site, "y0": start.year - 1, "y1": end.year + 1}
    return [r["day"] for r in db.execute(conn, _q("off_days"), params)]


def training_events(
    conn: Conn, site: str, start: datetime, end: datetime
) -> list[tuple[int, datetime, datetime]]:
    """(meter_id, start, end) of the rule events whose minutes the model leaves out."""
    params = {"site": site, "start": start, "end": end}
    return [
        (int(r["meter_id"]), r["started_at"], r["ended_at"])
        for r in db.execute(conn, _q("training_events"), params)
    ]


def open_events(conn: Conn, site: str, since: datetime) -> list[StoredEvent]:
    rows = conn.execute(_q("open_events"), {"site": site, "since": since}).fetchall()
    return [
        StoredEvent(
            int(r["anomaly_id"]),
            r["site_id"],
            r["meter_id"],
            r["kind"],
            r["severity"],
            r["started_at"],
            r["ended_at"],
            r["last_seen"],
            r["measured"],
            float(r["badness"]),
        )
        for r in rows
    ]


def insert_event(conn: Conn, params: dict[str, Any]) -> dict[str, Any]:
    """Open an event (or update the one with its key); its ``anomaly_id``, ``inserted``."""
    return db.execute(conn, _q("insert_event"), params)[0]


def update_event(conn: Conn, params: dict[str, Any]) -> None:
    db.execute(conn, _q("update_event"), params)


def event_row(conn: Conn, anomaly_id: int) -> dict[str, Any]:
    """An event with its meter's name, as the alert payload reads it."""
    return db.execute(conn, _q("event_payload"), {"anomaly_id": anomaly_id})[0]
