"""Simulator history written into a real database (binary COPY), rollups refreshed."""

from __future__ import annotations

from datetime import datetime

import psycopg

from analytics.worker import rollups
from gateway.simulator.model import Event
from ingestor.writer import COLUMNS, COPY_TYPES, QUANTITY_NAMES
from tests.unit.analytics.simframes import Mutate, samples


def add_site(
    dsn: str, site: str, meters: tuple[str, ...] = ("m1",), contracted_kw: float | None = 300.0
) -> dict[str, int]:
    with psycopg.connect(dsn) as conn:
        conn.execute(
            "INSERT INTO sites (site_id, name, contracted_demand_kw) VALUES (%s, %s, %s)",
            (site, site.title(), contracted_kw),
        )
        ids = {}
        for name in meters:
            row = conn.execute(
                "INSERT INTO meters (site_id, name) VALUES (%s, %s) RETURNING meter_id",
                (site, name),
            ).fetchone()
            assert row is not None
            ids[name] = int(row[0])
    return ids


def write(
    dsn: str,
    meter_id: int,
    seed: int,
    start: datetime,
    end: datetime,
    *,
    step: float = 20.0,
    events: tuple[Event, ...] = (),
    mutate: Mutate | None = None,
) -> int:
    """COPY the model's readings of [start, end) into ``readings``; returns the row count."""
    n = 0
    statement = f"COPY readings ({', '.join(COLUMNS)}) FROM STDIN (FORMAT BINARY)"
    with psycopg.connect(dsn) as conn, conn.cursor() as cur, cur.copy(statement) as copy:
        copy.set_types(list(COPY_TYPES))
        for t, values in samples(seed, start, end, step, events, mutate):
            copy.write_row((t, meter_id, n, *[values.get(q) for q in QUANTITY_NAMES]))
            n += 1
    return n


def refresh(dsn: str, start: datetime, end: datetime) -> None:
    rollups.refresh(dsn, start, end)
