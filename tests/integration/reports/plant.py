"""History for report tests: the simulator's plant model written into ``readings``."""

from __future__ import annotations

import time
from datetime import datetime, timedelta

import psycopg

from analytics.worker.rollups import refresh
from gateway.simulator.model import Event
from tests.integration.analytics import history

SITE = "plant"


def seed_site(dsn: str, contracted_kw: float = 250.0) -> dict[str, int]:
    with psycopg.connect(dsn) as conn:
        conn.execute(
            "INSERT INTO sites (site_id, name, contracted_demand_kw) VALUES (%s, %s, %s)",
            (SITE, "Planta Teste", contracted_kw),
        )
        ids = {}
        for name in ("m1", "m2"):
            row = conn.execute(
                "INSERT INTO meters (site_id, name, first_seen) VALUES (%s, %s, '2026-01-01Z')"
                " RETURNING meter_id",
                (SITE, name),
            ).fetchone()
            assert row
            ids[name] = int(row[0])
    return ids


def load_history(
    dsn: str,
    start: datetime,
    end: datetime,
    step: timedelta,
    meters: dict[str, int],
    events: dict[str, tuple[Event, ...]] | None = None,
) -> int:
    """COPY the model's values for each meter (seed = its id) into readings; refresh rollups."""
    n = sum(
        history.write(
            dsn,
            mid,
            mid,
            start,
            end,
            step=step.total_seconds(),
            events=(events or {}).get(name, ()),
        )
        for name, mid in meters.items()
    )
    refresh(dsn, start - timedelta(days=1), end + timedelta(days=1))
    return n


def timed(fn, *args, **kwargs):  # type: ignore[no-untyped-def]
    t0 = time.perf_counter()
    out = fn(*args, **kwargs)
    return out, time.perf_counter() - t0


def insert_anomaly(dsn: str, meter: str, kind: str, severity: str, start: datetime) -> int:
    """One anomaly of ``meter`` (by name) at ``start``; messages name the kind and meter."""
    with psycopg.connect(dsn) as conn:
        row = conn.execute(
            "INSERT INTO anomalies (site_id, meter_id, kind, severity, started_at, message_pt,"
            " message_en) SELECT %s, meter_id, %s, %s, %s, %s, %s FROM meters WHERE name = %s"
            " RETURNING anomaly_id",
            (SITE, kind, severity, start, f"{kind} em {meter}", f"{kind} on {meter}", meter),
        ).fetchone()
    assert row is not None
    return int(row[0])
