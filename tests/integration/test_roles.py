"""Least privilege: each role can do its job and nothing more."""

from __future__ import annotations

import psycopg
import pytest

from tests.integration.bi_views import BI_VIEWS
from tests.integration.roles import as_role

pytestmark = pytest.mark.integration


def _denied(conn: psycopg.Connection[tuple[object, ...]], query: str) -> None:
    with pytest.raises(psycopg.errors.InsufficientPrivilege):
        conn.execute(query)


@pytest.fixture
def seeded(db: str) -> str:
    with psycopg.connect(db) as conn:
        conn.execute("INSERT INTO sites (site_id, name) VALUES ('plant', 'Plant')")
        conn.execute("INSERT INTO meters (site_id, name) VALUES ('plant', 'm1')")
        conn.execute(
            "INSERT INTO readings (time, meter_id, p_total, e_imp_kwh)"
            " SELECT t, 1, 10, extract(epoch FROM t - '2026-11-25') / 360"
            " FROM generate_series('2026-11-25'::timestamptz, '2026-11-25 00:30', '10 s') t"
        )
    return db


def test_bi_reads_bi_views_only(seeded: str) -> None:
    with as_role(seeded, "emusa_bi") as conn:
        for view in BI_VIEWS:
            conn.execute(f"SELECT * FROM bi.{view} LIMIT 1").fetchall()
        assert conn.execute("SELECT meter FROM bi.meters").fetchall() == [("m1",)]
        for raw in (
            "public.readings",
            "public.meters",
            "public.sites",
            "public.anomalies",
            "public.ingest_rejects",
            "rollup.agg_1m",
            "public.readings_1m",
        ):
            _denied(conn, f"SELECT 1 FROM {raw} LIMIT 1")
        # without USAGE on schema public the raw tables are not even visible by name
        with pytest.raises(psycopg.errors.UndefinedTable):
            conn.execute("SELECT 1 FROM readings LIMIT 1")


def test_bi_cannot_write_anything(seeded: str) -> None:
    with as_role(seeded, "emusa_bi") as conn:
        # the privileges hold even when the session turns its read-only default off
        conn.execute("SET default_transaction_read_only = off")
        with pytest.raises(
            (psycopg.errors.InsufficientPrivilege, psycopg.errors.ObjectNotInPrerequisiteState)
        ):
            conn.execute("DELETE FROM bi.anomalies")
        _denied(
            conn,
            "INSERT INTO public.summaries (site_id, period_start, period_end, text_pt, text_en)"
            " VALUES ('plant', now(), now() + interval '1 h', 'x', 'x')",
        )
        _denied(conn, "UPDATE public.sites SET name = 'x'")
        _denied(conn, "INSERT INTO public.readings (time, meter_id) VALUES (now(), 1)")
        _denied(conn, "CREATE TABLE public.evil (x int)")
        _denied(conn, "CREATE TABLE bi.evil (x int)")
        _denied(conn, "CREATE VIEW bi.evil AS SELECT 1")


def test_ingestor_writes_raw_data_only(seeded: str) -> None:
    with as_role(seeded, "emusa_ingestor") as conn:
        conn.execute("INSERT INTO meters (site_id, name) VALUES ('plant', 'm2')")
        conn.execute(
            "INSERT INTO readings (time, meter_id, p_total) VALUES (now(), 1, 5) ON CONFLICT DO NOTHING"
        )
        conn.execute(
            "INSERT INTO ingest_rejects (topic, reason, payload, payload_bytes) VALUES ('t', 'r', 'x', 1)"
        )
        _denied(conn, "DELETE FROM readings")
        _denied(conn, "UPDATE readings SET p_total = 0")
        _denied(
            conn,
            "INSERT INTO anomalies (site_id, kind, severity, started_at, message_pt, message_en)"
            " VALUES ('plant', 'x', 'info', now(), 'x', 'x')",
        )
        _denied(conn, "DROP TABLE readings")


def test_grafana_is_read_only(seeded: str) -> None:
    with as_role(seeded, "emusa_grafana") as conn:
        conn.execute("SET default_transaction_read_only = off")  # privileges hold regardless
        assert conn.execute("SELECT count(*) FROM readings").fetchone() == (181,)
        conn.execute("SELECT * FROM demand_15m LIMIT 1").fetchall()
        conn.execute("SELECT * FROM site_readings_1h LIMIT 1").fetchall()
        conn.execute("SELECT * FROM bi.energy_daily LIMIT 1").fetchall()
        _denied(conn, "INSERT INTO readings (time, meter_id) VALUES (now(), 1)")
        _denied(conn, "UPDATE sites SET name = 'x'")
        _denied(conn, "SELECT 1 FROM ingest_rejects")


def test_analytics_writes_events_and_refreshes_rollups(seeded: str) -> None:
    with as_role(seeded, "emusa_analytics") as conn:
        conn.execute(
            "INSERT INTO anomalies (site_id, meter_id, kind, severity, started_at, message_pt, message_en)"
            " VALUES ('plant', 1, 'frequency', 'warning', now(), 'x', 'x')"
        )
        conn.execute(
            "INSERT INTO summaries (site_id, period_start, period_end, text_pt, text_en)"
            " VALUES ('plant', '2026-11-25 03:00Z', '2026-11-25 09:00Z', 'x', 'x')"
        )
        lic = conn.execute("SHOW timescaledb.license").fetchone()
        assert lic is not None
        if lic[0] == "apache":
            conn.execute("SELECT rollup.refresh('2026-11-25', '2026-11-25 00:30')")
            assert conn.execute("SELECT sum(samples) FROM rollup.agg_1m").fetchone() == (181,)
        _denied(conn, "INSERT INTO readings (time, meter_id) VALUES (now(), 1)")
        _denied(conn, "DELETE FROM meters")


def test_public_cannot_call_the_refresh_functions(seeded: str) -> None:
    with psycopg.connect(seeded) as conn:
        lic = conn.execute("SHOW timescaledb.license").fetchone()
    assert lic is not None
    with as_role(seeded, "emusa_bi") as conn:
        if lic[0] == "apache":
            _denied(conn, "SELECT rollup.refresh(now(), now())")
        else:
            # schema-qualified: emusa_bi cannot even look it up in public (0012)
            _denied(conn, "CALL public.refresh_continuous_aggregate('rollup.agg_1m', NULL, NULL)")


def test_security_definer_functions_run_only_for_the_roles_that_need_them(seeded: str) -> None:
    """emusa_tariff_period() (SECURITY DEFINER) is not open to PUBLIC: analytics and Grafana
    may run it, the ingestor may not, nor emusa_bi, whose bi views use the set-based
    calendar instead (0021)."""
    with psycopg.connect(seeded, autocommit=True) as conn:
        open_to_public = conn.execute(
            "SELECT p.oid::regprocedure::text FROM pg_proc p"
            " JOIN pg_namespace n ON n.oid = p.pronamespace"
            " WHERE p.prosecdef AND n.nspname IN ('public', 'rollup', 'bi')"
            " AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.objid = p.oid AND d.deptype = 'e')"
            " AND has_function_privilege('public', p.oid, 'EXECUTE')"
        ).fetchall()
        allowed = conn.execute(
            "SELECT r FROM unnest(ARRAY['emusa_ingestor', 'emusa_analytics', 'emusa_grafana',"
            " 'emusa_bi']) AS r"
            " WHERE has_function_privilege(r, 'emusa_tariff_period(text, timestamptz)', 'EXECUTE')"
        ).fetchall()
    assert open_to_public == []
    assert allowed == [("emusa_analytics",), ("emusa_grafana",)]
    with as_role(seeded, "emusa_ingestor") as conn:
        _denied(conn, "SELECT emusa_tariff_period('plant', '2026-11-24 21:00Z')")
    with as_role(seeded, "emusa_grafana") as conn:
        row = conn.execute("SELECT emusa_tariff_period('plant', '2026-11-24 21:00Z')").fetchone()
        assert row == ("ponta",)


def test_the_set_based_calendar_reaches_the_readers_through_their_rights(seeded: str) -> None:
    """emusa_tariff_period_local() (0021) is inlined into the caller's query, so it reads the
    calendar views with the caller's rights: analytics, Grafana and emusa_bi (through the
    bi views) may, the ingestor and PUBLIC may not; emusa_bi still cannot name them."""
    calendar = "SELECT period FROM emusa_tariff_period_local('plant', '2026-11-24 18:30')"
    with psycopg.connect(seeded, autocommit=True) as conn:
        lic = conn.execute("SHOW timescaledb.license").fetchone()
        if lic == ("apache",):
            conn.execute("SELECT rollup.refresh('2026-11-25', '2026-11-25 00:30')")
        callers = conn.execute(
            "SELECT r FROM unnest(ARRAY['public', 'emusa_ingestor', 'emusa_analytics',"
            " 'emusa_grafana', 'emusa_bi']) AS r WHERE has_function_privilege(r,"
            " 'emusa_tariff_period_local(text, timestamp)', 'EXECUTE')"
        ).fetchall()
        # no bi view calls the per-instant function any more
        per_instant = conn.execute(
            "SELECT viewname FROM pg_views WHERE schemaname = 'bi'"
            " AND definition LIKE '%emusa_tariff_period(%'"
        ).fetchall()
    assert callers == [("emusa_analytics",), ("emusa_grafana",), ("emusa_bi",)]
    assert per_instant == []
    for role in ("emusa_analytics", "emusa_grafana"):
        with as_role(seeded, role) as conn:
            assert conn.execute(calendar).fetchall() == [("ponta",)]
            # -infinity: all day fora_ponta; 2000-01-01: fora_ponta, 18-21 h ponta, fora_ponta;
            # each version also one row for days without ponta
            assert conn.execute("SELECT count(*) FROM tariff_calendar").fetchone() == (6,)
    with as_role(seeded, "emusa_ingestor") as conn:
        _denied(conn, calendar)
        _denied(conn, "SELECT 1 FROM tariff_calendar_lookup")
    with as_role(seeded, "emusa_bi") as conn:
        # 21:00-21:30 local on a Tuesday: just after the ponta window (18-21 h)
        assert conn.execute("SELECT DISTINCT tariff_period FROM bi.demand_15m").fetchall() == [
            ("fora_ponta",)
        ]
        assert conn.execute("SELECT DISTINCT tariff_period FROM bi.site_demand_15m").fetchall() == [
            ("fora_ponta",)
        ]
        plan = "\n".join(
            str(r[0]) for r in conn.execute("EXPLAIN SELECT * FROM bi.energy_daily").fetchall()
        )
        assert "emusa_tariff_period" not in plan  # inlined: no call per row
        for name in ("public.tariff_calendar_lookup", "public.tariff_national_holidays"):
            _denied(conn, f"SELECT 1 FROM {name}")
        _denied(conn, "SELECT * FROM public.emusa_tariff_period_local('plant', now()::timestamp)")
        _denied(conn, "SELECT public.emusa_tariff_period('plant', '2026-11-24 21:00Z')")


@pytest.mark.parametrize("role", ["emusa_grafana", "emusa_bi", "emusa_analytics"])
def test_reader_logins_run_without_jit(seeded: str, role: str) -> None:
    # migration 0020: compiling a year-long dashboard query cost more than running it
    with as_role(seeded, role) as conn:
        assert conn.execute("SHOW jit").fetchone() == ("off",)
        source = conn.execute("SELECT source FROM pg_settings WHERE name = 'jit'").fetchone()
        assert source == ("user",)  # the role's default, not the server's
