"""Migration 0016: the plant's second energy channel (e_b_kwh) is rolled up like e_imp_kwh.

Both counters get the same readings (with a reset and a NULL); every grain, the site totals
and bi.readings_1m must give channel B exactly the energy they give channel A.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import psycopg
import pytest

from analytics.worker.rollups import refresh

pytestmark = pytest.mark.integration

T0 = datetime(2026, 11, 24, 22, 0, tzinfo=UTC)
T1 = T0 + timedelta(hours=3)
STEP = timedelta(seconds=30)
RESET = datetime(2026, 11, 24, 23, 40, 30, tzinfo=UTC)
NULL_AT = datetime(2026, 11, 25, 0, 5, 0, tzinfo=UTC)
RELS = ("readings_1m", "readings_15m", "readings_1h", "readings_1d")


@pytest.fixture
def loaded(db: str) -> tuple[str, list[int]]:
    with psycopg.connect(db) as conn:
        conn.execute("INSERT INTO sites (site_id, name) VALUES ('plant', 'Plant')")
        ids = []
        for name in ("ch30_canal_1", "ch30_canal_2"):
            row = conn.execute(
                "INSERT INTO meters (site_id, name) VALUES ('plant', %s) RETURNING meter_id",
                (name,),
            ).fetchone()
            assert row is not None
            ids.append(int(row[0]))
        with conn.cursor().copy(
            "COPY readings (time, meter_id, p_total, e_imp_kwh, e_b_kwh) FROM STDIN"
        ) as copy:
            for k, mid in enumerate(ids):
                counter, t = 5000.0 * (k + 1), T0
                while t < T1:
                    counter = 0.5 if (k == 0 and t == RESET) else counter + 0.4 + 0.1 * k
                    e = None if t == NULL_AT else counter
                    copy.write_row((t, mid, 48.0 + k, e, e))
                    t += STEP
    refresh(db, T0, T1)
    return db, ids


@pytest.mark.parametrize("rel", RELS)
def test_channel_b_energy_equals_channel_a_for_the_same_counter(
    loaded: tuple[str, list[int]], rel: str
) -> None:
    db, _ids = loaded
    with psycopg.connect(db) as conn:
        rows = conn.execute(
            f"SELECT e_imp_kwh_delta, e_b_kwh_delta, e_imp_kwh_last, e_b_kwh_last FROM {rel}"
        ).fetchall()
    assert rows
    assert sum(r[0] or 0 for r in rows) > 100  # real energy went through the rollup
    for a_delta, b_delta, a_last, b_last in rows:
        assert b_delta == pytest.approx(a_delta, rel=1e-12)
        assert b_last == a_last


@pytest.mark.parametrize("grain", ["1m", "1h", "1d"])
def test_the_site_total_sums_channel_b_of_both_meters(
    loaded: tuple[str, list[int]], grain: str
) -> None:
    db, _ids = loaded
    with psycopg.connect(db) as conn:
        site = conn.execute(
            f"SELECT bucket, meters_reporting, e_imp_kwh_delta, e_b_kwh_delta"
            f" FROM site_readings_{grain} ORDER BY bucket"
        ).fetchall()
        per_meter = dict(
            conn.execute(
                f"SELECT bucket, sum(e_b_kwh_delta) FROM readings_{grain} GROUP BY bucket"
            ).fetchall()
        )
    assert {r[1] for r in site} == {2}
    for bucket, _n, a, b in site:
        assert b == pytest.approx(per_meter[bucket], rel=1e-12)
        assert b == pytest.approx(a, rel=1e-12)


def test_bi_readings_carry_channel_b_documented(loaded: tuple[str, list[int]]) -> None:
    db, _ids = loaded
    with psycopg.connect(db) as conn:
        total = conn.execute("SELECT sum(e_b_kwh), sum(e_imp_kwh) FROM bi.readings_1m").fetchone()
        comment = conn.execute(
            "SELECT col_description('bi.readings_1m'::regclass, attnum) FROM pg_attribute"
            " WHERE attrelid = 'bi.readings_1m'::regclass AND attname = 'e_b_kwh'"
        ).fetchone()
    assert total is not None and total[0] == pytest.approx(total[1], rel=1e-12) and total[0] > 0
    assert comment is not None and "channel B" in str(comment[0])
