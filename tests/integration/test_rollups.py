"""Rollup contract: known readings in, rollups equal to a direct aggregate of the raw rows.

Gauges are compared with ``time_bucket`` + avg/min/max over ``readings``; energy per bucket
with a reference computed here from consecutive counter readings, across a counter reset
inside a bucket, a reset on a bucket boundary, a NULL counter reading and a data gap.
"""

from __future__ import annotations

import itertools
import random
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import psycopg
import pytest

from analytics.worker.rollups import refresh, refresh_pending

pytestmark = pytest.mark.integration

T0 = datetime(2026, 11, 24, 22, 0, tzinfo=UTC)  # 19:00 local; local midnight is 03:00 UTC
T1 = T0 + timedelta(hours=6)
STEP = timedelta(seconds=10)
TZ = ZoneInfo("America/Sao_Paulo")
RESET_INSIDE = datetime(2026, 11, 25, 1, 17, 30, tzinfo=UTC)  # m1: reset mid-minute
RESET_EDGE = datetime(2026, 11, 25, 2, 0, 0, tzinfo=UTC)  # m2: first reading of a bucket
NULL_AT = datetime(2026, 11, 25, 0, 5, 0, tzinfo=UTC)  # m1: counter dropped as implausible
GAP = (
    datetime(2026, 11, 25, 0, 30, tzinfo=UTC),
    datetime(2026, 11, 25, 0, 50, 20, tzinfo=UTC),
)  # m2

GRAINS = {
    "readings_1m": timedelta(minutes=1),
    "readings_15m": timedelta(minutes=15),
    "readings_1h": timedelta(hours=1),
    "readings_1d": timedelta(days=1),
}

Row = tuple[datetime, int, float, float, float, float | None]  # time, meter, p, v, pf, e_imp


def _bucket(ts: datetime, width: timedelta) -> datetime:
    if width == timedelta(days=1):
        local = ts.astimezone(TZ)
        return datetime(local.year, local.month, local.day, tzinfo=TZ).astimezone(UTC)
    epoch = datetime(2000, 1, 3, tzinfo=UTC)  # time_bucket's origin (a Monday)
    return ts - ((ts - epoch) % width)


def _generate(meter_ids: dict[str, int]) -> list[Row]:
    rng = random.Random(42)
    rows: list[Row] = []
    for name, mid in meter_ids.items():
        counter = 1000.0 * mid
        t = T0
        while t < T1:
            p = 50 + 30 * rng.random()
            skip = name == "m2" and GAP[0] <= t < GAP[1]
            if (name == "m1" and t == RESET_INSIDE) or (name == "m2" and t == RESET_EDGE):
                counter = 0.25  # meter reset: restarts near zero
            else:
                counter += p * STEP.total_seconds() / 3600
            if not skip:
                e = None if (name == "m1" and t == NULL_AT) else counter
                rows.append((t, mid, p, 127 + 5 * rng.random(), 0.85 + 0.1 * rng.random(), e))
            t += STEP
    return rows


def _reference_energy(rows: list[Row], width: timedelta) -> dict[tuple[int, datetime], float]:
    """Energy per (meter, bucket): sum of counter increases between consecutive readings,
    counting the step from the previous bucket only when that bucket is adjacent, and
    nothing for the step across a reset."""
    out: dict[tuple[int, datetime], float] = defaultdict(float)
    by_meter: dict[int, list[tuple[datetime, float]]] = defaultdict(list)
    for t, mid, *_rest, e in rows:
        if e is not None:
            by_meter[mid].append((t, e))
    for mid, series in by_meter.items():
        series.sort()
        out[(mid, _bucket(series[0][0], width))] += 0.0
        for (t0, e0), (t1, e1) in itertools.pairwise(series):
            b0, b1 = _bucket(t0, width), _bucket(t1, width)
            out[(mid, b1)] += 0.0
            adjacent = b0 == b1 or _bucket(b1 - timedelta(microseconds=1), width) == b0
            if adjacent and e1 >= e0 / 2:
                out[(mid, b1)] += e1 - e0
    return dict(out)


@pytest.fixture
def loaded(db: str) -> tuple[str, dict[str, int], list[Row]]:
    with psycopg.connect(db) as conn:
        conn.execute("INSERT INTO sites (site_id, name) VALUES ('plant', 'Plant')")
        ids = {}
        for name, in_total in (("m1", True), ("m2", True), ("m3", False)):
            row = conn.execute(
                "INSERT INTO meters (site_id, name, include_in_site_total) VALUES ('plant', %s, %s)"
                " RETURNING meter_id",
                (name, in_total),
            ).fetchone()
            assert row is not None
            ids[name] = int(row[0])
        rows = _generate(ids)
        assert sum(1 for r in rows if r[5] == 0.25) == 2, "both resets are in the data"
        with conn.cursor().copy(
            "COPY readings (time, meter_id, p_total, v_l1n, pf_total, e_imp_kwh) FROM STDIN"
        ) as copy:
            for r in rows:
                copy.write_row(r)
    refresh(db, T0, T1)
    return db, ids, rows


@pytest.mark.parametrize("rel", list(GRAINS))
def test_gauges_equal_direct_time_bucket_aggregate(
    loaded: tuple[str, dict[str, int], list[Row]], rel: str
) -> None:
    db, _ids, _rows = loaded
    bucket = (
        "time_bucket('1 day', time, 'America/Sao_Paulo')"
        if rel == "readings_1d"
        else f"time_bucket(INTERVAL '{int(GRAINS[rel].total_seconds())} seconds', time)"
    )
    with psycopg.connect(db) as conn:
        direct = conn.execute(
            f"SELECT meter_id, {bucket} AS b, count(*), avg(p_total), min(p_total), max(p_total),"
            " avg(v_l1n), min(v_l1n), max(v_l1n), avg(pf_total) FROM readings GROUP BY 1, 2 ORDER BY 1, 2"
        ).fetchall()
        rolled = conn.execute(
            f"SELECT meter_id, bucket, samples, p_total_avg, p_total_min, p_total_max,"
            f" v_l1n_avg, v_l1n_min, v_l1n_max, pf_total_avg FROM {rel} ORDER BY 1, 2"
        ).fetchall()
    assert len(rolled) == len(direct) > 0
    for d, r in zip(direct, rolled, strict=True):
        assert r[:3] == d[:3]
        assert r[3:] == pytest.approx(d[3:], rel=1e-12)


@pytest.mark.parametrize("rel", list(GRAINS))
def test_energy_per_bucket_from_counter_deltas(
    loaded: tuple[str, dict[str, int], list[Row]], rel: str
) -> None:
    db, _ids, rows = loaded
    expected = _reference_energy(rows, GRAINS[rel])
    with psycopg.connect(db) as conn:
        got = {
            (int(m), b): e
            for m, b, e in conn.execute(
                f"SELECT meter_id, bucket, e_imp_kwh_delta FROM {rel}"
            ).fetchall()
        }
    assert set(got) == set(expected)
    for key, value in expected.items():
        assert got[key] == pytest.approx(value, rel=1e-9, abs=1e-9), key


def test_reset_buckets_keep_the_energy_before_and_after(
    loaded: tuple[str, dict[str, int], list[Row]],
) -> None:
    db, ids, rows = loaded
    minute = _bucket(RESET_INSIDE, timedelta(minutes=1))
    m1 = [(t, e) for t, mid, *_r, e in rows if mid == ids["m1"] and e is not None]
    base = max((t, e) for t, e in m1 if t < minute)[1]  # end of the previous minute
    before = [e for t, e in m1 if minute <= t < RESET_INSIDE]
    after = [e for t, e in m1 if RESET_INSIDE <= t < minute + timedelta(minutes=1)]
    expected = (before[-1] - base) + (after[-1] - after[0])
    with psycopg.connect(db) as conn:
        got = conn.execute(
            "SELECT e_imp_kwh_delta FROM readings_1m WHERE meter_id = %s AND bucket = %s",
            (ids["m1"], minute),
        ).fetchone()
    assert got is not None
    assert got[0] == pytest.approx(expected, rel=1e-9)
    assert 0 < got[0] < before[-1] - base + 1  # never the size of the counter itself


def test_total_energy_matches_every_grain(loaded: tuple[str, dict[str, int], list[Row]]) -> None:
    db, ids, _rows = loaded
    with psycopg.connect(db) as conn:
        totals = [
            conn.execute(
                f"SELECT sum(e_imp_kwh_delta) FROM {rel} WHERE meter_id = %s", (ids["m1"],)
            ).fetchone()
            for rel in ("readings_1m", "readings_15m", "readings_1h")
        ]
    assert totals[0] is not None
    assert [t[0] for t in totals if t] == pytest.approx([totals[0][0]] * 3, rel=1e-9)


def test_demand_is_energy_times_four(loaded: tuple[str, dict[str, int], list[Row]]) -> None:
    db, ids, _rows = loaded
    with psycopg.connect(db) as conn:
        rows = conn.execute(
            "SELECT demand_kw, e_imp_kwh_delta, p_total_avg FROM demand_15m WHERE meter_id = %s"
            " AND bucket = '2026-11-24 23:00:00+00'",
            (ids["m1"],),
        ).fetchall()
    assert len(rows) == 1
    demand, energy, p_avg = rows[0]
    assert demand == pytest.approx(energy * 4)
    assert demand == pytest.approx(p_avg, rel=0.02)  # a full interval: energy agrees with power


def test_site_total_sums_the_counted_meters(loaded: tuple[str, dict[str, int], list[Row]]) -> None:
    db, ids, _rows = loaded
    with psycopg.connect(db) as conn:
        site = dict(
            conn.execute(
                "SELECT bucket, p_total_avg FROM site_readings_1m WHERE site_id = 'plant'"
            ).fetchall()
        )
        per_meter = conn.execute(
            "SELECT bucket, sum(p_total_avg), count(*) FROM readings_1m WHERE meter_id = ANY(%s) GROUP BY bucket",
            ([ids["m1"], ids["m2"]],),
        ).fetchall()
        reporting = conn.execute(
            "SELECT min(meters_reporting), max(meters_reporting) FROM site_readings_1m"
        ).fetchone()
    assert len(site) == len(per_meter)
    for bucket, total, _n in per_meter:
        assert site[bucket] == pytest.approx(total)
    assert reporting == (1, 2)  # m2's gap leaves one meter reporting; m3 never counts


def test_refresh_is_incremental_and_late_data_is_picked_up(
    loaded: tuple[str, dict[str, int], list[Row]],
) -> None:
    db, ids, _rows = loaded
    late = T1 + timedelta(minutes=5)
    with psycopg.connect(db) as conn:
        before = conn.execute("SELECT count(*), sum(samples) FROM readings_1m").fetchone()
        conn.execute(
            "INSERT INTO readings (time, meter_id, p_total) VALUES (%s, %s, 10), (%s, %s, 20)",
            (late, ids["m1"], late + timedelta(seconds=1), ids["m1"]),
        )
        # as the ingestor logs a late batch (both builds since migration 0015)
        conn.execute(
            "INSERT INTO rollup.invalidations (range_start, range_end) VALUES (%s, %s)",
            (late, late + timedelta(seconds=1)),
        )
    assert refresh_pending(db) == 1
    assert refresh_pending(db) == 0
    with psycopg.connect(db) as conn:
        after = conn.execute("SELECT count(*), sum(samples) FROM readings_1m").fetchone()
        new = conn.execute(
            "SELECT samples, p_total_avg FROM readings_1m WHERE meter_id = %s AND bucket = %s",
            (ids["m1"], _bucket(late, timedelta(minutes=1))),
        ).fetchone()
    assert before is not None and after is not None
    assert after == (before[0] + 1, before[1] + 2)
    assert new == (2, pytest.approx(15.0))


def test_duplicate_reading_is_harmless(loaded: tuple[str, dict[str, int], list[Row]]) -> None:
    db, ids, rows = loaded
    t, mid, p, *_ = next(r for r in rows if r[1] == ids["m1"])
    with psycopg.connect(db) as conn:
        cur = conn.execute(
            "INSERT INTO readings (time, meter_id, p_total) VALUES (%s, %s, %s) ON CONFLICT DO NOTHING",
            (t, mid, p + 999),
        )
        assert cur.rowcount == 0
        stored = conn.execute(
            "SELECT p_total FROM readings WHERE meter_id = %s AND time = %s", (mid, t)
        ).fetchall()
        assert stored == [(pytest.approx(p),)]
        with pytest.raises(psycopg.errors.UniqueViolation):
            conn.execute(
                "INSERT INTO readings (time, meter_id, p_total) VALUES (%s, %s, 1)", (t, mid)
            )


def test_refresh_rejects_an_inverted_range(db: str) -> None:
    from analytics.errors import DatabaseError

    with pytest.raises(DatabaseError, match="ends before it starts"):
        refresh(db, T1, T0)
