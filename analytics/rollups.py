"""Keep the rollups (readings_1m, demand_15m, readings_1h, readings_1d) current.

On the Community build they are continuous aggregates refreshed by TimescaleDB's own
policies; a refresh here is only needed for backfills. On the Apache-only build they
are tables, and this module is what refreshes them (the scheduler calls it).
"""

from __future__ import annotations

import logging
from datetime import datetime

import psycopg

from analytics.errors import DatabaseError

log = logging.getLogger(__name__)

CAGGS = ("rollup.agg_1m", "rollup.agg_15m", "rollup.agg_1h", "rollup.agg_1d")


def _license(conn: psycopg.Connection[tuple[object, ...]]) -> str:
    row = conn.execute("SELECT current_setting('timescaledb.license', true)").fetchone()
    return str(row[0]) if row and row[0] else ""


def refresh(conninfo: str, start: datetime, end: datetime) -> str:
    """Re-aggregate all rollups over [start, end]; returns the mechanism used."""
    if end < start:
        raise DatabaseError(f"refresh range ends before it starts: {start} > {end}")
    try:
        with psycopg.connect(conninfo, autocommit=True) as conn:
            if _license(conn) == "timescale":
                for cagg in CAGGS:
                    # A procedure that cannot run inside a transaction: autocommit.
                    conn.execute(
                        "CALL refresh_continuous_aggregate(%s::regclass, %s, %s)",
                        (cagg, start, end),
                    )
                return "continuous_aggregate"
            conn.execute("SELECT rollup.refresh(%s, %s)", (start, end))
            return "table"
    except psycopg.Error as exc:
        raise DatabaseError(f"rollup refresh failed: {exc}") from exc


def refresh_recent(conninfo: str, start: datetime, end: datetime) -> bool:
    """Apache build: re-aggregate [start, end] (the scheduler's trailing window, for data
    written without an invalidation record). Community build: nothing to do, the
    continuous aggregates are real-time; returns whether a refresh ran."""
    try:
        with psycopg.connect(conninfo, autocommit=True) as conn:
            if _license(conn) == "timescale":
                return False
            conn.execute("SELECT rollup.refresh(%s, %s)", (start, end))
    except psycopg.Error as exc:
        raise DatabaseError(f"rollup refresh failed: {exc}") from exc
    return True


def refresh_pending(conninfo: str) -> int:
    """Apache build: refresh the ranges the ingestor logged; returns how many were done.

    On the Community build the policies do this; returns 0 there.
    """
    try:
        with psycopg.connect(conninfo, autocommit=True) as conn:
            if _license(conn) == "timescale":
                return 0
            row = conn.execute("SELECT rollup.refresh_pending()").fetchone()
    except psycopg.Error as exc:
        raise DatabaseError(f"rollup refresh failed: {exc}") from exc
    done = int(str(row[0])) if row else 0
    log.debug("refreshed %d pending ranges", done, extra={"action": "refresh_pending"})
    return done


def tariff_period(conninfo: str, site: str, at: datetime) -> str:
    """'ponta', 'intermediario' or 'fora_ponta' for ``at`` at ``site`` (the SQL calendar)."""
    try:
        with psycopg.connect(conninfo) as conn:
            row = conn.execute("SELECT emusa_tariff_period(%s, %s)", (site, at)).fetchone()
    except psycopg.Error as exc:
        raise DatabaseError(f"tariff period of {site!r} at {at.isoformat()}: {exc}") from exc
    return str(row[0]) if row else ""
