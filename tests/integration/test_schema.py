"""The migrated schema agrees with the quantity registry and documents what BI reads."""

from __future__ import annotations

import psycopg
import pytest

from contract.quantities import QUANTITIES, counters, gauges
from tests.integration.bi_views import BI_VIEWS

pytestmark = pytest.mark.integration


def _columns(conn: psycopg.Connection[tuple[object, ...]], schema: str, rel: str) -> dict[str, str]:
    rows = conn.execute(
        "SELECT column_name, data_type FROM information_schema.columns"
        " WHERE table_schema = %s AND table_name = %s ORDER BY ordinal_position",
        (schema, rel),
    ).fetchall()
    return {str(n): str(t) for n, t in rows}


def test_readings_columns_are_the_registry(db: str) -> None:
    with psycopg.connect(db) as conn:
        cols = _columns(conn, "public", "readings")
    assert list(cols)[:3] == ["time", "meter_id", "seq"]
    quantity_cols = {k: v for k, v in cols.items() if k not in {"time", "meter_id", "seq"}}
    assert list(quantity_cols) == list(QUANTITIES), (
        "registry and readings disagree: write a migration"
    )
    assert set(quantity_cols.values()) == {"double precision"}


def test_readings_is_a_daily_hypertable_unique_per_meter_and_time(db: str) -> None:
    with psycopg.connect(db) as conn:
        dim = conn.execute(
            "SELECT column_name, time_interval FROM timescaledb_information.dimensions"
            " WHERE hypertable_name = 'readings'"
        ).fetchone()
        idx = conn.execute(
            "SELECT indexdef FROM pg_indexes WHERE tablename = 'readings' AND indexdef LIKE 'CREATE UNIQUE%'"
        ).fetchall()
    assert dim is not None and dim[0] == "time" and str(dim[1]) == "1 day, 0:00:00"
    assert any('(meter_id, "time" DESC)' in str(i[0]) for i in idx)


@pytest.mark.parametrize("rel", ["readings_1m", "readings_15m", "readings_1h", "readings_1d"])
def test_rollup_columns_follow_the_registry(db: str, rel: str) -> None:
    with psycopg.connect(db) as conn:
        cols = set(_columns(conn, "public", rel))
    expected = {"meter_id", "bucket", "samples"}
    for q in gauges():
        expected |= {f"{q.name}_avg", f"{q.name}_min", f"{q.name}_max"}
    for q in counters():
        expected |= {f"{q.name}_delta", f"{q.name}_last"}
    assert cols == expected


def test_demand_and_site_relations_exist(db: str) -> None:
    with psycopg.connect(db) as conn:
        demand = set(_columns(conn, "public", "demand_15m"))
        site = set(_columns(conn, "public", "site_demand_15m"))
    assert {"meter_id", "bucket", "demand_kw", "demand_kvar", "e_imp_kwh_delta"} <= demand
    assert {
        "site_id",
        "bucket",
        "meters_reporting",
        "demand_kw",
        "p_total_avg",
        "pf_total_avg",
    } <= site


def test_every_bi_column_is_documented(db: str) -> None:
    with psycopg.connect(db) as conn:
        rows = conn.execute(
            """
            SELECT c.relname, a.attname, col_description(c.oid, a.attnum), obj_description(c.oid, 'pg_class')
            FROM pg_class c
            JOIN pg_namespace n ON n.oid = c.relnamespace
            JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
            WHERE n.nspname = 'bi' AND c.relkind = 'v'
            """
        ).fetchall()
    views = {r[0] for r in rows}
    assert set(BI_VIEWS) <= views
    undocumented = [f"bi.{r[0]}.{r[1]}" for r in rows if not r[2]]
    assert undocumented == []
    assert all(r[3] for r in rows), "every bi view has a COMMENT"
