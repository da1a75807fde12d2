"""What surrounds the panels of every dashboard: variables, annotations, links."""

from __future__ import annotations

from typing import Any

from .kit import DS
from .queries import ANOMALY_WHERE

TZ = "America/Sao_Paulo"
TAGS = ["emusa"]
API_DEFAULT = "http://localhost:8080"


def variables(*, multi_meter: bool = True, api: bool = False) -> list[dict[str, Any]]:
    site_sql = "SELECT site_id AS __value, name AS __text FROM sites ORDER BY name"
    meter_sql = "SELECT name FROM meters WHERE site_id = '$site' ORDER BY name"
    out: list[dict[str, Any]] = [
        {
            "current": {},
            "datasource": DS,
            "definition": site_sql,
            "hide": 0,
            "includeAll": False,
            "label": "Planta",
            "multi": False,
            "name": "site",
            "options": [],
            "query": site_sql,
            "refresh": 1,
            "regex": "",
            "sort": 0,
            "type": "query",
        },
        {
            "current": {},
            "datasource": DS,
            "definition": meter_sql,
            "hide": 0,
            "includeAll": multi_meter,
            "label": "Medidor",
            "multi": multi_meter,
            "name": "meter",
            "options": [],
            "query": meter_sql,
            "refresh": 1,
            "regex": "",
            "sort": 1,
            "type": "query",
        },
    ]
    if api:
        out.append(
            {
                "current": {"text": API_DEFAULT, "value": API_DEFAULT},
                "description": "Endereço base da API de análises (relatórios PDF, CSV, Power BI), como o navegador do operador o alcança.",
                "hide": 2,
                "label": "API de análises",
                "name": "api_url",
                "options": [{"selected": True, "text": API_DEFAULT, "value": API_DEFAULT}],
                "query": API_DEFAULT,
                "type": "textbox",
            }
        )
    return out


def anomaly_annotation() -> dict[str, Any]:
    sql = (
        "SELECT a.started_at AS time, coalesce(a.ended_at, $__timeTo()::timestamptz) AS timeend,\n"
        "       coalesce(m.name || ': ', '') || a.message_pt AS text,\n"
        "       a.severity || ',' || a.kind AS tags\n"
        f"FROM anomalies a\nLEFT JOIN meters m ON m.meter_id = a.meter_id\nWHERE {ANOMALY_WHERE}\n"
        "ORDER BY a.started_at"
    )
    return {
        "datasource": DS,
        "enable": True,
        "iconColor": "red",
        "name": "Anomalias",
        "target": {
            "editorMode": "code",
            "format": "table",
            "rawQuery": True,
            "rawSql": sql,
            "refId": "Anno",
        },
    }


def annotation_list(with_anomalies: bool) -> dict[str, Any]:
    builtin = {
        "builtIn": 1,
        "datasource": {"type": "grafana", "uid": "-- Grafana --"},
        "enable": True,
        "hide": True,
        "iconColor": "rgba(0, 211, 255, 1)",
        "name": "Anotações e alertas",
        "type": "dashboard",
    }
    return {"list": [builtin, anomaly_annotation()] if with_anomalies else [builtin]}


def dashboard(
    uid: str,
    title: str,
    panels: list[dict[str, Any]],
    *,
    description: str,
    time_from: str,
    refresh: str,
    multi_meter: bool = True,
    api: bool = False,
    with_anomalies: bool = True,
) -> dict[str, Any]:
    return {
        "annotations": annotation_list(with_anomalies),
        "description": description,
        "editable": False,
        "fiscalYearStartMonth": 0,
        "graphTooltip": 1,
        "links": [
            {
                "asDropdown": False,
                "icon": "external link",
                "includeVars": True,
                "keepTime": True,
                "tags": TAGS,
                "targetBlank": False,
                "title": "EMUSA",
                "type": "dashboards",
            }
        ],
        "panels": panels,
        "refresh": refresh,
        "schemaVersion": 39,
        "tags": TAGS,
        "templating": {"list": variables(multi_meter=multi_meter, api=api)},
        "time": {"from": time_from, "to": "now"},
        "timepicker": {"refresh_intervals": ["5s", "10s", "30s", "1m", "5m", "15m", "1h"]},
        "timezone": TZ,
        "title": title,
        "uid": uid,
        "version": 1,
        "weekStart": "",
    }
