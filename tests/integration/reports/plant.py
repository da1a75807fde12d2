"""History for report tests: the simulator's plant model written into ``readings``."""

from __future__ import annotations

import time
from datetime import datetime, timedelta

import psycopg

from analytics.rollups import refresh
from gateway.simulator.model import Event, PlantModel

SITE = "plant"
COLUMNS = (
    "v_l1n",
    "v_l2n",
    "v_l3n",
    "v_l12",
    "v_l23",
    "v_l31",
    "i_l1",
    "i_l2",
    "i_l3",
    "p_total",
    "q_total",
    "s_total",
    "pf_total",
    "freq",
    "e_imp_kwh",
    "e_exp_kwh",
    "e_imp_kvarh",
    "e_exp_kvarh",
)


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
    n = 0
    with psycopg.connect(dsn) as conn, conn.cursor() as cur:
        cols = ", ".join(("time", "meter_id", *COLUMNS))
        with cur.copy(f"COPY readings ({cols}) FROM STDIN") as copy:
            for name, mid in meters.items():
                model = PlantModel(mid, events=(events or {}).get(name, ()))
                t = start
                while t < end:
                    v = model.values(t.timestamp())
                    copy.write_row((t, mid, *(v[c] for c in COLUMNS)))
                    n += 1
                    t += step
    refresh(dsn, start - timedelta(days=1), end + timedelta(days=1))
    return n


def timed(fn, *args, **kwargs):  # type: ignore[no-untyped-def]
    t0 = time.perf_counter()
    out = fn(*args, **kwargs)
    return out, time.perf_counter() - t0
