"""The worker's database sessions and the two ways it runs a named query.

The worker's jobs borrow their session from one small pool (:func:`open_pool`) kept for
the life of the process: a new session pays for its first statement on a hypertable
(TimescaleDB loads the catalog of every chunk: ~50-70 ms with a year of daily chunks,
against ~25 ms for the same refresh on a warm session, issue 17), and the worker runs
jobs every minute. One-off commands open a session of their own (:func:`connect`).

Query texts come from each feature's ``queries.sql`` (``contract.sqlfiles``): our own
files, never values. Driver errors on connecting become :class:`DatabaseError` with the
cause chained.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, LiteralString

import pandas as pd  # type: ignore[import-untyped]
import psycopg
from psycopg.rows import dict_row, tuple_row
from psycopg.types.json import Jsonb
from psycopg_pool import ConnectionPool

from analytics.errors import DatabaseError

Conn = psycopg.Connection[dict[str, Any]]
Pool = ConnectionPool[Conn]

CONNECT_TIMEOUT_S = 10
APPLICATION_NAME = "emusa-analytics"


def _session_kwargs() -> dict[str, Any]:
    return {
        "row_factory": dict_row,
        "autocommit": True,
        "connect_timeout": CONNECT_TIMEOUT_S,
        "fallback_application_name": APPLICATION_NAME,
        # Plan every statement with its values, as a new session did: a generic plan
        # cached on a long-lived session loses plan-time chunk exclusion.
        "prepare_threshold": None,
    }


def _release_locks(conn: Conn) -> None:
    """On return to the pool: no session-level advisory lock outlives the job that took it."""
    conn.execute("SELECT pg_advisory_unlock_all()")


def open_pool(conninfo: str) -> Pool:
    """The worker's session: one, kept open (its jobs run one at a time and none borrows
    while it holds it), checked before it is lent (a session broken by a database
    restart is replaced), replaced hourly; a borrow waits at most ``CONNECT_TIMEOUT_S``."""
    return ConnectionPool(
        conninfo,
        connection_class=psycopg.Connection[dict[str, Any]],
        kwargs=_session_kwargs(),
        min_size=1,
        max_size=1,
        open=True,
        check=ConnectionPool.check_connection,
        reset=_release_locks,
        name=APPLICATION_NAME,
        timeout=CONNECT_TIMEOUT_S,
    )


@contextmanager
def borrow(pool: Pool) -> Iterator[Conn]:
    """A session of the pool (autocommit, dict rows), as :func:`connect` gives one;
    psycopg and pool errors become DatabaseError."""
    try:
        with pool.connection() as conn:
            yield conn
    except psycopg.Error as exc:
        raise DatabaseError(f"database: {exc}") from exc


@contextmanager
def connect(conninfo: str) -> Iterator[Conn]:
    """An autocommit connection with dict rows (``conn.transaction()`` opens real
    transactions); psycopg errors become DatabaseError."""
    try:
        with psycopg.connect(conninfo, **_session_kwargs()) as conn:
            yield conn
    except psycopg.Error as exc:
        raise DatabaseError(f"database: {exc}") from exc


def execute(conn: Conn, query: LiteralString, params: dict[str, Any]) -> list[dict[str, Any]]:
    """Run a query (dict parameters as JSON); returns its rows (empty when it returns none)."""
    cur = conn.execute(
        query, {k: Jsonb(v) if isinstance(v, dict) else v for k, v in params.items()}
    )
    return cur.fetchall() if cur.description else []


def frame(conn: Conn, query: LiteralString, params: dict[str, Any]) -> pd.DataFrame:
    """Rows of a query as a DataFrame (timestamps as UTC, numbers as float)."""
    with conn.cursor(row_factory=tuple_row) as cur:
        cur.execute(query, params)
        cols = [d.name for d in cur.description or []]
        df = pd.DataFrame.from_records(cur.fetchall(), columns=cols)
    for col in ("bucket", "time"):
        if col in df:
            df[col] = pd.to_datetime(df[col], utc=True)
    for col in cols:
        if col.endswith(("_avg", "_min", "_max", "_kw", "_kwh")) or col.startswith("v_l"):
            df[col] = pd.to_numeric(df[col], errors="coerce").astype(float)
    return df
