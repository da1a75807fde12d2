"""A plant's history for the history-scale benchmark: a year built once, then cut shorter.

Two meters (the dashboard data set, ``tests/integration/grafana/dataset.py``: the plant
model on knots, numpy noise, one binary COPY stream per meter and segment, then one
set-based rollup refresh over the whole range). The last 30 days hold a reading every
``recent_step`` seconds (1 s by default), the older days one every ``old_step`` seconds
(60 s): one chunk of raw readings per day, every rollup over the whole history.

The benchmark measures the longest history first, then :func:`cut` drops everything older
than the next length (``drop_chunks`` on every hypertable, then the partial chunk's rows)
and measures again, so each length is the same recent data with less behind it.

Settings (environment): ``EMUSA_BENCH_HISTORY_DAYS`` (``30,180,365``),
``EMUSA_BENCH_HISTORY_RECENT_STEP`` (1 s), ``EMUSA_BENCH_HISTORY_OLD_STEP`` (60 s);
a development run uses for example ``30,90`` and a 10 s recent step.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from datetime import datetime, timedelta

import psycopg

from tests.harness.clock import session_now
from tests.integration.grafana.dataset import Dataset, Segment, Shape, generate

RECENT_DAYS = 30
DAY_S = 86_400


@dataclass(frozen=True)
class Settings:
    days: tuple[int, ...]  # history lengths, longest measured first
    recent_step: int
    old_step: int

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> Settings:
        e = dict(os.environ) if env is None else env
        days = tuple(
            sorted({int(d) for d in e.get("EMUSA_BENCH_HISTORY_DAYS", "30,180,365").split(",")})
        )
        if not days or days[0] < RECENT_DAYS:
            raise ValueError(
                f"EMUSA_BENCH_HISTORY_DAYS: every length must be >= {RECENT_DAYS} days"
            )
        return cls(
            days,
            int(e.get("EMUSA_BENCH_HISTORY_RECENT_STEP", "1")),
            int(e.get("EMUSA_BENCH_HISTORY_OLD_STEP", "60")),
        )


def shape(s: Settings, end: int | None = None) -> Shape:
    end = end or int(session_now().timestamp())
    recent = end - RECENT_DAYS * DAY_S
    segments = [Segment(recent, end, s.recent_step, 120)]
    if s.days[-1] > RECENT_DAYS:
        segments.insert(0, Segment(end - s.days[-1] * DAY_S, recent, s.old_step, 600))
    return Shape(end, segments)


def build(dsn: str, s: Settings) -> Dataset:
    """The longest history in an empty, migrated database; ``seconds`` says what it cost."""
    t0 = time.perf_counter()
    data = generate(dsn, shape(s))
    data.seconds["total_s"] = time.perf_counter() - t0
    return data


HYPERTABLES = (
    ("readings", "time"),
    ("rollup.agg_1m", "bucket"),
    ("rollup.agg_15m", "bucket"),
    ("rollup.agg_1h", "bucket"),
    ("rollup.agg_1d", "bucket"),
)


def cut(dsn: str, end: datetime, days: int) -> dict[str, int]:
    """Forget everything older than ``days`` before ``end``; returns chunks per table left.

    On the Community build the rollups are continuous aggregates: their whole chunks are
    dropped, then the rows left before the cutoff are deleted from each one's
    materialization hypertable (a chunk spans up to 365 days there, migration 0024: drop
    alone would leave most of a year in every "30-day" aggregate)."""
    cutoff = end - timedelta(days=days)
    left: dict[str, int] = {}
    with psycopg.connect(dsn, autocommit=True) as conn:
        apache = conn.execute("SHOW timescaledb.license").fetchone() == ("apache",)
        counted: list[tuple[str, str]] = []  # (name in the figures, hypertable)
        for table, col in HYPERTABLES if apache else HYPERTABLES[:1]:
            conn.execute("SELECT drop_chunks(%s, older_than => %s)", (table, cutoff))
            _delete_before(conn, table, col, cutoff)
            counted.append((table, table if "." in table else f"public.{table}"))
        if not apache:
            caggs = conn.execute(
                "SELECT format('%I.%I', view_schema, view_name),"
                " format('%I.%I', materialization_hypertable_schema,"
                " materialization_hypertable_name)"
                " FROM timescaledb_information.continuous_aggregates ORDER BY 1"
            ).fetchall()
            for cagg, materialized in caggs:
                conn.execute("SELECT drop_chunks(%s::regclass, older_than => %s)", (cagg, cutoff))
                _delete_before(conn, materialized, "bucket", cutoff)
                counted.append((cagg, materialized))
        for name, hypertable in counted:
            row = conn.execute(
                "SELECT count(*) FROM timescaledb_information.chunks"
                " WHERE format('%%I.%%I', hypertable_schema, hypertable_name) = %s",
                (hypertable,),
            ).fetchone()
            left[name] = int(row[0]) if row else 0
        conn.execute("VACUUM ANALYZE")
        # Write the build's and the cut's dirty pages out now: a checkpoint spreads them
        # over minutes (checkpoint_completion_target), and the first length measured would
        # otherwise share the disk with that write-back.
        conn.execute("CHECKPOINT")
    # ... and the operating system's: the test clusters run with fsync off, so the
    # checkpoint leaves the pages in the page cache, written back while the next length
    # is measured (runs where every measure of that length alone came out 1.3-1.8 x)
    os.sync()
    return left


def _delete_before(
    conn: psycopg.Connection[tuple[object, ...]], table: str, col: str, t: datetime
) -> None:
    conn.execute(
        psycopg.sql.SQL("DELETE FROM {} WHERE {} < %s").format(
            psycopg.sql.Identifier(*table.split(".")), psycopg.sql.Identifier(col)
        ),
        (t,),
    )
