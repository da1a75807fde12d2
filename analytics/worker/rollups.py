"""Keep the rollups (readings_1m, demand_15m, readings_1h, readings_1d) current.

One path on both builds: :func:`refresh` re-aggregates a range (an operator's backfill),
:func:`refresh_pending` the ranges the ingestor logged (the worker's ``refresh_rollups``
job, every minute). On the Apache-only build the rollups are tables and
``rollup.refresh()`` / ``rollup.refresh_pending()`` (SECURITY DEFINER) do the work. On
the Community build they are continuous aggregates: their policies keep the last day(s)
current, the ingestor logs only readings older than that (``rollup.late_before()``,
migration 0015), and ``refresh_continuous_aggregate`` is called here, outside any
transaction, over the whole-bucket windows ``rollup.refresh_windows()`` /
``rollup.pending_windows()`` give; emusa_analytics may call it because it belongs to
the aggregates' owner role (migration 0014). Named queries in ``worker/queries.sql``.

The worker's ``refresh_rollups`` job (:func:`refresh_rollups`) runs both: the pending
ranges, then, on the Apache build, a trailing window (Community: the policies and
real-time aggregation).
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, LiteralString

import psycopg

from analytics.errors import DatabaseError
from contract import sqlfiles

if TYPE_CHECKING:  # the type only: the ingestor imports this module without the worker
    from analytics.worker.context import Context

log = logging.getLogger(__name__)

TRAILING_REFRESH = timedelta(minutes=30)

# Another worker refreshing the pending windows: this one skips its turn.
_PENDING_LOCK = "emusa.rollup.pending"
Conn = psycopg.Connection[tuple[object, ...]]


def _q(name: str) -> LiteralString:
    """A query of ``worker/queries.sql`` (our own file, never a value)."""
    return sqlfiles.beside(__file__)[name]


def refresh_rollups(ctx: Context, now: datetime) -> int:
    """The worker's job: the pending ranges, then the trailing window; returns the
    ranges done."""
    done = refresh_pending(ctx.conninfo)
    refresh_recent(ctx.conninfo, now - TRAILING_REFRESH, now)
    ctx.rollups_fresh_at = now
    return done


def _license(conn: psycopg.Connection[tuple[object, ...]]) -> str:
    row = conn.execute(_q("timescaledb_license")).fetchone()
    return str(row[0]) if row and row[0] else ""


def refresh(conninfo: str, start: datetime, end: datetime) -> str:
    """Re-aggregate all rollups over [start, end]; returns the mechanism used."""
    if end < start:
        raise DatabaseError(f"refresh range ends before it starts: {start} > {end}")
    try:
        with psycopg.connect(conninfo, autocommit=True) as conn:
            if _license(conn) == "timescale":
                windows = conn.execute(_q("refresh_windows"), (start, end)).fetchall()
                _refresh_caggs(conn, windows)
                return "continuous_aggregate"
            conn.execute(_q("rollup_refresh"), (start, end))
            return "table"
    except psycopg.Error as exc:
        raise DatabaseError(f"rollup refresh failed: {exc}") from exc


def _refresh_caggs(conn: Conn, windows: list[tuple[object, ...]]) -> None:
    """Community build: refresh each (aggregate, start, end) window, whole buckets already.

    ``refresh_continuous_aggregate`` is a procedure that cannot run inside a transaction
    block: the connection is in autocommit mode, one call per window. JIT is off: over a
    long window PostgreSQL JIT-compiled the ~130-aggregate query for minutes, a compile
    that does not answer cancellation (issue 17).
    """
    conn.execute(_q("jit_off"))
    for cagg, lo, hi in windows:
        log.debug("refreshing %s over [%s, %s)", cagg, lo, hi, extra={"action": "refresh"})
        conn.execute(_q("refresh_cagg"), (cagg, lo, hi))


def refresh_recent(conninfo: str, start: datetime, end: datetime) -> bool:
    """Apache build: re-aggregate [start, end] (the scheduler's trailing window, for data
    written without an invalidation record). Community build: nothing to do, the
    continuous aggregates are real-time; returns whether a refresh ran."""
    try:
        with psycopg.connect(conninfo, autocommit=True) as conn:
            if _license(conn) == "timescale":
                return False
            conn.execute(_q("rollup_refresh"), (start, end))
    except psycopg.Error as exc:
        raise DatabaseError(f"rollup refresh failed: {exc}") from exc
    return True


def refresh_pending(conninfo: str) -> int:
    """Refresh the ranges the ingestor logged; returns how many logged ranges were done.

    Apache build: ``rollup.refresh_pending()``. Community build: the windows of the
    ranges logged so far, then those ranges are deleted (a crash in between leaves them
    to the next call: refreshing again is harmless). When another worker is at it, 0.
    """
    try:
        with psycopg.connect(conninfo, autocommit=True) as conn:
            if _license(conn) == "timescale":
                done = _refresh_pending_caggs(conn)
            else:
                row = conn.execute(_q("rollup_refresh_pending")).fetchone()
                done = int(str(row[0])) if row else 0
    except psycopg.Error as exc:
        raise DatabaseError(f"rollup refresh failed: {exc}") from exc
    log.debug("refreshed %d pending ranges", done, extra={"action": "refresh_pending"})
    return done


def _refresh_pending_caggs(conn: Conn) -> int:
    row = conn.execute(_q("pending_lock"), (_PENDING_LOCK,)).fetchone()
    if not row or not row[0]:
        return 0
    try:
        row = conn.execute(_q("pending_ranges")).fetchone()
        upto, count = (row[0], int(str(row[1]))) if row else (None, 0)
        if not count:
            return 0
        windows = conn.execute(_q("pending_windows"), (upto,)).fetchall()
        _refresh_caggs(conn, windows)
        conn.execute(_q("forget_pending_ranges"), (upto,))
        if windows:
            log.info(
                "refreshed %d windows of the rollups for %d late ranges",
                len(windows), count, extra={"action": "refresh_pending"},
            )  # fmt: skip
        return count
    finally:
        conn.execute(_q("pending_unlock"), (_PENDING_LOCK,))


def tariff_period(conninfo: str, site: str, at: datetime) -> str:
    """'ponta', 'intermediario' or 'fora_ponta' for ``at`` at ``site`` (the SQL calendar)."""
    try:
        with psycopg.connect(conninfo) as conn:
            row = conn.execute(_q("tariff_period"), (site, at)).fetchone()
    except psycopg.Error as exc:
        raise DatabaseError(f"tariff period of {site!r} at {at.isoformat()}: {exc}") from exc
    return str(row[0]) if row else ""
