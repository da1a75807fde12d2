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
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, LiteralString

import psycopg
from psycopg.rows import tuple_row

from analytics.errors import DatabaseError
from contract import sqlfiles

if TYPE_CHECKING:  # the type only: the ingestor imports this module without the worker
    from analytics.worker.context import Context

log = logging.getLogger(__name__)

TRAILING_REFRESH = timedelta(minutes=30)

# Another worker refreshing the pending windows: this one skips its turn.
_PENDING_LOCK = "emusa.rollup.pending"
Conn = psycopg.Connection[Any]
# A connection string (a session is opened for the call) or an open autocommit session
# (the worker's own: a new session pays TimescaleDB's chunk-catalog load on its first
# statement, see analytics.db).
Database = str | Conn


def _q(name: str) -> LiteralString:
    """A query of ``worker/queries.sql`` (our own file, never a value)."""
    return sqlfiles.beside(__file__)[name]


@contextmanager
def _session(database: Database) -> Iterator[Conn]:
    """The given session, or one opened for the call; driver errors -> DatabaseError."""
    try:
        if isinstance(database, str):
            with psycopg.connect(database, autocommit=True) as conn:
                yield conn
        else:
            if not database.autocommit:  # refresh_continuous_aggregate refuses a transaction
                raise DatabaseError("rollup refresh needs an autocommit session")
            yield database
    except psycopg.Error as exc:
        raise DatabaseError(f"rollup refresh failed: {exc}") from exc


def _rows(conn: Conn, query: LiteralString, params: tuple[object, ...] = ()) -> list[Any]:
    with conn.cursor(row_factory=tuple_row) as cur:
        cur.execute(query, params)
        return cur.fetchall() if cur.description else []


def _scalar(conn: Conn, query: LiteralString, params: tuple[object, ...] = ()) -> object:
    rows = _rows(conn, query, params)
    return rows[0][0] if rows else None


def refresh_rollups(ctx: Context, now: datetime) -> int:
    """The worker's job: the pending ranges, then the trailing window, on the worker's
    own session; returns the ranges done."""
    with ctx.connection() as conn:
        done = refresh_pending(conn)
        refresh_recent(conn, now - TRAILING_REFRESH, now)
    ctx.rollups_fresh_at = now
    return done


def _license(conn: Conn) -> str:
    return str(_scalar(conn, _q("timescaledb_license")) or "")


def refresh(database: Database, start: datetime, end: datetime) -> str:
    """Re-aggregate all rollups over [start, end]; returns the mechanism used."""
    if end < start:
        raise DatabaseError(f"refresh range ends before it starts: {start} > {end}")
    with _session(database) as conn:
        if _license(conn) == "timescale":
            _refresh_caggs(conn, _rows(conn, _q("refresh_windows"), (start, end)))
            return "continuous_aggregate"
        conn.execute(_q("rollup_refresh"), (start, end))
        return "table"


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


def refresh_recent(database: Database, start: datetime, end: datetime) -> bool:
    """Apache build: re-aggregate [start, end] (the scheduler's trailing window, for data
    written without an invalidation record). Community build: nothing to do, the
    continuous aggregates are real-time; returns whether a refresh ran."""
    with _session(database) as conn:
        if _license(conn) == "timescale":
            return False
        conn.execute(_q("rollup_refresh"), (start, end))
    return True


def refresh_pending(database: Database) -> int:
    """Refresh the ranges the ingestor logged; returns how many logged ranges were done.

    Apache build: ``rollup.refresh_pending()``. Community build: the windows of the
    ranges logged so far, then those ranges are deleted (a crash in between leaves them
    to the next call: refreshing again is harmless). When another worker is at it, 0.
    """
    with _session(database) as conn:
        if _license(conn) == "timescale":
            done = _refresh_pending_caggs(conn)
        else:
            done = int(str(_scalar(conn, _q("rollup_refresh_pending")) or 0))
    log.debug("refreshed %d pending ranges", done, extra={"action": "refresh_pending"})
    return done


def _refresh_pending_caggs(conn: Conn) -> int:
    if not _scalar(conn, _q("pending_lock"), (_PENDING_LOCK,)):
        return 0
    try:
        row = _rows(conn, _q("pending_ranges"))
        upto, count = (row[0][0], int(str(row[0][1]))) if row else (None, 0)
        if not count:
            return 0
        windows = _rows(conn, _q("pending_windows"), (upto,))
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
