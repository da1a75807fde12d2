"""The worker's database sessions and the two ways it runs a named query.

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

from analytics.errors import DatabaseError

Conn = psycopg.Connection[dict[str, Any]]


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
