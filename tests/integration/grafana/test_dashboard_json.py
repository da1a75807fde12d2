"""The provisioning files and dashboard JSON, checked without Grafana (it cannot run here)."""

from __future__ import annotations

import re
import subprocess
import sys
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
import yaml

from tests.integration.grafana import dashboards as dash
from tests.integration.grafana.macros import Context, expand, format_interval, round_interval

pytestmark = pytest.mark.unit

UIDS = {
    "emusa-visao-geral",
    "emusa-formas-de-onda",
    "emusa-qualidade",
    "emusa-demanda",
    "emusa-ia-diagnostico",
    "emusa-diagnostico-modbus",
}
ALL = dash.load_all()


def _by_uid(uid: str) -> dict[str, Any]:
    return next(d for d in ALL.values() if d["uid"] == uid)


def _panel(uid: str, title: str) -> dict[str, Any]:
    return next(p for p in dash.panels(_by_uid(uid)) if p["title"] == title)


def _steps(panel: dict[str, Any]) -> list[tuple[Any, str]]:
    return [
        (s["value"], s["color"]) for s in panel["fieldConfig"]["defaults"]["thresholds"]["steps"]
    ]


def test_datasource_is_timescaledb_as_the_read_only_role_with_the_password_from_env() -> None:
    doc = yaml.safe_load((dash.PROVISIONING / "datasources" / "emusa-timescaledb.yaml").read_text())
    (ds,) = doc["datasources"]
    assert ds["uid"] == dash.DATASOURCE_UID
    assert ds["type"] == "grafana-postgresql-datasource"
    assert ds["user"] == "emusa_grafana"
    assert ds["jsonData"]["timescaledb"] is True
    assert ds["secureJsonData"]["password"] == "${EMUSA_GRAFANA_DB_PASSWORD}"
    assert ds["url"].startswith("${") and ds["jsonData"]["database"].startswith("${")


def test_provider_loads_the_dashboard_folder() -> None:
    doc = yaml.safe_load((dash.PROVISIONING / "dashboards" / "emusa.yaml").read_text())
    (provider,) = doc["providers"]
    assert provider["type"] == "file"
    path = provider["options"]["path"]
    assert path == "${GF_PATHS_PROVISIONING}/dashboards/emusa"
    assert (dash.PROVISIONING / path.split("}/", 1)[1]).is_dir()


def test_dashboards_are_the_five_with_unique_uids_and_pt_br_titles() -> None:
    uids = [d["uid"] for d in ALL.values()]
    assert sorted(uids) == sorted(UIDS)
    titles = {d["uid"]: d["title"] for d in ALL.values()}
    assert titles["emusa-visao-geral"] == "EMUSA — Visão geral"
    assert titles["emusa-ia-diagnostico"] == "EMUSA — IA & diagnóstico"
    for d in ALL.values():
        assert d["timezone"] == "America/Sao_Paulo"
        assert d["editable"] is False
        ids = [p["id"] for p in dash.panels(d)]
        assert len(ids) == len(set(ids)), d["uid"]


def test_generated_files_are_up_to_date() -> None:
    proc = subprocess.run(
        [sys.executable, "scripts/gen_dashboards.py", "--check"],
        cwd=dash.ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr


def test_every_panel_and_query_uses_the_provisioned_datasource() -> None:
    for d in ALL.values():
        for panel in dash.panels(d):
            if panel["type"] in ("row", "text"):
                continue
            assert panel["datasource"]["uid"] == dash.DATASOURCE_UID, panel["title"]
            assert panel["targets"], panel["title"]
            for t in panel["targets"]:
                assert t["datasource"]["uid"] == dash.DATASOURCE_UID
                assert t["rawQuery"] is True and t["rawSql"].strip()
        for var in d["templating"]["list"]:
            if var["type"] == "query":
                assert var["datasource"]["uid"] == dash.DATASOURCE_UID


def test_site_and_meter_variables() -> None:
    for d in ALL.values():
        variables = {v["name"]: v for v in d["templating"]["list"]}
        assert {"site", "meter"} <= set(variables), d["uid"]
        assert "FROM sites" in variables["site"]["query"]
        assert "'$site'" in variables["meter"]["query"]
        # the waveform draws one meter; the other dashboards compare several
        multi = d["uid"] != "emusa-formas-de-onda"
        assert variables["meter"]["multi"] is multi, d["uid"]
        for q in dash.queries(d):
            if q.where.startswith("variable"):
                continue
            used = set(re.findall(r"\$\{?(\w+)", q.sql)) - {
                n for n in re.findall(r"\$(__\w+)", q.sql)
            }
            assert used <= set(variables), f"{q.id}: undefined {used - set(variables)}"


def test_live_dashboards_refresh_every_5_s() -> None:
    assert _by_uid("emusa-visao-geral")["refresh"] == "5s"
    assert _by_uid("emusa-formas-de-onda")["refresh"] == "5s"


def test_kpi_thresholds_follow_prodist_and_the_pf_reference() -> None:
    v = _steps(_panel("emusa-visao-geral", "Tensão LL média"))
    assert [c for _, c in v] == ["red", "orange", "green", "orange", "red"]
    assert [x for x, _ in v][1:3] == [191, 202]
    assert 231 < v[3][0] < 231.01 and 233 < v[4][0] < 233.01  # 231 and 233 V are inclusive
    pf = _steps(_panel("emusa-visao-geral", "Fator de potência"))
    assert pf == [(None, "red"), (0.92, "green")]
    hz = _steps(_panel("emusa-visao-geral", "Frequência"))
    assert hz[1] == (59.9, "green") and hz[2][1] == "red" and 60.1 < hz[2][0] < 60.11
    ln = _steps(_panel("emusa-qualidade", "Tensões de fase (V)"))
    assert [x for x, _ in ln][1:3] == [110, 117] and 133 < ln[3][0] < 133.01


def test_every_time_series_over_raw_readings_switches_to_rollups() -> None:
    """A panel reading raw seconds for the dashboard range must also name both rollups."""
    for q in dash.all_queries():
        if q.fmt != "time_series" or not re.search(r"FROM readings r\b", q.sql):
            continue
        assert "readings_1m" in q.sql and "readings_1h" in q.sql, q.id
        assert "interval '2 hours'" in q.sql and "interval '3 days'" in q.sql, q.id


def test_ia_dashboard_links_to_the_analytics_api() -> None:
    d = _by_uid("emusa-ia-diagnostico")
    api = next(v for v in d["templating"]["list"] if v["name"] == "api_url")
    assert api["type"] == "textbox" and api["query"].startswith("http")
    text = _panel("emusa-ia-diagnostico", "Relatórios")["options"]["content"]
    for path in ("/reports/latest.pdf", "/export.csv", "/powerbi.pbids"):
        assert f"${{api_url}}{path}" in text
    assert any("target" in a for a in d["annotations"]["list"])  # anomalies as annotations


# --- the macro expander the query tests rely on -------------------------------------

T1 = datetime(2026, 11, 25, 12, 0, 0, tzinfo=UTC)


def test_anomaly_table_shows_kinds_detectors_and_quantities_in_words() -> None:
    from analytics.i18n import KIND_NAMES
    from contract.quantities import QUANTITIES

    panel = _panel("emusa-ia-diagnostico", "Anomalias detectadas")
    words = {
        o["matcher"]["options"]: o["properties"][0]["value"][0]["options"]
        for o in panel["fieldConfig"]["overrides"]
        if o["properties"][0]["id"] == "mappings"
    }
    assert {k: v["text"] for k, v in words["Tipo"].items()} == {
        k: pt for k, (pt, _en) in KIND_NAMES.items()
    }
    assert words["Tipo"]["voltage_band"]["text"] == "tensão fora da faixa adequada (PRODIST)"
    assert set(words["Grandeza"]) == set(QUANTITIES)
    assert words["Grandeza"]["v_l1n"]["text"] != "v_l1n"
    assert {k: v["text"] for k, v in words["Detector"].items()} == {
        "rule": "regra",
        "model": "modelo estatístico",
    }


def test_interval_rounding_matches_grafana() -> None:
    assert format_interval(round_interval(3_600_000 / 1000)) == "5s"
    assert format_interval(round_interval(86_400_000 / 1000)) == "1m"
    assert format_interval(round_interval(30 * 86_400_000 / 1000)) == "30m"
    ctx = Context(T1 - timedelta(minutes=5), T1, {})
    assert ctx.interval_ms == 1000  # never below the datasource's 1 s


def test_expand_macros_and_variables() -> None:
    ctx = Context(T1 - timedelta(hours=1), T1, {"site": "pl'ant", "meter": ["a", "b"]})
    sql = expand(
        "SELECT $__timeGroupAlias(r.time, $__interval), x FROM t WHERE $__timeFilter(r.time)"
        " AND s = '$site' AND m IN ($meter) AND m2 IN (${meter:csv})"
        " AND $__timeTo()::timestamptz - $__timeFrom()::timestamptz < interval '1 day'",
        ctx,
    )
    assert "time_bucket('5s', r.time) AS \"time\"" in sql
    assert "r.time BETWEEN '2026-11-25T11:00:00Z' AND '2026-11-25T12:00:00Z'" in sql
    assert "s = 'pl''ant'" in sql and "m IN ('a','b')" in sql and "m2 IN (a,b)" in sql
    assert "'2026-11-25T12:00:00Z'::timestamptz - '2026-11-25T11:00:00Z'::timestamptz" in sql


def test_expand_writes_times_in_utc_whatever_zone_they_come_in() -> None:
    # psycopg returns timestamptz in the session's TimeZone (the cluster's, from TZ at initdb)
    brt = timezone(timedelta(hours=-3))
    ctx = Context((T1 - timedelta(hours=1)).astimezone(brt), T1.astimezone(brt), {})
    assert expand("$__timeFrom() $__timeTo()", ctx) == (
        "'2026-11-25T11:00:00Z' '2026-11-25T12:00:00Z'"
    )


def test_expand_rejects_unknown_variables_and_macros() -> None:
    ctx = Context(T1 - timedelta(hours=1), T1, {})
    with pytest.raises(KeyError):
        expand("SELECT '$nope'", ctx)
    with pytest.raises(ValueError, match="not supported"):
        expand("SELECT $__unixEpochFilter(t)", ctx)
