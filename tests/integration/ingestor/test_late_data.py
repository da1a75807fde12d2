"""Backfills and late data reach every rollup, on both builds, as the production roles.

The same tests run on the Apache-only build (rollups are tables) and on Community
(continuous aggregates: run the suite with ``TEST_DSN`` pointing at a Community server).
Before each check the rollups are made current up to a later instant (``_settle``), as
the refresh policies keep them in production: on Community that moves the aggregates'
watermark past the data, so only what was really materialized shows (real-time
aggregation would otherwise show raw readings not yet in the rollups); on Apache it is
a refresh elsewhere, harmless.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
import pytest
from psycopg.conninfo import make_conninfo

from analytics import config
from analytics.__main__ import main
from analytics.worker import rollups
from analytics.worker.registry import scheduled
from contract import Reading
from ingestor.migrate import set_role_passwords
from ingestor.writer import Writer
from tests.harness.services import Broker
from tests.harness.worker import worker_context
from tests.integration.analytics import history
from tests.integration.ingestor.conftest import make_config, publisher, running, wait_until

pytestmark = pytest.mark.integration

LATE = datetime(2026, 11, 20, 14, 58, tzinfo=UTC)  # 11:58 local; a 15-min and hour edge at 15:00
NOW = LATE + timedelta(days=10)  # the worker's clock: the readings arrive ten days late
LOCAL_DAY = datetime(2026, 11, 20, 3, 0, tzinfo=UTC)  # local midnight of LATE
ROLLUPS = ("readings_1m", "demand_15m", "readings_1h", "readings_1d")


@pytest.fixture
def roles(db: str) -> dict[str, str]:
    """DSNs of the production roles (the ingestor writes, the worker refreshes)."""
    set_role_passwords(
        db, {"EMUSA_INGESTOR_DB_PASSWORD": "pw-i", "EMUSA_ANALYTICS_DB_PASSWORD": "pw-a"}
    )
    return {
        "admin": db,
        "ingestor": make_conninfo(db, user="emusa_ingestor", password="pw-i"),
        "analytics": make_conninfo(db, user="emusa_analytics", password="pw-a"),
    }


def _settle(dsn: str, at: datetime) -> None:
    """Rollups current up to ``at``: one reading there (a meter of its own), refreshed.
    A Community aggregate's watermark is the end of its last materialized bucket, so a
    refresh materializing nothing would not move it."""
    ids = history.add_site(dsn, "settle", ("clock",))
    with psycopg.connect(dsn) as conn:
        conn.execute(
            "INSERT INTO readings (time, meter_id, p_total) VALUES (%s, %s, 1)", (at, ids["clock"])
        )
    rollups.refresh(dsn, at, at + timedelta(minutes=1))


def _license(dsn: str) -> str:
    with psycopg.connect(dsn) as conn:
        row = conn.execute("SHOW timescaledb.license").fetchone()
    assert row is not None
    return str(row[0])


def _samples(dsn: str, rel: str, start: datetime, end: datetime) -> dict[datetime, int]:
    """Samples per bucket of ``rel`` in [start, end), all meters together."""
    with psycopg.connect(dsn) as conn:
        rows = conn.execute(
            f"SELECT bucket, sum(samples)::int FROM {rel}"  # our constant relation names
            " WHERE bucket >= %s AND bucket < %s GROUP BY bucket ORDER BY bucket",
            (start, end),
        ).fetchall()
    return {b: n for b, n in rows}


def _raw(dsn: str, start: datetime, end: datetime) -> int:
    with psycopg.connect(dsn) as conn:
        row = conn.execute(
            "SELECT count(*) FROM readings WHERE time >= %s AND time < %s", (start, end)
        ).fetchone()
    assert row is not None
    return int(row[0])


def test_refresh_rollups_over_five_minutes_as_emusa_analytics(
    roles: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    ids = history.add_site(roles["admin"], "plant", ("m1", "m2"))
    start, end = LATE + timedelta(seconds=30), LATE + timedelta(minutes=5, seconds=30)
    for i, meter_id in enumerate(ids.values()):
        history.write(roles["admin"], meter_id, i, start, end, step=10)
    _settle(roles["admin"], LATE + timedelta(days=2))
    assert _samples(roles["admin"], "readings_1m", LATE, end) == {}  # not refreshed yet

    args = ["--database-url", roles["analytics"], "refresh-rollups"]
    span = ["--from", start.isoformat(), "--to", end.isoformat()]  # five minutes, mid-bucket
    assert main([*args, *span]) == 0
    assert "refreshed" in capsys.readouterr().out

    raw = _raw(roles["admin"], start, end)
    assert raw == 2 * 30
    minutes = _samples(roles["admin"], "readings_1m", LATE, end + timedelta(minutes=1))
    assert list(minutes) == [LATE + timedelta(minutes=m) for m in range(6)]
    assert sum(minutes.values()) == raw
    assert _samples(roles["admin"], "readings_15m", LATE - timedelta(minutes=13), end) == {
        LATE - timedelta(minutes=13): 2 * 9,  # 14:45 bucket: 14:58:30 .. 14:59:50
        LATE + timedelta(minutes=2): raw - 2 * 9,
    }
    assert sum(_samples(roles["admin"], "readings_1h", LATE - timedelta(hours=1), end).values())
    assert _samples(roles["admin"], "readings_1d", LOCAL_DAY, LOCAL_DAY + timedelta(days=1)) == {
        LOCAL_DAY: raw
    }


def test_late_readings_through_mqtt_reach_every_rollup_in_the_worker_cycle(
    roles: dict[str, str], mqtt_broker: Broker, topic_root: str, tmp_path: Path
) -> None:
    """A gateway replaying its queue ten days later: the readings go through the broker and
    the ingestor (as emusa_ingestor) and the worker's ``refresh_rollups`` job (as
    emusa_analytics) puts them in every rollup, with no manual command."""
    _settle(roles["admin"], NOW - timedelta(days=1))
    items = [
        Reading("plant", meter, LATE + timedelta(seconds=s), s, {"p_total": 40.0 + s % 7,
                "e_imp_kwh": 1000.0 + s / 100})
        for s in range(240)
        for meter in ("m1", "m2")
    ]  # fmt: skip
    cfg = make_config(roles["ingestor"], mqtt_broker, topic_root, tmp_path)
    # the ingestor's clock too (on the wall clock these readings would be refused as older
    # than the 400-day retention from late December 2027, as future before 20 Nov 2026)
    with running(cfg, clock=lambda: NOW) as service:
        with publisher(mqtt_broker) as pub:
            pub.publish_readings(topic_root, items)
            pub.wait_all(30)
        wait_until(lambda: service.counters.acked == len(items), 30, "480 acknowledgements")
    end = LATE + timedelta(minutes=4)
    assert _raw(roles["admin"], LATE, end) == len(items)
    assert _samples(roles["admin"], "readings_1m", LATE, end) == {}  # stored, not rolled up

    ctx = worker_context(config.load({"database_url": roles["analytics"]}, env={}))
    cycle = {job.name: job for job in scheduled(ctx)}
    assert cycle["refresh_rollups"].run(NOW) >= 1  # the logged ranges were refreshed

    per_bucket = {
        "readings_1m": {LATE + timedelta(minutes=m): 2 * 60 for m in range(4)},
        "demand_15m": {LATE - timedelta(minutes=13): 2 * 120, LATE + timedelta(minutes=2): 2 * 120},
        "readings_1h": {
            LATE - timedelta(minutes=58): 2 * 120,
            LATE + timedelta(minutes=2): 2 * 120,
        },
        "readings_1d": {LOCAL_DAY: len(items)},
    }
    for rel, expected in per_bucket.items():
        got = _samples(roles["admin"], rel, LATE - timedelta(hours=12), end + timedelta(hours=12))
        assert got == expected, rel
    with psycopg.connect(roles["admin"]) as conn:
        demand = conn.execute(
            "SELECT demand_kw FROM demand_15m WHERE bucket = %s ORDER BY meter_id",
            (LATE + timedelta(minutes=2),),
        ).fetchall()
        left = conn.execute("SELECT count(*) FROM rollup.invalidations").fetchone()
    # e_imp_kwh advances 0.01 kWh per second: 119 s of advance in the interval (+ the step
    # from the previous interval's last reading), times 4 for the hourly rate
    assert [d for (d,) in demand] == pytest.approx([1.20 * 4] * 2)
    assert left == (0,)


def test_one_very_old_reading_refreshes_only_what_it_touched(roles: dict[str, str]) -> None:
    """A batch holding one reading 200 days old beside today's: the rollups get both, and
    nothing in between is re-aggregated (readings written there behind the ingestor's back
    stay out of the rollups, which a refresh of the whole span would have put in)."""
    ids = history.add_site(roles["admin"], "plant", ("m1", "m2"))
    old, middle = LATE - timedelta(days=200), LATE - timedelta(days=100)
    history.write(roles["admin"], ids["m1"], 1, middle, middle + timedelta(minutes=2), step=10)
    _settle(roles["admin"], LATE + timedelta(days=2))
    batch = [Reading("plant", "m2", old, 1, {"p_total": 5.0})] + [
        Reading("plant", m, LATE + timedelta(seconds=s), s, {"p_total": 7.0})
        for s in range(30)
        for m in ("m1", "m2")
    ]
    with Writer(roles["ingestor"]) as w:
        assert w.write(batch).inserted == len(batch)
    with psycopg.connect(roles["admin"]) as conn:
        logged = conn.execute(
            "SELECT range_start, range_end FROM rollup.invalidations ORDER BY range_start"
        ).fetchall()
    assert logged == [(old, old), (LATE, LATE + timedelta(seconds=29))]

    assert rollups.refresh_pending(roles["analytics"]) == 2
    assert rollups.refresh_pending(roles["analytics"]) == 0
    for rel in ROLLUPS:
        far = timedelta(days=1)
        assert sum(_samples(roles["admin"], rel, old - far, old + far).values()) == 1, rel
        assert sum(_samples(roles["admin"], rel, LATE - far, LATE + far).values()) == 60, rel
        assert _samples(roles["admin"], rel, middle - far, middle + far) == {}, rel


def test_refresh_pending_as_the_worker_role_is_idempotent(
    roles: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    ids = history.add_site(roles["admin"], "plant", ("m1",))
    history.write(roles["admin"], ids["m1"], 1, LATE, LATE + timedelta(minutes=3), step=10)
    _settle(roles["admin"], LATE + timedelta(days=2))
    with psycopg.connect(roles["ingestor"]) as conn:
        conn.execute(
            "INSERT INTO rollup.invalidations (range_start, range_end) VALUES (%s, %s), (%s, %s)",
            (LATE, LATE + timedelta(minutes=1), LATE + timedelta(minutes=1), LATE + timedelta(minutes=2, seconds=50)),
        )  # fmt: skip
    assert main(["--database-url", roles["analytics"], "refresh-rollups", "--pending"]) == 0
    assert "refreshed 2 pending ranges" in capsys.readouterr().out
    once = _samples(roles["admin"], "readings_1m", LATE, LATE + timedelta(minutes=3))
    assert once == {LATE + timedelta(minutes=m): 6 for m in range(3)}
    rollups.refresh(roles["analytics"], LATE, LATE + timedelta(minutes=2))
    assert _samples(roles["admin"], "readings_1m", LATE, LATE + timedelta(minutes=3)) == once


def test_the_worker_role_may_refresh_the_rollups_of_either_build(roles: dict[str, str]) -> None:
    """Branches on ``SHOW timescaledb.license``: the two builds grant the refresh in
    different ways. Community: continuous aggregates, owned by emusa_rollup_owner (whose
    member emusa_analytics passes refresh_continuous_aggregate's ownership check), found
    by grain, windows ending where their refresh policies start; the ingestor logs only
    readings older than 12 hours. Apache: tables refreshed by SECURITY DEFINER functions
    that emusa_analytics may execute; the ingestor logs every batch."""
    with psycopg.connect(roles["admin"]) as conn:
        if _license(roles["admin"]) == "apache":
            rights = conn.execute(
                "SELECT has_function_privilege('emusa_analytics', f, 'EXECUTE')"
                " FROM unnest(ARRAY['rollup.refresh(timestamptz,timestamptz)',"
                " 'rollup.refresh_pending()']) AS f"
            ).fetchall()
            late = conn.execute("SELECT rollup.late_before() = 'infinity'").fetchone()
            assert rights == [(True,), (True,)]
            assert late == (True,)
            return
        owners = conn.execute(
            "SELECT view_name, view_owner::text FROM timescaledb_information.continuous_aggregates"
            " WHERE view_schema = 'rollup' ORDER BY view_name"
        ).fetchall()
        member = conn.execute(
            "SELECT pg_has_role('emusa_analytics', 'emusa_rollup_owner', 'USAGE'),"
            " rollup.late_before() = now() - INTERVAL '12 hours'"
        ).fetchone()
        policies = dict(
            conn.execute(
                "SELECT c.view_name, (j.config ->> 'end_offset')::interval"
                " FROM timescaledb_information.jobs j"
                " JOIN timescaledb_information.continuous_aggregates c"
                "   ON (c.materialization_hypertable_schema, c.materialization_hypertable_name)"
                "    = (j.hypertable_schema, j.hypertable_name)"
                " WHERE j.proc_name = 'policy_refresh_continuous_aggregate'"
            ).fetchall()
        )
        windows = conn.execute(
            "SELECT cagg::text, window_start, window_end FROM rollup.refresh_windows(%s, %s)",
            (LATE, LATE),
        ).fetchall()
        grains = dict(
            conn.execute("SELECT 'agg_' || grain, end_offset FROM rollup.refresh_grains").fetchall()
        )
    assert owners and {o for _n, o in owners} == {"emusa_rollup_owner"}
    assert member == (True, True)
    # every aggregate has a window (found by its grain); they stop where the policies start
    assert sorted(c.removeprefix("rollup.") for c, _s, _e in windows) == [n for n, _o in owners]
    for name, _owner in owners:
        assert policies[name] == grains[name.split("_v")[0]], name
    daily = next((s, e) for c, s, e in windows if c == "rollup.agg_1d")
    assert daily == (LOCAL_DAY, LOCAL_DAY + timedelta(days=1))
