"""What the worker reads and keeps in the database: the sites and meters it works over,
and each job's state (watermarks, advisory locks, claimed periods).

Named queries in ``worker/queries.sql``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, LiteralString, cast

from psycopg.types.json import Jsonb

from analytics.db import Conn
from analytics.detection.rulebase import MeterInfo, SiteInfo
from contract import sqlfiles


def _q(name: str) -> LiteralString:
    """A query of ``worker/queries.sql`` (our own file, never a value)."""
    return sqlfiles.beside(__file__)[name]


def sites(conn: Conn, only: str | None = None) -> list[SiteInfo]:
    rows = conn.execute(_q("sites")).fetchall()
    return [
        SiteInfo(r["site_id"], r["timezone"], float(r["pf_reference"]))
        for r in rows
        if only is None or r["site_id"] == only
    ]


def meters(conn: Conn, site: str) -> dict[int, MeterInfo]:
    rows = conn.execute(_q("meters"), {"site": site}).fetchall()
    return {
        int(r["meter_id"]): MeterInfo(
            int(r["meter_id"]),
            r["name"],
            float(r["nominal_voltage_ln"]),
            float(r["nominal_voltage_ll"]),
        )
        for r in rows
    }


def first_data(conn: Conn, site: str, since: datetime) -> datetime | None:
    """The later of the site's first minute of data and ``since``; None without data."""
    row = conn.execute(_q("first_data"), {"site": site, "since": since}).fetchone()
    return None if row is None else cast("datetime | None", next(iter(row.values())))


def watermark(conn: Conn, job: str, site: str) -> datetime | None:
    row = conn.execute(_q("watermark"), {"job": job, "site": site}).fetchone()
    return None if row is None else cast("datetime", row["watermark"])


def set_watermark(conn: Conn, job: str, site: str, value: datetime) -> None:
    conn.execute(_q("set_watermark"), {"job": job, "site": site, "watermark": value})


def try_lock(conn: Conn, job: str, site: str) -> bool:
    row = conn.execute(_q("try_lock"), {"job": job, "site": site}).fetchone()
    return bool(row and next(iter(row.values())))


def period_done(conn: Conn, job: str, site: str, start: datetime) -> bool:
    return (
        conn.execute(_q("period_done"), {"job": job, "site": site, "start": start}).fetchone()
        is not None
    )


def claim_period(
    conn: Conn, job: str, site: str, *, start: datetime, end: datetime, worker: str
) -> bool:
    params = {"job": job, "site": site, "start": start, "end": end, "worker": worker}
    return conn.execute(_q("claim_period"), params).fetchone() is not None


def finish_period(
    conn: Conn, job: str, site: str, start: datetime, details: dict[str, Any]
) -> None:
    params = {"job": job, "site": site, "start": start, "details": Jsonb(details)}
    conn.execute(_q("finish_period"), params)
