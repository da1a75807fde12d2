# ruff: noqa: RUF001  (pt-BR labels of the dashboards and events)
"""Every dashboard query, expanded as Grafana would, run as emusa_grafana on simulated history.

The database (conftest ``dashboard_data``) holds 2 days of 1-second readings of two
meters and 28 older days that exist only in the rollups. Each query runs for the ranges
an operator picks (1 h, 24 h, 7 days, 30 days, all ending at the newest reading) and must
return the columns its panel reads.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import psycopg
import pytest
from psycopg import sql

from tests.integration.grafana import dashboards as dash
from tests.integration.grafana.dataset import METERS, SITE, Dataset
from tests.integration.grafana.macros import Context, expand
from tests.integration.grafana.runner import Result, connect, run

pytestmark = pytest.mark.integration

RANGES = {"1h": timedelta(hours=1), "24h": timedelta(days=1), "7d": timedelta(days=7), "30d": timedelta(days=30)}  # fmt: skip
QUERIES = dash.all_queries()
NUMERIC = {"float8", "float4", "numeric", "int8", "int4", "int2"}
# Panels that legitimately return no row for some ranges of this data set.
MAY_BE_EMPTY = {"Ultrapassagens de demanda (acima de contratada + 5%)"}


def context(data: Dataset, span: timedelta, uid: str) -> Context:
    meter: str | list[str] = METERS[0] if uid == "emusa-formas-de-onda" else list(METERS)
    # ending at the newest reading, as a dashboard refreshed just after it (with the end of
    # the data set instead, a session starting at local midnight would have no reading "today")
    return Context(data.newest - span, data.newest, {"site": SITE, "meter": meter})


@pytest.fixture(scope="module")
def conn(dashboard_data: Dataset) -> Iterator[psycopg.Connection[tuple[Any, ...]]]:
    with connect(dashboard_data.dsn) as c:
        yield c


def check_columns(q: dash.Query, res: Result) -> None:
    """The columns the panel reads exist, with the types Grafana needs."""
    panel = q.panel
    types = dict(zip(res.columns, res.types, strict=True))
    if q.where.startswith("annotation"):
        assert {"time", "timeend", "text", "tags"} <= set(types), res.columns
        return
    if q.where.startswith("variable"):
        assert {"__text", "__value"} <= set(types) or len(types) == 1, res.columns
        return
    assert panel is not None
    kind = panel["type"]
    if q.fmt == "time_series":
        assert res.columns[0] == "time" and types["time"] == "timestamptz", res.columns
        values = [c for c in res.columns[1:] if c != "metric"]
        assert values and all(types[c] in NUMERIC for c in values), types
        if "metric" in types:
            assert types["metric"] == "text"
    elif kind in ("stat", "gauge"):
        regex = panel["options"]["reduceOptions"]["fields"].strip("/")
        shown = [c for c in res.columns if re.search(regex, c)]
        # a text value is shown only through the panel's value mappings (pt-BR labels)
        ok = NUMERIC | ({"text"} if panel["fieldConfig"]["defaults"].get("mappings") else set())
        assert shown and all(types[c] in ok for c in shown), (regex, types)
    elif kind == "xychart":
        assert res.columns[0] == "t_ms"
        ys = [o["matcher"]["options"] for o in panel["fieldConfig"]["overrides"]]
        assert set(ys) <= set(res.columns[1:]) and all(types[c] in NUMERIC for c in res.columns)
    display = panel["fieldConfig"]["defaults"].get("displayName", "")
    for name in re.findall(r"\$\{__data\.fields\.(\w+)\}", display):
        assert name in types, f"displayName needs column {name}"
    for override in panel["fieldConfig"]["overrides"]:
        if override["matcher"]["id"] == "byName" and kind in ("table", "stat"):
            assert override["matcher"]["options"] in types, override["matcher"]["options"]


@pytest.mark.parametrize("span", list(RANGES), ids=list(RANGES))
@pytest.mark.parametrize("q", QUERIES, ids=[q.id for q in QUERIES])
def test_query_returns_what_its_panel_needs(
    conn: psycopg.Connection[tuple[Any, ...]], dashboard_data: Dataset, q: dash.Query, span: str
) -> None:
    res = run(conn, expand(q.sql, context(dashboard_data, RANGES[span], q.dashboard)))
    check_columns(q, res)
    title = q.panel["title"] if q.panel else ""
    if title not in MAY_BE_EMPTY:
        assert res.rows, f"{q.id} returned no row for {span}"


def _query(uid: str, title: str) -> dash.Query:
    return next(q for q in QUERIES if q.dashboard == uid and q.panel and q.panel["title"] == title)


def _run(
    conn: psycopg.Connection[tuple[Any, ...]], data: Dataset, q: dash.Query, span: timedelta
) -> Result:
    return run(conn, expand(q.sql, context(data, span, q.dashboard)))


def _latest(dsn: str, meter: str) -> dict[str, Any]:
    with psycopg.connect(dsn) as c, c.cursor(row_factory=psycopg.rows.dict_row) as cur:
        cur.execute(
            "SELECT r.* FROM readings r JOIN meters m USING (meter_id) WHERE m.name = %s"
            " ORDER BY r.time DESC LIMIT 1",
            (meter,),
        )
        row = cur.fetchone()
    assert row
    return row


def _phase(ys: list[float]) -> float:
    """Phase (radians) of a sampled sine over a whole number of cycles."""
    n = len(ys)
    s = sum(y * math.sin(2 * math.pi * 2 * k / n) for k, y in enumerate(ys))
    c = sum(y * math.cos(2 * math.pi * 2 * k / n) for k, y in enumerate(ys))
    return math.atan2(c, s)


def test_waveform_is_three_phases_120_degrees_apart_with_sqrt2_rms_amplitude(
    conn: psycopg.Connection[tuple[Any, ...]], dashboard_data: Dataset
) -> None:
    latest = _latest(dashboard_data.dsn, METERS[0])
    res = _run(
        conn,
        dashboard_data,
        _query("emusa-formas-de-onda", "Tensões de linha R/S/T (V)"),
        timedelta(minutes=5),
    )
    t = res.column("t_ms")
    assert t[-1] == pytest.approx(2000 / latest["freq"], abs=0.01)  # two cycles at the measured Hz
    cols = res.columns[1:]
    for col, rms in zip(cols, (latest["v_l12"], latest["v_l23"], latest["v_l31"]), strict=True):
        assert max(res.column(col)) == pytest.approx(math.sqrt(2) * rms, rel=2e-3)
    ys = [res.column(c)[:-1] for c in cols]  # 200 samples = 2 whole cycles
    phases = [_phase(y) for y in ys]
    for a, b in ((0, 1), (1, 2), (2, 0)):
        lag = math.degrees(phases[a] - phases[b]) % 360
        assert lag == pytest.approx(120, abs=0.5)
    cur = _run(
        conn,
        dashboard_data,
        _query("emusa-formas-de-onda", "Correntes R/S/T (A)"),
        timedelta(minutes=5),
    )
    assert max(cur.column(cur.columns[1])) == pytest.approx(math.sqrt(2) * latest["i_l1"], rel=2e-3)


def test_live_kpis_show_the_latest_reading_of_each_meter_and_the_site_total(
    conn: psycopg.Connection[tuple[Any, ...]], dashboard_data: Dataset
) -> None:
    one_h = timedelta(hours=1)
    latest = {m: _latest(dashboard_data.dsn, m) for m in METERS}
    kw = _run(conn, dashboard_data, _query("emusa-visao-geral", "Potência ativa"), one_h)
    assert dict(kw.rows) == pytest.approx({m: latest[m]["p_total"] for m in METERS})
    total = _run(conn, dashboard_data, _query("emusa-visao-geral", "Potência ativa total"), one_h)
    assert total.rows[0][0] == pytest.approx(sum(latest[m]["p_total"] for m in METERS))
    vll = _run(conn, dashboard_data, _query("emusa-visao-geral", "Tensão LL média"), one_h)
    r = latest[METERS[0]]
    assert dict(vll.rows)[METERS[0]] == pytest.approx((r["v_l12"] + r["v_l23"] + r["v_l31"]) / 3)
    today = _run(conn, dashboard_data, _query("emusa-visao-geral", "Energia hoje"), one_h)
    site_today = _run(
        conn, dashboard_data, _query("emusa-visao-geral", "Energia hoje (site)"), one_h
    )
    assert site_today.rows[0][0] == pytest.approx(sum(v for _, v in today.rows))
    assert all(v >= 0 for _, v in today.rows)


def _plan(conn: psycopg.Connection[tuple[Any, ...]], sql: str) -> str:
    with conn.cursor() as cur:
        cur.execute(("EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF) " + sql).encode())
        return "\n".join(str(r[0]) for r in cur.fetchall())


def _chunk_owners(dsn: str) -> dict[str, str]:
    """Chunk (and materialization hypertable) name -> the relation it stores."""
    with psycopg.connect(dsn) as c:
        owners = {
            str(chunk): str(table)
            for chunk, table in c.execute(
                "SELECT chunk_name, hypertable_name FROM timescaledb_information.chunks"
            ).fetchall()
        }
        if c.execute(
            "SELECT current_setting('timescaledb.license', true) = 'timescale'"
        ).fetchone() == (True,):
            caggs: dict[str, str] = dict(
                c.execute(
                    "SELECT materialization_hypertable_name, view_name"
                    " FROM timescaledb_information.continuous_aggregates"
                ).fetchall()
            )
            owners = {k: caggs.get(v, v) for k, v in owners.items()}
    return owners


def _scans(plan: str, owners: dict[str, str], relation: str) -> tuple[int, int]:
    """(executed, never executed) scan nodes of ``relation`` (readings, agg_1m, agg_1h)."""
    done = never = 0
    for line in plan.splitlines():
        m = re.search(r"Scan(?: using \S+)? on (?:\w+\.)?(\w+)", line)
        if not m or owners.get(m.group(1), m.group(1)) != relation:
            continue
        if "never executed" in line:
            never += 1
        else:
            done += 1
    return done, never


def test_long_ranges_read_rollups_and_short_ranges_read_raw(
    conn: psycopg.Connection[tuple[Any, ...]], dashboard_data: Dataset
) -> None:
    q = _query("emusa-visao-geral", "Potência ativa (kW)")
    # 30 days: hourly rollup; older days exist only there (their raw rows were deleted)
    res = _run(conn, dashboard_data, q, timedelta(days=30))
    times = res.column("time")
    assert max(times) - min(times) > timedelta(days=29)
    assert len(res.rows) <= 2 * 30 * 24 + 2
    owners = _chunk_owners(dashboard_data.dsn)
    expected = {
        timedelta(hours=1): "readings",
        timedelta(days=2): "agg_1m",
        timedelta(days=30): "agg_1h",
    }
    realtime = _realtime_rows(dashboard_data.dsn, owners)  # Community only, else {}
    for span, relation in expected.items():
        plan = _plan(conn, expand(q.sql, context(dashboard_data, span, q.dashboard)))
        for other in {"readings", "agg_1m", "agg_1h"} - {relation}:
            if other == "readings" and relation in realtime:
                # Community: a real-time aggregate reads the raw readings newer than its
                # watermark, and only those
                assert _raw_rows_read(plan, owners) <= realtime[relation], f"{span}:\n{plan}"
                continue
            assert _scans(plan, owners, other)[0] == 0, f"{span} read {other}:\n{plan}"
        assert _scans(plan, owners, relation)[0] > 0, f"{span} did not read {relation}:\n{plan}"


def _realtime_rows(dsn: str, owners: dict[str, str]) -> dict[str, int]:
    """Community: per rollup aggregate, the raw readings newer than its materialized data."""
    with psycopg.connect(dsn) as c:
        if c.execute("SHOW timescaledb.license").fetchone() != ("timescale",):
            return {}
        out = {}
        for mat, view in c.execute(
            "SELECT materialization_hypertable_name, view_name"
            " FROM timescaledb_information.continuous_aggregates WHERE view_schema = 'rollup'"
        ).fetchall():
            row = c.execute(
                sql.SQL(
                    "SELECT count(*) FROM readings WHERE time >="
                    " coalesce((SELECT max(bucket) FROM _timescaledb_internal.{}), '-infinity')"
                ).format(sql.Identifier(mat))
            ).fetchone()
            out[str(view)] = int(row[0]) if row else 0
    return out


def _raw_rows_read(plan: str, owners: dict[str, str]) -> int:
    """The most rows any executed scan of the raw readings returned (a query that uses a
    view twice scans its real-time part twice)."""
    most = 0
    for line in plan.splitlines():
        m = re.search(
            r"Scan(?: using \S+)? on (?:\w+\.)?(\w+).*actual rows=(\d+) loops=(\d+)", line
        )
        if m and owners.get(m.group(1), m.group(1)) == "readings":
            most = max(most, int(m.group(2)) * int(m.group(3)))
    return most


def test_site_total_series_is_the_sum_of_the_meters(
    conn: psycopg.Connection[tuple[Any, ...]], dashboard_data: Dataset
) -> None:
    q = _query("emusa-visao-geral", "Potência ativa (kW)")
    ctx = context(dashboard_data, timedelta(days=1), q.dashboard)
    per_meter, site = (run(conn, expand(t["rawSql"], ctx)) for t in q.panel["targets"])  # type: ignore[index]
    sums: dict[Any, float] = {}
    for time_, metric, kw in per_meter.rows:
        assert metric in METERS
        sums[time_] = sums.get(time_, 0.0) + kw
    site_rows = {t: v for t, m, v in site.rows if m == "Total do site"}
    common = set(site_rows) & set(sums)
    assert len(common) > 100
    for t in common:
        assert site_rows[t] == pytest.approx(sums[t])


def test_demand_panel_draws_contracted_and_the_5_percent_limit(
    conn: psycopg.Connection[tuple[Any, ...]], dashboard_data: Dataset
) -> None:
    res = _run(
        conn,
        dashboard_data,
        _query("emusa-demanda", "Demanda do site (15 min) × contratada"),
        timedelta(days=7),
    )
    contracted = set(res.column("Contratada"))
    assert contracted == {450.0, 400.0}  # tarifa azul: ponta 400 kW, fora de ponta 450 kW
    for c, lim in zip(res.column("Contratada"), res.column("Limite (+5%)"), strict=True):
        assert lim == pytest.approx(c * 1.05)
    over = _run(
        conn,
        dashboard_data,
        _query("emusa-demanda", "Ultrapassagens de demanda (acima de contratada + 5%)"),
        timedelta(days=7),
    )
    assert over.rows, "the simulated plant exceeds 472.5 kW on weekdays"
    assert all(r[2] > r[4] for r in over.rows)  # demand above contracted + 5 %
    assert {r[1] for r in over.rows} <= {"ponta", "fora_ponta"}


def test_demand_panels_tariff_period_is_the_calendar_functions(dashboard_data: Dataset) -> None:
    """The demand panels' period (the schema's set-based calendar, 0021) = emusa_tariff_period(), bucket by bucket."""
    q = _query("emusa-demanda", "Demanda máxima no período por posto")
    sql = expand(q.sql, context(dashboard_data, timedelta(days=30), q.dashboard))
    check = sql[: sql.rindex("\nSELECT ")] + (
        "\nSELECT count(*),"
        " count(*) FILTER (WHERE c.period IS DISTINCT FROM emusa_tariff_period(c.site_id, c.bucket)),"
        " count(*) FILTER (WHERE c.period = 'ponta'), count(*) FILTER (WHERE c.period = 'intermediario')"
        " FROM c"
    )
    day = (dashboard_data.end - timedelta(days=4)).date()
    while day.weekday() >= 5:
        day -= timedelta(days=1)
    version = dashboard_data.end.date() - timedelta(days=10)
    # the 15-minute buckets starting inside the inclusive 30-day range: one more when the
    # range is bucket-aligned (both ends are then bucket starts holding data)
    buckets = 30 * 96 + int(dashboard_data.newest.timestamp() % 900 == 0)
    with psycopg.connect(dashboard_data.dsn) as conn:
        try:  # calendar changes inside this transaction only, rolled back below
            conn.execute(
                "INSERT INTO holidays (site_id, day, name) VALUES (%s, %s, 'Feriado municipal')",
                (SITE, day),
            )
            conn.execute(
                "INSERT INTO tariff_windows (site_id, period, starts, ends, valid_from) VALUES"
                " (%(s)s, 'ponta', '17:30', '20:30', %(v)s),"
                " (%(s)s, 'intermediario', '16:30', '17:30', %(v)s),"
                " (%(s)s, 'intermediario', '20:30', '21:30', %(v)s)",
                {"s": SITE, "v": version},
            )
            for modality in ("azul", "verde", "branca"):
                conn.execute(
                    "UPDATE sites SET tariff_modality = %s WHERE site_id = %s", (modality, SITE)
                )
                row = conn.execute(check.encode()).fetchone()
                assert row is not None
                total, wrong, ponta, intermediario = row
                assert total == buckets and wrong == 0 and ponta > 0, (modality, row)
                assert (intermediario > 0) is (modality == "branca"), (modality, row)
        finally:
            conn.rollback()


def test_daily_energy_by_tariff_period_adds_up(
    conn: psycopg.Connection[tuple[Any, ...]], dashboard_data: Dataset
) -> None:
    res = _run(
        conn,
        dashboard_data,
        _query("emusa-demanda", "Energia diária por posto tarifário (kWh)"),
        timedelta(days=30),
    )
    assert len(res.rows) >= 30
    assert any(r[1] for r in res.rows), "weekdays have ponta energy"
    total = sum((r[1] or 0) + (r[2] or 0) + (r[3] or 0) for r in res.rows)
    with psycopg.connect(dashboard_data.dsn) as c:
        row = c.execute(
            "SELECT sum(e_imp_kwh_delta) FROM site_demand_15m WHERE site_id = %s AND bucket BETWEEN %s AND %s",
            (SITE, dashboard_data.newest - timedelta(days=30), dashboard_data.newest),
        ).fetchone()
    assert row and total == pytest.approx(row[0])


def test_anomalies_table_and_annotations(
    conn: psycopg.Connection[tuple[Any, ...]], dashboard_data: Dataset
) -> None:
    day = timedelta(days=1)
    table = _run(conn, dashboard_data, _query("emusa-ia-diagnostico", "Anomalias detectadas"), day)
    assert len(table.rows) == 4  # the one of 20 days ago is outside the range
    assert None in table.column("Fim")  # the ongoing event
    ann = next(
        q
        for q in QUERIES
        if q.dashboard == "emusa-ia-diagnostico" and q.where.startswith("annotation")
    )
    res = run(conn, expand(ann.sql, context(dashboard_data, day, ann.dashboard)))
    assert len(res.rows) == 4 and all(r[1] >= r[0] for r in res.rows)
    summaries = _run(
        conn,
        dashboard_data,
        _query("emusa-ia-diagnostico", "Últimos resumos automáticos (6 h)"),
        day,
    )
    assert len(summaries.rows) == 4


def test_the_grafana_role_cannot_write(dashboard_data: Dataset) -> None:
    with connect(dashboard_data.dsn) as c:
        c.execute("SET default_transaction_read_only = off")
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            c.execute("DELETE FROM readings")
