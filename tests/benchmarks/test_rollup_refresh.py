"""Apache-build rollup refresh: coarser rollups from the minute rollup (0008) against the
original function that re-aggregated raw readings for every grain (0002), same data, same
run. The scheduler's typical call is the trailing 30 minutes late in the day, when the
running day's bucket holds most of a day of raw readings."""

from __future__ import annotations

import json
import re
import statistics
import time
from datetime import UTC, datetime, timedelta

import psycopg
import pytest

from ingestor.migrate import default_directory
from tests.benchmarks import results

pytestmark = pytest.mark.benchmark

METERS = 5
DAY = datetime(2026, 11, 24, 3, 0, tzinfo=UTC)  # local midnight in Sao Paulo
END = DAY + timedelta(hours=23)  # 23:00 local: the running day holds 23 h of data


def _old_refresh_sql() -> str:
    text = (default_directory() / "0002_rollups.apache.sql").read_text()
    body = re.search(r"CREATE FUNCTION rollup\.refresh\(.*?\n\$\$;\n", text, re.S)
    assert body is not None
    return body.group(0).replace(
        "CREATE FUNCTION rollup.refresh(", "CREATE FUNCTION rollup.refresh_from_raw("
    )


def _timed(
    conn: psycopg.Connection[tuple[object, ...]], sql: str, args: tuple[object, ...], n: int
) -> float:
    runs = []
    for _ in range(n):
        t0 = time.perf_counter()
        conn.execute(sql, args)
        runs.append(time.perf_counter() - t0)
    return statistics.median(runs)


def test_refresh_from_minutes_vs_from_raw(db: str) -> None:
    with psycopg.connect(db, autocommit=True) as conn:
        if conn.execute("SHOW timescaledb.license").fetchone() != ("apache",):
            pytest.skip("the Apache-build refresh function only exists on that build")
        conn.execute("INSERT INTO sites (site_id, name) VALUES ('b', 'B')")
        for m in range(METERS):
            conn.execute("INSERT INTO meters (site_id, name) VALUES ('b', %s)", (f"m{m}",))
        t0 = time.perf_counter()
        conn.execute(
            "INSERT INTO readings (time, meter_id, v_l1n, v_l2n, v_l3n, p_total, q_total, pf_total, freq, e_imp_kwh)"
            " SELECT t, m, 127 + random(), 127 + random(), 127 + random(), 50 + random(), 10, 0.95, 60,"
            " extract(epoch FROM t - %s) / 72"
            " FROM generate_series(%s::timestamptz, %s::timestamptz - interval '1 second', '1 second') t,"
            " generate_series(1, %s) m",
            (DAY, DAY, END, METERS),
        )
        load_s = time.perf_counter() - t0
        conn.execute(_old_refresh_sql())
        conn.execute("SELECT rollup.refresh(%s, %s)", (DAY, END))  # materialise all grains once
        tail = (END - timedelta(minutes=30), END)
        old = _timed(conn, "SELECT rollup.refresh_from_raw(%s, %s)", tail, 3)
        new = _timed(conn, "SELECT rollup.refresh(%s, %s)", tail, 3)
        same = conn.execute(
            "SELECT count(*) FROM rollup.agg_1d a JOIN (SELECT meter_id, sum(samples) s FROM rollup.agg_1m GROUP BY 1) b"
            " USING (meter_id) WHERE a.samples = b.s"
        ).fetchone()
    rows = METERS * int((END - DAY).total_seconds())
    result = {
        "raw_rows": rows,
        "load_s": round(load_s, 2),
        "trailing_30min_refresh_from_raw_s": round(old, 3),
        "trailing_30min_refresh_from_minutes_s": round(new, 3),
        "speedup": round(old / new, 1),
    }
    print(json.dumps(result, indent=2))
    headline = [
        results.Row("trailing 30-min refresh from the minute rollup (0008)",
                    result["trailing_30min_refresh_from_minutes_s"], "s",
                    "original function re-aggregating raw readings (0002)",
                    result["trailing_30min_refresh_from_raw_s"]),
    ]  # fmt: skip
    results.write("rollup_refresh", "Rollup refresh (Apache build)", headline, result)
    assert same == (METERS,)
    assert new < old
