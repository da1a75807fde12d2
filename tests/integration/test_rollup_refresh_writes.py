"""How a refresh rewrites a window of the rollups (migration 0023 on the Apache build).

The Apache build's refresh writes every grain by upsert and deletes only the buckets whose
source rows are all gone; an UPDATE or DELETE on a hypertable is planned by opening every
chunk of it, so the old delete-and-insert made one late reading cost more with each week
of history kept. These tests check what a reader sees (buckets emptied by deleted readings
leave every grain, the buckets around them keep exact values, on both builds) and, on the
Apache build, that refreshing one minute of a long history locks only the chunks holding
that minute, also after the kept session has run the refresh often enough for PL/pgSQL to
consider a generic plan.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import psycopg
import pytest

from analytics.worker.rollups import refresh
from tests.harness.clock import session_now
from tests.integration.test_rollup_previous import Loaded, _assert_energy
from tests.integration.test_rollups import GRAINS, T0, loaded

pytestmark = pytest.mark.integration
__all__ = ["loaded"]  # the fixture, shared with test_rollups

# m1 loses a whole 15-minute bucket and the minutes on either side of it
GONE = (T0 + timedelta(minutes=43), T0 + timedelta(minutes=62))


def _grain_rows(db: str) -> dict[str, dict[tuple[int, datetime], int]]:
    with psycopg.connect(db) as conn:
        return {
            rel: {
                (int(m), b): int(s)
                for m, b, s in conn.execute(f"SELECT meter_id, bucket, samples FROM {rel}")
            }
            for rel in GRAINS
        }


def test_buckets_whose_readings_were_deleted_leave_every_grain(loaded: Loaded) -> None:
    db, ids, rows = loaded
    m1 = ids["m1"]
    before = _grain_rows(db)
    with psycopg.connect(db) as conn:
        cur = conn.execute(
            "DELETE FROM readings WHERE meter_id = %s AND time >= %s AND time < %s",
            (m1, *GONE),
        )
        deleted = cur.rowcount
    assert deleted == 19 * 6  # 10 s readings
    refresh(db, *GONE)
    after = _grain_rows(db)
    quarter = T0 + timedelta(minutes=45)
    assert (m1, quarter) in before["readings_15m"]
    assert (m1, quarter) not in after["readings_15m"]
    emptied = {(m1, T0 + timedelta(minutes=k)) for k in range(43, 62)}
    assert emptied <= before["readings_1m"].keys()
    assert after["readings_1m"].keys() == before["readings_1m"].keys() - emptied
    # the coarser buckets holding the gap lose exactly its samples, the others are untouched
    for rel in ("readings_1h", "readings_1d"):
        lost = {
            k: before[rel][k] - after[rel][k]
            for k in before[rel]
            if before[rel][k] != after[rel].get(k)
        }
        assert sum(lost.values()) == deleted, rel
        assert all(k[0] == m1 for k in lost), rel
    kept = [r for r in rows if not (r[1] == m1 and GONE[0] <= r[0] < GONE[1])]
    _assert_energy(db, kept)  # no bucket links across the gap to a bucket that is gone


def _chunks_locked(conn: psycopg.Connection[tuple[object, ...]], table: str) -> int:
    row = conn.execute(
        "SELECT count(*) FROM pg_locks l"
        " JOIN timescaledb_information.chunks c"
        "   ON l.relation = format('%%I.%%I', c.chunk_schema, c.chunk_name)::regclass"
        " WHERE l.pid = pg_backend_pid() AND format('%%I.%%I', c.hypertable_schema,"
        "   c.hypertable_name) = %s",
        (table,),
    ).fetchone()
    assert row is not None
    return int(str(row[0]))


def test_refreshing_a_minute_of_a_long_history_locks_only_its_chunks(db: str) -> None:
    start = session_now().replace(minute=0, second=0) - timedelta(weeks=21)
    with psycopg.connect(db, autocommit=True) as conn:
        conn.execute("INSERT INTO sites (site_id, name) VALUES ('plant', 'Plant')")
        conn.execute("INSERT INTO meters (site_id, name) VALUES ('plant', 'm1')")
        # one reading an hour for 20 weeks: 20 minute-rollup chunks (7 days each)
        conn.execute(
            "INSERT INTO readings (time, meter_id, p_total, e_imp_kwh)"
            " SELECT t, 1, 50, extract(epoch FROM t - %s) / 72"
            " FROM generate_series(%s::timestamptz, %s, INTERVAL '1 hour') t",
            (start, start, start + timedelta(weeks=20)),
        )
        apache = conn.execute("SHOW timescaledb.license").fetchone() == ("apache",)
    refresh(db, start, start + timedelta(weeks=20))
    at = start + timedelta(weeks=10, hours=5)
    with psycopg.connect(db, autocommit=True) as conn:
        conn.execute(
            "INSERT INTO readings (time, meter_id, p_total) VALUES (%s, 1, 90)",
            (at + timedelta(seconds=30),),
        )
    if apache:
        with psycopg.connect(db) as conn:  # one kept session, as the worker's
            assert _chunks_locked(conn, "rollup.agg_1m") == 0
            conn.commit()
            for _ in range(8):  # past PL/pgSQL's five custom plans
                conn.execute("SELECT rollup.refresh(%s, %s)", (at, at + timedelta(seconds=30)))
                locked = {
                    t: _chunks_locked(conn, t)
                    for t in ("readings", "rollup.agg_1m", "rollup.agg_15m")
                }
                conn.commit()
                assert locked["readings"] <= 1, locked
                assert locked["rollup.agg_1m"] <= 2, locked
                assert locked["rollup.agg_15m"] <= 2, locked
            with_chunks = conn.execute(
                "SELECT count(*) FROM timescaledb_information.chunks"
                " WHERE hypertable_schema = 'rollup' AND hypertable_name = 'agg_1m'"
            ).fetchone()
            assert with_chunks is not None and int(str(with_chunks[0])) >= 20
    else:
        refresh(db, at, at + timedelta(seconds=30))
    with psycopg.connect(db) as conn:
        got = conn.execute(
            "SELECT samples, p_total_avg FROM readings_1m WHERE bucket = %s", (at,)
        ).fetchone()
    assert got == (2, pytest.approx(70.0))


def test_the_catalog_says_how_this_build_refreshes_its_rollups(db: str) -> None:
    with psycopg.connect(db) as conn:
        lic = conn.execute("SHOW timescaledb.license").fetchone()
        row = conn.execute("SELECT obj_description('rollup'::regnamespace)").fetchone()
    assert lic is not None and row is not None
    build = {"apache": "Apache build", "timescale": "Community build"}[str(lic[0])]
    assert build in str(row[0]) and "readings_<grain>" in str(row[0])
