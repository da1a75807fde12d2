"""Database access of the analytics worker: rollups in, events and summaries out.

Named queries live in ``queries.sql`` (loaded once); longer ones in ``sql/<name>.sql``. Driver errors become
:class:`DatabaseError` with the cause chained.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from functools import cache
from pathlib import Path
from typing import Any, LiteralString, cast

import pandas as pd  # type: ignore[import-untyped]
import psycopg
from psycopg.rows import dict_row, tuple_row
from psycopg.types.json import Jsonb

from analytics.errors import DatabaseError
from analytics.events import StoredEvent
from analytics.rules import MeterInfo, SiteInfo
from contract import format_ts, sqlfiles

Conn = psycopg.Connection[dict[str, Any]]


def queries() -> dict[str, LiteralString]:
    return sqlfiles.beside(__file__)


def q(name: str) -> LiteralString:
    # the text of our own queries.sql, never a value
    text: LiteralString = queries()[name]
    return text


@cache
def sql_file(name: str) -> LiteralString:
    """A query of its own file, ``analytics/sql/<name>.sql`` (our file, never a value)."""
    text: LiteralString = (Path(__file__).parent / "sql" / f"{name}.sql").read_text("utf-8")
    return text


@contextmanager
def connect(conninfo: str) -> Iterator[Conn]:
    """An autocommit connection with dict rows (``conn.transaction()`` opens real
    transactions); psycopg errors become DatabaseError."""
    try:
        with psycopg.connect(
            conninfo, row_factory=dict_row, connect_timeout=10, autocommit=True
        ) as conn:
            yield conn
    except psycopg.Error as exc:
        raise DatabaseError(f"database: {exc}") from exc


def sites(conn: Conn, only: str | None = None) -> list[SiteInfo]:
    rows = conn.execute(q("sites")).fetchall()
    return [
        SiteInfo(r["site_id"], r["timezone"], float(r["pf_reference"]))
        for r in rows
        if only is None or r["site_id"] == only
    ]


def meters(conn: Conn, site: str) -> dict[int, MeterInfo]:
    rows = conn.execute(q("meters"), {"site": site}).fetchall()
    return {
        int(r["meter_id"]): MeterInfo(
            int(r["meter_id"]),
            r["name"],
            float(r["nominal_voltage_ln"]),
            float(r["nominal_voltage_ll"]),
        )
        for r in rows
    }


def frame(conn: Conn, name: str, params: dict[str, Any]) -> pd.DataFrame:
    """Rows of a named query as a DataFrame (timestamps as UTC, numbers as float)."""
    with conn.cursor(row_factory=tuple_row) as cur:
        cur.execute(q(name), params)
        cols = [d.name for d in cur.description or []]
        df = pd.DataFrame.from_records(cur.fetchall(), columns=cols)
    for col in ("bucket", "time"):
        if col in df:
            df[col] = pd.to_datetime(df[col], utc=True)
    for col in cols:
        if col.endswith(("_avg", "_min", "_max", "_kw", "_kwh")) or col.startswith("v_l"):
            df[col] = pd.to_numeric(df[col], errors="coerce").astype(float)
    return df


def raw_voltage(conn: Conn, windows: list[tuple[int, datetime, datetime]]) -> pd.DataFrame:
    """Raw phase voltages of (meter_id, start, end) windows (analytics.extremes)."""
    params = {
        "meters": [w[0] for w in windows], "starts": [w[1] for w in windows],
        "ends": [w[2] for w in windows],
    }  # fmt: skip
    return frame(conn, "raw_voltage", params)


def last_before(conn: Conn, site: str, start: datetime) -> dict[int, datetime]:
    rows = conn.execute(q("last_before"), {"site": site, "start": start}).fetchall()
    return {int(r["meter_id"]): r["last_bucket"] for r in rows if r["last_bucket"] is not None}


def first_data(conn: Conn, site: str) -> datetime | None:
    row = conn.execute(q("first_data"), {"site": site}).fetchone()
    return None if row is None else cast("datetime | None", next(iter(row.values())))


def open_events(conn: Conn, site: str, since: datetime) -> list[StoredEvent]:
    rows = conn.execute(q("open_events"), {"site": site, "since": since}).fetchall()
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


def watermark(conn: Conn, job: str, site: str) -> datetime | None:
    row = conn.execute(q("watermark"), {"job": job, "site": site}).fetchone()
    return None if row is None else cast("datetime", row["watermark"])


def set_watermark(conn: Conn, job: str, site: str, value: datetime) -> None:
    conn.execute(q("set_watermark"), {"job": job, "site": site, "watermark": value})


def try_lock(conn: Conn, job: str, site: str) -> bool:
    row = conn.execute(q("try_lock"), {"job": job, "site": site}).fetchone()
    return bool(row and next(iter(row.values())))


def period_done(conn: Conn, job: str, site: str, start: datetime) -> bool:
    return (
        conn.execute(q("period_done"), {"job": job, "site": site, "start": start}).fetchone()
        is not None
    )


def claim_period(
    conn: Conn, job: str, site: str, *, start: datetime, end: datetime, worker: str
) -> bool:
    params = {"job": job, "site": site, "start": start, "end": end, "worker": worker}
    return conn.execute(q("claim_period"), params).fetchone() is not None


def finish_period(
    conn: Conn, job: str, site: str, start: datetime, details: dict[str, Any]
) -> None:
    params = {"job": job, "site": site, "start": start, "details": Jsonb(details)}
    conn.execute(q("finish_period"), params)


def execute(conn: Conn, name: str, params: dict[str, Any]) -> list[dict[str, Any]]:
    """Run a named query; returns its rows (empty when it returns none)."""
    cur = conn.execute(
        q(name), {k: Jsonb(v) if isinstance(v, dict) else v for k, v in params.items()}
    )
    return cur.fetchall() if cur.description else []


def _json(value: object) -> str:
    """Instants as in the MQTT contract (RFC 3339 UTC, milliseconds, Z)."""
    if isinstance(value, datetime):
        return format_ts(value)
    return str(value)


def outbox_add(
    conn: Conn, site: str, channel: str, event: str, payload: dict[str, Any],
    *, anomaly_id: int | None = None, summary_id: int | None = None,
) -> None:  # fmt: skip
    conn.execute(
        q("outbox_add"),
        {
            "site": site, "channel": channel, "event": event, "anomaly_id": anomaly_id,
            "summary_id": summary_id, "payload": Jsonb(json.loads(json.dumps(payload, default=_json))),
        },
    )  # fmt: skip
