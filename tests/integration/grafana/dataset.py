# ruff: noqa: RUF001  (pt-BR labels of the dashboards and events)
"""Simulated history for the dashboard tests: the plant model, vectorised, binary COPY.

The plant model (``gateway.simulator.model``) is exact but scalar (~0.25 ms a call), so
it is evaluated on a grid of knots (every ``knot_s`` seconds) and numpy interpolates
between them, adding seeded per-second noise to the gauges; the energy counters are
interpolated (they stay monotonic). Rows go to ``readings`` as one binary COPY stream
built by numpy (no per-row Python), then the rollups are refreshed over the range.

Both end at the session's test instant (``tests/harness/clock.py``) unless told otherwise.

Two shapes:

* ``Shape.full(days)`` — every second of ``days`` days (the benchmark: 30 days, 2
  meters = 5.2 M rows);
* ``Shape.tests()`` — the last 2 days every second plus 28 older days of 1-minute raw
  rows that are rolled up and then deleted, so the older days exist only in the rollups
  (as after raw retention): a long-range panel that read raw ``readings`` would find
  them empty.
"""

from __future__ import annotations

import struct
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import psycopg

from analytics.worker.rollups import refresh
from gateway.simulator.model import PlantModel
from tests.harness.clock import session_now

PG_EPOCH = 946_684_800  # 2000-01-01 UTC in Unix seconds
SITE = "plant"
METERS = ("kron1", "kron2")
SEEDS = (1, 2)

# Per-second noise added to the interpolated gauges (absolute, or relative with "%").
NOISE: dict[str, tuple[float, bool]] = {
    "v_": (0.15, False),
    "i_": (0.004, True),
    "p_": (0.004, True),
    "q_": (0.004, True),
    "s_": (0.004, True),
    "pf_": (0.001, False),
    "freq": (0.003, False),
    "thd_": (0.05, False),
}


@dataclass(frozen=True)
class Segment:
    """Raw rows every ``step_s`` seconds over [start, end), model knots every ``knot_s``."""

    start: int
    end: int
    step_s: int
    knot_s: int
    keep_raw: bool = True


@dataclass
class Shape:
    end: int
    segments: list[Segment]

    @classmethod
    def full(cls, days: int, end: int | None = None) -> Shape:
        end = end or int(session_now().timestamp())
        return cls(end, [Segment(end - days * 86_400, end, 1, 120)])

    @classmethod
    def tests(cls, end: int | None = None) -> Shape:
        end = end or int(session_now().timestamp())
        recent = end - 2 * 86_400
        return cls(
            end,
            [
                Segment(end - 30 * 86_400, recent, 60, 600, keep_raw=False),
                Segment(recent, end, 1, 60),
            ],
        )

    @property
    def start(self) -> int:
        return self.segments[0].start


@dataclass
class Dataset:
    dsn: str
    shape: Shape
    meter_ids: dict[str, int]
    raw_rows: int
    seconds: dict[str, float] = field(default_factory=dict)

    @property
    def end(self) -> datetime:
        return datetime.fromtimestamp(self.shape.end, UTC)

    @property
    def start(self) -> datetime:
        return datetime.fromtimestamp(self.shape.start, UTC)

    @property
    def newest(self) -> datetime:
        """Time of the newest raw reading (the data set holds [start, end))."""
        last = self.shape.segments[-1]
        steps = (last.end - last.start - 1) // last.step_s
        return datetime.fromtimestamp(last.start + steps * last.step_s, UTC)


def _columns(conn: psycopg.Connection[Any]) -> list[str]:
    rows = conn.execute(
        "SELECT column_name FROM information_schema.columns"
        " WHERE table_schema = 'public' AND table_name = 'readings' ORDER BY ordinal_position"
    ).fetchall()
    return [str(r[0]) for r in rows]


def model_values(seed: int, seg: Segment, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Every quantity at each raw timestamp of ``seg``: knots from the model + noise."""
    model = PlantModel(seed)
    knots = np.arange(seg.start - seg.start % seg.knot_s, seg.end + seg.knot_s, seg.knot_s)
    table = [model.values(float(t)) for t in knots]
    ts = np.arange(seg.start, seg.end, seg.step_s, dtype=np.int64)
    out: dict[str, np.ndarray] = {}
    for name in table[0]:
        y = np.interp(ts, knots, np.fromiter((v[name] for v in table), float, len(table)))
        for prefix, (scale, relative) in NOISE.items():
            if name.startswith(prefix):
                noise = rng.standard_normal(len(ts)) * scale
                y = y * (1 + noise) if relative else y + noise
                break
        out[name] = y
    out["pf_total"] = np.clip(out["pf_total"], -1, 1)
    for k in (1, 2, 3):
        out[f"pf_l{k}"] = np.clip(out[f"pf_l{k}"], -1, 1)
    out["_t"] = ts.astype(np.float64)
    return out


def copy_stream(
    columns: list[str], meter_id: int, ts: np.ndarray, seq0: int, values: dict[str, np.ndarray]
) -> bytes:
    """PostgreSQL binary COPY tuples (no header) for these rows, built with numpy."""
    dtype: list[tuple[str, str]] = [("nfields", ">i2")]
    for col in columns:
        kind = ">i8" if col in {"time", "seq"} else ">i4" if col == "meter_id" else ">f8"
        dtype += [(f"len_{col}", ">i4"), (col, kind)]
    rows = np.empty(len(ts), dtype=dtype)
    rows["nfields"] = len(columns)
    for col in columns:
        rows[f"len_{col}"] = 4 if col == "meter_id" else 8
        if col == "time":
            rows[col] = (ts.astype(np.int64) - PG_EPOCH) * 1_000_000
        elif col == "meter_id":
            rows[col] = meter_id
        elif col == "seq":
            rows[col] = np.arange(seq0, seq0 + len(ts), dtype=np.int64)
        else:
            rows[col] = values[col]
    return rows.tobytes()


def _setup_site(conn: psycopg.Connection[Any]) -> dict[str, int]:
    conn.execute(
        "INSERT INTO sites (site_id, name, tariff_modality, contracted_demand_kw,"
        " contracted_demand_ponta_kw) VALUES (%s, 'Planta de teste', 'azul', 450, 400)",
        (SITE,),
    )
    ids = {}
    for name in METERS:
        row = conn.execute(
            "INSERT INTO meters (site_id, name, model) VALUES (%s, %s, 'kron_konect')"
            " RETURNING meter_id",
            (SITE, name),
        ).fetchone()
        assert row
        ids[name] = int(row[0])
    return ids


def _events(conn: psycopg.Connection[Any], ids: dict[str, int], end: datetime) -> None:
    """A few anomalies (one ongoing) and the six-hourly summaries of the last two days."""
    rows = [
        (ids["kron1"], "voltage_band", "warning", end - timedelta(hours=20), end - timedelta(hours=19, minutes=50), "v_l1n", 114.2, 117.0, "Tensão V1 precária (114,2 V)"),
        (ids["kron2"], "power_factor", "warning", end - timedelta(hours=8), end - timedelta(hours=7), "pf_total", 0.86, 0.92, "Fator de potência abaixo de 0,92"),
        (None, "demand_exceeded", "critical", end - timedelta(hours=3), end - timedelta(hours=2, minutes=45), "demand_kw", 480.0, 472.5, "Demanda acima da contratada + 5%"),
        (ids["kron1"], "frequency", "info", end - timedelta(minutes=30), None, "freq", 59.88, 59.9, "Frequência fora de 59,9–60,1 Hz"),
        (ids["kron2"], "voltage_band", "critical", end - timedelta(days=20), end - timedelta(days=20) + timedelta(minutes=5), "v_l3n", 105.0, 110.0, "Tensão V3 crítica"),
    ]  # fmt: skip
    for meter_id, kind, sev, start, stop, qty, measured, limit, msg in rows:
        conn.execute(
            "INSERT INTO anomalies (site_id, meter_id, kind, severity, started_at, ended_at,"
            " quantity, measured, limit_value, message_pt, message_en)"
            " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
            (SITE, meter_id, kind, sev, start, stop, qty, measured, limit, msg, msg),
        )
    last = end.replace(minute=0, second=0, microsecond=0)
    last -= timedelta(hours=last.hour % 6)
    for k in range(8):
        stop = last - timedelta(hours=6 * k)
        conn.execute(
            "INSERT INTO summaries (site_id, period_start, period_end, text_pt, text_en)"
            " VALUES (%s, %s, %s, %s, %s)",
            (
                SITE,
                stop - timedelta(hours=6),
                stop,
                f"Resumo {k}: consumo normal.",
                f"Summary {k}.",
            ),
        )


def generate(dsn: str, shape: Shape, seed: int = 7) -> Dataset:
    """Fill an empty, migrated database with the plant's history; returns what it made."""
    timings: dict[str, float] = {}
    rng = np.random.default_rng(seed)
    header = b"PGCOPY\n\xff\r\n\x00" + struct.pack(">ii", 0, 0)
    rows = 0
    with psycopg.connect(dsn, autocommit=True) as conn:
        ids = _setup_site(conn)
        columns = _columns(conn)
        col_list = ", ".join(columns)
        model_s = copy_s = 0.0
        for seg in shape.segments:
            for name, meter_seed in zip(METERS, SEEDS, strict=True):
                t0 = time.perf_counter()
                values = model_values(meter_seed, seg, rng)
                ts = values["_t"].astype(np.int64)
                t1 = time.perf_counter()
                model_s += t1 - t0
                chunk = 500_000
                with (
                    conn.cursor() as cur,
                    cur.copy(f"COPY readings ({col_list}) FROM STDIN WITH (FORMAT binary)") as copy,
                ):
                    copy.write(header)
                    for i in range(0, len(ts), chunk):
                        part = {k: v[i : i + chunk] for k, v in values.items()}
                        copy.write(copy_stream(columns, ids[name], ts[i : i + chunk], i, part))
                    copy.write(struct.pack(">h", -1))
                copy_s += time.perf_counter() - t1
                rows += len(ts)
        timings["model_s"] = model_s
        timings["copy_s"] = copy_s
        t0 = time.perf_counter()
        refresh(
            dsn, datetime.fromtimestamp(shape.start, UTC), datetime.fromtimestamp(shape.end, UTC)
        )
        timings["refresh_s"] = time.perf_counter() - t0
        for seg in shape.segments:
            if not seg.keep_raw:
                cur_ = conn.execute(
                    "DELETE FROM readings WHERE time >= to_timestamp(%s) AND time < to_timestamp(%s)",
                    (seg.start, seg.end),
                )
                rows -= cur_.rowcount
        _events(conn, ids, datetime.fromtimestamp(shape.end, UTC))
        conn.execute("VACUUM ANALYZE")
    return Dataset(dsn, shape, ids, rows, timings)
