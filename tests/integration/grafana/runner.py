"""Run an expanded panel query the way Grafana's data source does: as emusa_grafana."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import psycopg

GRAFANA_ROLE = "emusa_grafana"


@dataclass(frozen=True)
class Result:
    columns: list[str]
    types: list[str]  # PostgreSQL type names
    rows: list[tuple[Any, ...]]
    seconds: float

    def column(self, name: str) -> list[Any]:
        i = self.columns.index(name)
        return [r[i] for r in self.rows]


def role_settings(conn: psycopg.Connection[tuple[Any, ...]], role: str) -> dict[str, str]:
    """The settings ``role`` gets at login in this database (ALTER ROLE ... SET)."""
    rows = conn.execute(
        "SELECT unnest(setconfig) FROM pg_db_role_setting WHERE setrole = %s::regrole"
        " AND setdatabase IN (0, (SELECT oid FROM pg_database WHERE datname = current_database()))"
        " ORDER BY setdatabase",
        (role,),
    ).fetchall()
    return dict(str(r[0]).split("=", 1) for r in rows)


def connect(dsn: str) -> psycopg.Connection[tuple[Any, ...]]:
    """A read-only session with the privileges of the Grafana role (SET ROLE)."""
    conn = psycopg.connect(dsn, autocommit=True)
    conn.execute(f"SET ROLE {GRAFANA_ROLE}")
    # what a login as the role gets (migrations 0012, 0020), which SET ROLE does not apply
    for name, value in role_settings(conn, GRAFANA_ROLE).items():
        conn.execute("SELECT set_config(%s, %s, false)", (name, value))
    conn.execute("SET default_transaction_read_only = on")
    conn.execute("SET statement_timeout = '20s'")
    return conn


def run(conn: psycopg.Connection[tuple[Any, ...]], sql: str) -> Result:
    t0 = time.perf_counter()
    with conn.cursor() as cur:
        cur.execute(sql.encode())
        rows = cur.fetchall()
        desc = cur.description or []
    seconds = time.perf_counter() - t0
    types = []
    for d in desc:
        info = conn.adapters.types.get(d.type_code)
        types.append(info.name if info else str(d.type_code))
    return Result([d.name for d in desc], types, rows, seconds)
