"""A bucket's energy starts from the previous bucket's last counter value (issue 17).

Since migration 0017 the views find that value without reading the whole rollup: the
Apache build stores it in each rollup row (set by rollup.refresh() for the buckets it
rebuilt and the bucket after them), the Community build looks it up per row. These tests
change a bucket's last reading or fill a gap late, refresh only the late range, and
compare every grain's energy with the reference computed from the raw rows (test_rollups);
the bucket *after* the late reading is the one a stale stored value would get wrong. The
last test checks that a one-hour query reads about an hour of rollup rows, not all of them.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta

import psycopg
import pytest

from analytics.worker.rollups import refresh_pending
from tests.integration.test_rollups import GAP, GRAINS, STEP, T0, Row, _reference_energy, loaded

pytestmark = pytest.mark.integration
__all__ = ["loaded"]  # the fixture, shared with test_rollups

Loaded = tuple[str, dict[str, int], list[Row]]


def _late(db: str, rows: list[Row], new: list[Row]) -> list[Row]:
    """Store ``new`` as the ingestor does with late readings, refresh what it logged."""
    with psycopg.connect(db) as conn:
        with conn.cursor().copy(
            "COPY readings (time, meter_id, p_total, v_l1n, pf_total, e_imp_kwh) FROM STDIN"
        ) as copy:
            for r in new:
                copy.write_row(r)
        conn.execute(
            "INSERT INTO rollup.invalidations (range_start, range_end) VALUES (%s, %s)",
            (min(r[0] for r in new), max(r[0] for r in new)),
        )
    assert refresh_pending(db) == 1
    return rows + new


def _assert_energy(db: str, rows: list[Row]) -> None:
    with psycopg.connect(db) as conn:
        for rel, width in GRAINS.items():
            got = {
                (int(m), b): float(e)
                for m, b, e in conn.execute(
                    f"SELECT meter_id, bucket, e_imp_kwh_delta FROM {rel}"
                    " WHERE e_imp_kwh_delta IS NOT NULL"
                ).fetchall()
            }
            want = _reference_energy(rows, width)
            assert got.keys() == want.keys(), rel
            for key, value in want.items():
                assert got[key] == pytest.approx(value, abs=1e-9), (rel, key)


def _reading_at(rows: list[Row], meter: int, t: datetime) -> Row:
    return next(r for r in rows if r[1] == meter and r[0] == t)


def test_late_reading_changes_the_next_buckets_energy(loaded: Loaded) -> None:
    db, ids, rows = loaded
    m1 = ids["m1"]
    # the last reading of the 23:14 minute (and of the 23:00-23:15 quarter) moves up
    last = T0 + timedelta(hours=1, minutes=14, seconds=50)
    before, after = _reading_at(rows, m1, last), _reading_at(rows, m1, last + STEP)
    assert before[5] is not None and after[5] is not None
    e = before[5] + 0.9 * (after[5] - before[5])
    rows = _late(db, rows, [(last + timedelta(seconds=5), m1, 60.0, 127.0, 0.9, e)])
    _assert_energy(db, rows)


def test_gap_filled_late_links_the_buckets_around_it(loaded: Loaded) -> None:
    db, ids, rows = loaded
    m2 = ids["m2"]
    start, end = GAP[0] + timedelta(minutes=8), GAP[0] + timedelta(minutes=15)
    before = max((r for r in rows if r[1] == m2 and r[0] < GAP[0]), key=lambda r: r[0])
    after = min((r for r in rows if r[1] == m2 and r[0] >= GAP[1]), key=lambda r: r[0])
    assert before[5] is not None and after[5] is not None
    span = (after[0] - before[0]).total_seconds()
    new: list[Row] = []
    t = start
    while t < end:
        f = (t - before[0]).total_seconds() / span
        new.append((t, m2, 55.0, 127.0, 0.9, before[5] + f * (after[5] - before[5])))
        t += STEP
    rows = _late(db, rows, new)
    _assert_energy(db, rows)


def _scanned(plan: dict[str, object]) -> int:
    """Rows read by the scans of chunks in an EXPLAIN ANALYZE JSON plan (the leaves: not
    TimescaleDB's ChunkAppend above them, which would count them twice)."""
    n = 0
    rel = str(plan.get("Relation Name", ""))
    kind = str(plan.get("Node Type"))
    if rel.startswith("_hyper_") and "Scan" in kind and kind != "Custom Scan":
        loops = int(str(plan.get("Actual Loops", 1)))
        n += int(str(plan.get("Actual Rows", 0))) * loops
        n += int(str(plan.get("Rows Removed by Filter", 0))) * loops
    for child in plan.get("Plans", []) or []:  # type: ignore[attr-defined]
        n += _scanned(child)
    return n


def test_an_hour_of_minutes_reads_about_an_hour_of_rollup_rows(loaded: Loaded) -> None:
    db, ids, _rows = loaded
    lo = T0 + timedelta(hours=2)
    with psycopg.connect(db) as conn:
        row = conn.execute(
            "EXPLAIN (ANALYZE, FORMAT JSON) SELECT bucket, e_imp_kwh_delta FROM readings_1m"
            " WHERE meter_id = %s AND bucket >= %s AND bucket < %s",
            (ids["m1"], lo, lo + timedelta(hours=1)),
        ).fetchone()
        total = conn.execute("SELECT count(*) FROM readings_1m").fetchone()
    assert row is not None and total is not None
    plan = row[0] if isinstance(row[0], list) else json.loads(row[0])
    scanned = _scanned(plan[0]["Plan"])
    assert 60 <= scanned <= 3 * 120, (scanned, total[0])
