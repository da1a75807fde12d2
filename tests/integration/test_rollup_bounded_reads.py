"""A query over a rollup view reads the rows of its range, not the history kept (issue 17).

Forty days of readings (one every 5 minutes, two meters) are rolled up; then each view is
asked for a short range in the middle and EXPLAIN ANALYZE counts the rows its chunk scans
read. On the Apache build the rollup rows store the previous bucket's counters (0017); on
the Community build each energy column probes the previous bucket once per row (0024) and
columns without energy probe nothing. Either way the count follows the range: a join to
the previous bucket over the whole aggregate (0016's on Community) reads all forty days.
The same data check the worker's "first data" lookup, which reads from its lower bound on.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta

import psycopg
import pytest

from analytics import db as analytics_db
from analytics.detection import store as detection_store
from analytics.worker import store
from analytics.worker.rollups import refresh
from tests.harness.clock import session_now
from tests.integration.test_rollup_previous import _scanned

pytestmark = pytest.mark.integration

DAYS = 40
STEP = timedelta(minutes=5)


def gap_m2(start: datetime) -> tuple[datetime, datetime]:
    """When m2 is silent: 10:00-11:07 on the third day."""
    return start + timedelta(days=2, hours=10), start + timedelta(days=2, hours=11, minutes=7)


@pytest.fixture
def history(db: str) -> tuple[str, datetime, dict[str, int]]:
    """``db`` holding DAYS days of readings from ``start`` (midnight UTC), rolled up."""
    start = session_now().replace(hour=0, minute=0, second=0, microsecond=0) - timedelta(
        days=DAYS + 2
    )
    end = start + timedelta(days=DAYS)
    with psycopg.connect(db, autocommit=True) as conn:
        conn.execute("INSERT INTO sites (site_id, name) VALUES ('plant', 'Plant')")
        ids = {
            name: int(str(row[0]))
            for name in ("m1", "m2")
            if (
                row := conn.execute(
                    "INSERT INTO meters (site_id, name) VALUES ('plant', %s) RETURNING meter_id",
                    (name,),
                ).fetchone()
            )
        }
        conn.execute(
            "INSERT INTO readings (time, meter_id, p_total, q_total, v_l1n, e_imp_kwh, e_imp_kvarh)"
            " SELECT t, m.meter_id, 40 + m.meter_id, 10, 127,"
            "        extract(epoch FROM t - %(start)s) / 90, extract(epoch FROM t - %(start)s) / 360"
            " FROM generate_series(%(start)s::timestamptz, %(end)s - %(step)s, %(step)s) t"
            " CROSS JOIN meters m",
            {"start": start, "end": end, "step": STEP},
        )
        # m2 is silent for 67 minutes on the third day: buckets without an adjacent one
        conn.execute(
            "DELETE FROM readings WHERE meter_id = %s AND time >= %s AND time < %s",
            (ids["m2"], *gap_m2(start)),
        )
    refresh(db, start, end)
    return db, start, ids


def _scanned_by(conn: psycopg.Connection[tuple[object, ...]], query: str, *args: object) -> int:
    row = conn.execute(f"EXPLAIN (ANALYZE, FORMAT JSON) {query}", args).fetchone()  # type: ignore[arg-type]
    assert row is not None
    plan = row[0] if isinstance(row[0], list) else json.loads(row[0])
    return _scanned(plan[0]["Plan"])


# view, range asked for, rows of one meter in it, rows of one meter in the whole view
RANGES = {
    "readings_15m": (timedelta(hours=6), 24, DAYS * 96),
    "readings_1h": (timedelta(days=1), 24, DAYS * 24),
    "readings_1d": (timedelta(days=3), 3, DAYS),
}


@pytest.mark.parametrize("view", sorted(RANGES))
def test_energy_over_a_short_range_reads_about_that_range(
    history: tuple[str, datetime, dict[str, int]], view: str
) -> None:
    db, start, ids = history
    span, rows, whole = RANGES[view]
    lo = start + timedelta(days=DAYS // 2)
    with psycopg.connect(db) as conn:
        got = conn.execute(
            f"SELECT count(*), count(e_imp_kwh_delta) FROM {view}"
            " WHERE meter_id = %s AND bucket >= %s AND bucket < %s",
            (ids["m1"], lo, lo + span),
        ).fetchone()
        scanned = _scanned_by(
            conn,
            f"SELECT bucket, e_imp_kwh_delta FROM {view}"
            " WHERE meter_id = %s AND bucket >= %s AND bucket < %s",
            ids["m1"],
            lo,
            lo + span,
        )
    # the daily buckets are local days: a UTC range of 3 days holds 3 or 4 bucket starts
    assert got is not None and got[0] in (rows, rows + 1) and got[1] == got[0], got
    # its own rows and, on the Community build, one previous bucket per row
    assert got[0] <= scanned <= 2 * got[0] + 2, (view, scanned, whole)
    assert scanned < whole / 4


def test_columns_without_energy_probe_nothing(
    history: tuple[str, datetime, dict[str, int]],
) -> None:
    db, start, ids = history
    lo = start + timedelta(days=DAYS // 2)
    with psycopg.connect(db) as conn:
        for view, span in (
            ("readings_1m", timedelta(hours=2)),
            ("readings_15m", timedelta(days=1)),
        ):
            args = (ids["m1"], lo, lo + span)
            rows = conn.execute(
                f"SELECT count(*) FROM {view} WHERE meter_id = %s AND bucket >= %s AND bucket < %s",
                args,
            ).fetchone()
            scanned = _scanned_by(
                conn,
                f"SELECT bucket, p_total_avg, v_l1n_max FROM {view}"
                " WHERE meter_id = %s AND bucket >= %s AND bucket < %s",
                *args,
            )
            assert rows is not None and rows[0] > 0
            assert scanned == rows[0], (view, scanned, rows[0])


def test_a_delta_named_twice_is_read_once_per_row(
    history: tuple[str, datetime, dict[str, int]],
) -> None:
    """site_demand_15m sums demand_kw and e_imp_kwh_delta, both the import delta."""
    db, start, _ids = history
    lo = start + timedelta(days=DAYS // 2)
    args = (lo, lo + timedelta(days=1))
    with psycopg.connect(db) as conn:
        got = conn.execute(
            "SELECT count(*), sum(meters_reporting), bool_and(demand_kw = 4 * e_imp_kwh_delta)"
            " FROM site_demand_15m WHERE bucket >= %s AND bucket < %s",
            args,
        ).fetchone()
        scanned = _scanned_by(
            conn,
            "SELECT bucket, demand_kw, e_imp_kwh_delta FROM site_demand_15m"
            " WHERE bucket >= %s AND bucket < %s",
            *args,
        )
    assert got == (96, 192, True)
    # 192 meter rows and, on the Community build, one probe each (not one per mention)
    assert 192 <= scanned <= 2 * 192, scanned


def test_first_data_is_the_later_of_the_first_minute_and_the_bound(
    history: tuple[str, datetime, dict[str, int]],
) -> None:
    db, start, _ids = history
    with analytics_db.connect(db) as conn:
        assert store.first_data(conn, "plant", start - timedelta(days=30)) == start
        later = start + timedelta(days=7, seconds=10)
        assert store.first_data(conn, "plant", later) == later
        assert store.first_data(conn, "elsewhere", later) is None
        conn.execute("INSERT INTO sites (site_id, name) VALUES ('empty', 'No data')")
        conn.execute("INSERT INTO meters (site_id, name) VALUES ('empty', 'idle')")
        assert store.first_data(conn, "empty", start) is None


DEMAND = (
    "meter_id, bucket, samples, demand_kw, demand_kvar, p_total_avg, p_total_max,"
    " q_total_avg, s_total_avg, pf_total_avg, e_imp_kwh_delta, e_exp_kwh_delta,"
    " e_imp_kvarh_delta, e_exp_kvarh_delta"
)
SITE_DEMAND = "bucket, meters_reporting, demand_kw, demand_kvar, e_imp_kwh_delta, pf_total_avg"


@pytest.mark.parametrize(
    ("lo", "hi"),
    [
        (timedelta(0), timedelta(days=DAYS)),  # everything
        (timedelta(days=2, hours=10, minutes=30), timedelta(days=3)),  # from inside m2's gap
        (timedelta(days=5), timedelta(days=5, hours=6)),  # its first bucket's previous is before it
    ],
)
def test_demand_functions_return_the_views_rows(
    history: tuple[str, datetime, dict[str, int]], lo: timedelta, hi: timedelta
) -> None:
    """The dashboards' emusa_demand_15m() and emusa_site_demand_15m() (lag() over the range)
    against demand_15m and site_demand_15m (stored or probed previous buckets), exactly."""
    db, start, ids = history
    a, b = start + lo, start + hi
    meters = [ids["m1"], ids["m2"]]
    with psycopg.connect(db) as conn:
        fn = conn.execute(
            f"SELECT {DEMAND} FROM emusa_demand_15m(%s, %s, %s) ORDER BY 1, 2", (meters, a, b)
        ).fetchall()
        view = conn.execute(
            f"SELECT {DEMAND} FROM demand_15m WHERE bucket BETWEEN %s AND %s ORDER BY 1, 2",
            (a, b),
        ).fetchall()
        site_fn = conn.execute(
            f"SELECT {SITE_DEMAND} FROM emusa_site_demand_15m('plant', %s, %s) ORDER BY 1",
            (a, b),
        ).fetchall()
        site_view = conn.execute(
            f"SELECT {SITE_DEMAND} FROM site_demand_15m"
            " WHERE site_id = 'plant' AND bucket BETWEEN %s AND %s ORDER BY 1",
            (a, b),
        ).fetchall()
        one = conn.execute(
            f"SELECT {DEMAND} FROM emusa_demand_15m(%s, %s, %s) ORDER BY 2", ([ids["m1"]], a, b)
        ).fetchall()
    assert fn == view and len(fn) > 0
    assert site_fn == site_view
    assert one == [r for r in fn if r[0] == ids["m1"]]  # only the meters asked for
    gap_lo, gap_hi = gap_m2(start)
    if a <= gap_hi <= b:  # m2's first bucket after its gap has no previous one: one reading
        after = next(r for r in fn if r[0] == ids["m2"] and r[1] >= gap_lo)
        assert after[1] == gap_lo + timedelta(hours=1) and after[10] == 0.0, after


def test_last_minute_before_a_range_is_found_near_it_and_far_from_it(
    history: tuple[str, datetime, dict[str, int]],
) -> None:
    """Detection's last_before: the day before the range, the month before, then anywhere."""
    db, start, ids = history
    last = start + timedelta(days=DAYS) - STEP  # the last reading (and minute) of both
    gap_lo, gap_hi = gap_m2(start)
    with analytics_db.connect(db) as conn:
        assert detection_store.last_before(conn, "plant", gap_hi) == {
            ids["m1"]: gap_hi.replace(minute=5),
            ids["m2"]: gap_lo - STEP,  # the last minute before m2's silence
        }
        for later in (timedelta(hours=3), timedelta(days=5), timedelta(days=90)):
            assert detection_store.last_before(conn, "plant", last + later) == {
                ids["m1"]: last,
                ids["m2"]: last,
            }, later
        assert detection_store.last_before(conn, "plant", start) == {}
