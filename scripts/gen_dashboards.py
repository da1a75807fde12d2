# ruff: noqa: RUF001  (pt-BR text for operators: its dashes and signs are intended)
"""Generate the provisioned Grafana dashboards (pt-BR) from one description.

    python scripts/gen_dashboards.py          # rewrite grafana/provisioning/dashboards/emusa/*.json
    python scripts/gen_dashboards.py --check  # exit 1 when a committed JSON differs

The JSON files are what Grafana loads and what the tests read; this script keeps the
five dashboards consistent (one datasource uid, the same variables, the same
relation switch for long ranges, the same PRODIST thresholds). Edit here, then run it.

Relation switch for long ranges (every time series panel): the panel query is a
``UNION ALL`` of three branches, each gated by a condition on the dashboard range only
(``$__timeTo() - $__timeFrom()``). PostgreSQL plans such a condition as a one-time
filter, so only one branch runs:

* range <= 2 h: raw ``readings`` (1 s resolution, at most 7,200 rows per meter);
* range <= 3 days: ``readings_1m`` (at most 4,320 rows per meter);
* longer: ``readings_1h`` (720 rows per meter for 30 days, 8,760 for a year).

Each branch is grouped by ``$__timeGroupAlias(..., $__interval)``, so Grafana's own
resolution still applies on top. The range decides rather than ``$__interval`` alone,
because ``$__interval`` depends on the panel width: a narrow panel over two days
would otherwise read raw seconds.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from analytics.messages import KIND_NAMES
from gateway.quantities import QUANTITIES

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "grafana" / "provisioning" / "dashboards" / "emusa"

DS = {"type": "grafana-postgresql-datasource", "uid": "emusa-timescaledb"}
TZ = "America/Sao_Paulo"
TAGS = ["emusa"]
RAW_MAX = "2 hours"
M1_MAX = "3 days"
LIVE_WINDOW = "5 minutes"  # a meter silent for longer shows no live value
RANGE = "($__timeTo()::timestamptz - $__timeFrom()::timestamptz)"
API_DEFAULT = "http://localhost:8080"

# PRODIST Modulo 8, 220/127 V: adequate 202-231 / 117-133 V, precarious 191-202 or
# 231-233 / 110-117 or 133-135 V, critical outside. Grafana colours a value by the
# highest step <= value, so the upper inclusive limits sit just above 231 / 233.
RED, ORANGE, GREEN, BLUE = "red", "orange", "green", "blue"
V_LL_STEPS = [(None, RED), (191, ORANGE), (202, GREEN), (231.001, ORANGE), (233.001, RED)]
V_LN_STEPS = [(None, RED), (110, ORANGE), (117, GREEN), (133.001, ORANGE), (135.001, RED)]
HZ_STEPS = [(None, RED), (59.9, GREEN), (60.1001, RED)]
PF_STEPS = [(None, RED), (0.92, GREEN)]
UNBALANCE_STEPS = [(None, GREEN), (3.0001, RED)]  # PRODIST FD limit at low voltage: 3 %
NEUTRAL_STEPS = [(None, BLUE)]


def steps(spec: list[tuple[float | None, str]]) -> dict[str, Any]:
    return {"mode": "absolute", "steps": [{"color": c, "value": v} for v, c in spec]}


# --- SQL builders ------------------------------------------------------------------


def meter_filter(alias: str, *, site_total: bool = False) -> str:
    """Restrict a branch to the selected meters (or to the meters of the site total)."""
    which = "include_in_site_total" if site_total else "name IN ($meter)"
    return f"{alias}.meter_id IN (SELECT meter_id FROM meters WHERE site_id = '$site' AND {which})"


def switched(columns: dict[str, tuple[str, str]], *, site_total: bool = False) -> str:
    """A time series over the dashboard range, from raw, 1 min or 1 h data by range.

    ``columns`` maps the output name to (raw expression, rollup expression) over alias
    ``r``. Per meter: ``time, metric (meter name), <columns>``; with ``site_total``:
    ``time, metric ('Total do site'), <columns>`` summed over the site's meters.
    """
    names = list(columns)
    inner = [f"c{i}" for i in range(len(names))]

    def branch(relation: str, tcol: str, use_rollup: bool, cond: str) -> str:
        exprs = ", ".join(
            f"{columns[n][1] if use_rollup else columns[n][0]} AS {c}"
            for n, c in zip(names, inner, strict=True)
        )
        return (
            f"  SELECT r.{tcol} AS t, r.meter_id, {exprs}\n"
            f"  FROM {relation} r\n"
            f"  WHERE $__timeFilter(r.{tcol}) AND {cond}\n"
            f"    AND {meter_filter('r', site_total=site_total)}"
        )

    union = "\n  UNION ALL\n".join(
        [
            branch("readings", "time", False, f"{RANGE} <= interval '{RAW_MAX}'"),
            branch(
                "readings_1m",
                "bucket",
                True,
                f"{RANGE} > interval '{RAW_MAX}' AND {RANGE} <= interval '{M1_MAX}'",
            ),
            branch("readings_1h", "bucket", True, f"{RANGE} > interval '{M1_MAX}'"),
        ]
    )
    if site_total:
        # A bucket where a meter of the total did not report is left out (a gap, not a
        # drop): it must hold as many meters as the fullest bucket of the range. Below 5 s
        # buckets a poll can land in the next bucket, so every bucket counts there.
        per_meter = ", ".join(f"avg(x.{c}) AS {c}" for c in inner)
        outer = ", ".join(f'sum(y.{c}) AS "{n}"' for n, c in zip(names, inner, strict=True))
        cols = ", ".join(f'z."{n}"' for n in names)
        return gaps_as_nulls(
            f"SELECT z.time, z.metric, {cols}\nFROM (\n"
            f"SELECT y.time, 'Total do site' AS metric, {outer},\n"
            "       count(*) AS meters, max(count(*)) OVER () AS meters_max\nFROM (\n"
            f"SELECT $__timeGroupAlias(x.t, $__interval), x.meter_id, {per_meter}\nFROM (\n"
            f"{union}\n) x\nGROUP BY 1, 2\n) y\nGROUP BY 1\n) z\n"
            "WHERE z.meters = z.meters_max OR $__interval_ms < 5000",
            names,
        )
    outs = ", ".join(f'avg(x.{c}) AS "{n}"' for n, c in zip(names, inner, strict=True))
    return gaps_as_nulls(
        f"SELECT $__timeGroupAlias(x.t, $__interval), m.name AS metric, {outs}\nFROM (\n"
        f"{union}\n) x\nJOIN meters m ON m.meter_id = x.meter_id\nGROUP BY 1, 2",
        names,
    )


def gaps_as_nulls(grouped: str, names: list[str], *, metric: bool = True) -> str:
    """``grouped`` (``time, [metric,] <names>``) plus one all-NULL row per gap of a series.

    A gap is a step between consecutive points of a series (a metric, or the whole
    result with ``metric=False``) longer than 1.5 times its median step (the resolution
    it is drawn at: raw poll interval, rollup or $__interval, whichever is coarser). The
    NULL row sits one median step after the last point before the gap, so the panel
    (spanNulls off) breaks the line there instead of drawing it across the outage.
    Nothing is filled in: no value inside a gap.
    """
    cols = ", ".join(f'g."{n}"' for n in names)
    nulls = ", ".join(f'NULL AS "{n}"' for n in names)
    key, part = ("g.metric, ", "PARTITION BY g.metric ") if metric else ("", "")
    skey, group, on = (
        ("s.metric, ", " GROUP BY s.metric", "st.metric = s.metric") if metric else ("", "", "true")
    )
    return (
        f"WITH g AS (\n{grouped}\n),\n"
        f"s AS (\n  SELECT g.time, {key}"
        f"lead(g.time) OVER ({part}ORDER BY g.time) - g.time AS dt\n  FROM g\n),\n"
        f"st AS (\n  SELECT {skey}percentile_cont(0.5) WITHIN GROUP (ORDER BY s.dt) AS step\n"
        f"  FROM s{group}\n)\n"
        f"SELECT g.time, {key}{cols} FROM g\n"
        "UNION ALL\n"
        f"SELECT s.time + st.step, {skey}{nulls}\n"
        f"FROM s JOIN st ON {on}\nWHERE s.dt > 1.5 * st.step\n"
        "ORDER BY 1"
    )


def q(name: str) -> tuple[str, str]:
    """A gauge quantity: raw column, rollup average."""
    return (f"r.{name}", f"r.{name}_avg")


def mean3(a: str, b: str, c: str) -> tuple[str, str]:
    return (f"(r.{a} + r.{b} + r.{c}) / 3", f"(r.{a}_avg + r.{b}_avg + r.{c}_avg) / 3")


def unbalance(suffix: str) -> str:
    """PRODIST Modulo 8 voltage unbalance FD (%) from the three line-line voltages."""
    a, b, c = (f"r.v_l12{suffix}", f"r.v_l23{suffix}", f"r.v_l31{suffix}")
    beta = f"(({a}^4 + {b}^4 + {c}^4) / nullif(({a}^2 + {b}^2 + {c}^2)^2, 0))"
    root = f"sqrt(greatest(3 - 6 * {beta}, 0))"
    return f"100 * sqrt(greatest((1 - {root}) / (1 + {root}), 0))"


def latest(expr: str, *, site_total: bool = False, aggregate: str = "") -> str:
    """The latest raw reading of each selected meter (within LIVE_WINDOW of the range end).

    Per meter: ``meter, value`` rows. With ``site_total``: one row ``value`` from
    ``aggregate`` over the meters of the site total.
    """
    where = (
        "m.site_id = '$site' AND m.include_in_site_total"
        if site_total
        else "m.site_id = '$site' AND m.name IN ($meter)"
    )
    lateral = (
        "CROSS JOIN LATERAL (\n"
        "  SELECT r.* FROM readings r\n"
        "  WHERE r.meter_id = m.meter_id AND r.time <= $__timeTo()\n"
        f"    AND r.time > $__timeTo()::timestamptz - interval '{LIVE_WINDOW}'\n"
        "  ORDER BY r.time DESC LIMIT 1\n) r\n"
    )
    if site_total:
        return f"SELECT {aggregate} AS value\nFROM meters m\n{lateral}WHERE {where}"
    return f"SELECT m.name AS meter, {expr} AS value\nFROM meters m\n{lateral}WHERE {where}\nORDER BY m.name"


def energy_today(*, site_total: bool = False) -> str:
    """Imported kWh since the site's local midnight: last minus first counter of today."""
    where = (
        "m.site_id = '$site' AND m.include_in_site_total"
        if site_total
        else "m.site_id = '$site' AND m.name IN ($meter)"
    )
    body = (
        "FROM meters m\nJOIN sites s ON s.site_id = m.site_id\n"
        "CROSS JOIN LATERAL (SELECT (date_trunc('day', $__timeTo()::timestamptz AT TIME ZONE s.timezone)"
        " AT TIME ZONE s.timezone) AS midnight) d\n"
        "CROSS JOIN LATERAL (\n  SELECT r.e_imp_kwh FROM readings r\n"
        "  WHERE r.meter_id = m.meter_id AND r.time >= d.midnight AND r.time <= $__timeTo()\n"
        "  ORDER BY r.time LIMIT 1\n) f\n"
        "CROSS JOIN LATERAL (\n  SELECT r.e_imp_kwh FROM readings r\n"
        "  WHERE r.meter_id = m.meter_id AND r.time >= d.midnight AND r.time <= $__timeTo()\n"
        "  ORDER BY r.time DESC LIMIT 1\n) l\n"
        f"WHERE {where}"
    )
    if site_total:
        return f"SELECT sum(greatest(l.e_imp_kwh - f.e_imp_kwh, 0)) AS value\n{body}"
    return (
        f"SELECT m.name AS meter, greatest(l.e_imp_kwh - f.e_imp_kwh, 0) AS value\n{body}\n"
        "ORDER BY m.name"
    )


# Site demand per 15-minute bucket with its tariff period and the contracted demand that
# applies (ponta demand on tarifa azul), as the CTE ``c`` of the demand panels. The
# period is what emusa_tariff_period() answers (a test compares them bucket by bucket),
# computed per local day instead of per bucket: that function costs ~0.2 ms a call (it
# rebuilds the national holidays each time), 0.6 s for the 2,880 buckets of 30 days.
# Here the holidays of the years in range are built once, each day gets its working
# flag and window version, and each bucket joins the site's few windows. A
# set-returning emusa_tariff_periods(site, from, to) in the schema would remove this
# copy of the calendar rules from the dashboards.
def tariff_cte(since: str | None = None) -> str:
    """The CTEs ``s`` ... ``c`` over the dashboard range, or over [since, $__timeTo()].

    ``since`` (an SQL timestamptz expression) bounds ``c`` to recent buckets for a panel
    that needs only those, so its cost does not grow with the dashboard range.
    """
    frm = since or "$__timeFrom()::timestamptz"
    where = (
        "$__timeFilter(d.bucket)"
        if since is None
        else f"d.bucket >= {since} AND d.bucket <= $__timeTo()::timestamptz"
    )
    return f"""WITH s AS (
  SELECT site_id, timezone, tariff_modality, contracted_demand_kw, contracted_demand_ponta_kw, demand_tolerance
  FROM sites WHERE site_id = '$site'
),
off_days AS (
  SELECT h.day
  FROM generate_series(extract(year FROM {frm})::int - 1,
                       extract(year FROM $__timeTo()::timestamptz)::int + 1) AS y,
       LATERAL emusa_br_national_holidays(y) AS h
  UNION
  SELECT day FROM holidays WHERE site_id = '$site'
),
days AS MATERIALIZED (  -- per day, not per bucket
  SELECT g::date AS day,
         extract(isodow FROM g) < 6 AND g::date NOT IN (SELECT day FROM off_days) AS working,
         (SELECT max(v.valid_from) FROM tariff_windows v, s
          WHERE v.site_id = s.site_id AND v.valid_from <= g::date) AS version
  FROM s, generate_series(({frm} AT TIME ZONE s.timezone)::date,
                          ($__timeTo()::timestamptz AT TIME ZONE s.timezone)::date, interval '1 day') AS g
),
win AS (
  SELECT w.valid_from, w.period, w.starts, w.ends
  FROM tariff_windows w JOIN s ON s.site_id = w.site_id
  WHERE w.period = 'ponta' OR s.tariff_modality = 'branca'
),
c AS (
  SELECT d.site_id, d.bucket, d.demand_kw, d.e_imp_kwh_delta, l.lt, s.timezone, s.demand_tolerance,
         coalesce(p.period, 'fora_ponta') AS period,
         CASE WHEN s.tariff_modality = 'azul' AND p.period = 'ponta'
              THEN s.contracted_demand_ponta_kw ELSE s.contracted_demand_kw END AS contracted_kw
  FROM site_demand_15m d
  JOIN s ON s.site_id = d.site_id
  CROSS JOIN LATERAL (SELECT d.bucket AT TIME ZONE s.timezone AS lt) l
  JOIN days dy ON dy.day = l.lt::date
  LEFT JOIN LATERAL (
    SELECT w.period FROM win w
    WHERE dy.working AND w.valid_from = dy.version AND l.lt::time >= w.starts AND l.lt::time < w.ends
    ORDER BY w.period = 'ponta' DESC LIMIT 1
  ) p ON true
  WHERE {where}
)"""


TARIFF_CTE = tariff_cte()

ANOMALY_WHERE = (
    "a.site_id = '$site' AND a.started_at <= $__timeTo()"
    " AND coalesce(a.ended_at, 'infinity') >= $__timeFrom()"
    " AND (a.meter_id IS NULL OR a.meter_id IN"
    " (SELECT meter_id FROM meters WHERE site_id = '$site' AND name IN ($meter)))"
)


# --- panel builders ----------------------------------------------------------------


class Layout:
    def __init__(self) -> None:
        self.x = 0
        self.y = 0
        self.row_h = 0
        self.next_id = 1

    def place(self, w: int, h: int) -> dict[str, int]:
        if self.x + w > 24:
            self.x, self.y, self.row_h = 0, self.y + self.row_h, 0
        pos = {"h": h, "w": w, "x": self.x, "y": self.y}
        self.x += w
        self.row_h = max(self.row_h, h)
        return pos

    def newline(self) -> None:
        if self.x:
            self.x, self.y, self.row_h = 0, self.y + self.row_h, 0

    def id(self) -> int:
        self.next_id += 1
        return self.next_id - 1


def target(sql: str, fmt: str = "time_series", ref: str = "A") -> dict[str, Any]:
    return {
        "datasource": DS,
        "editorMode": "code",
        "format": fmt,
        "rawQuery": True,
        "rawSql": sql,
        "refId": ref,
    }


def row(lay: Layout, title: str) -> dict[str, Any]:
    lay.newline()
    panel = {
        "collapsed": False,
        "gridPos": lay.place(24, 1),
        "id": lay.id(),
        "panels": [],
        "title": title,
        "type": "row",
    }
    lay.newline()
    return panel


def stat(
    lay: Layout,
    title: str,
    sql: str,
    unit: str,
    thresholds: list[tuple[float | None, str]],
    *,
    decimals: int = 1,
    w: int = 5,
    h: int = 5,
    per_meter: bool = True,
    description: str = "",
    kind: str = "stat",
    minmax: tuple[float, float] | None = None,
) -> dict[str, Any]:
    defaults: dict[str, Any] = {
        "color": {"mode": "thresholds"},
        "decimals": decimals,
        "thresholds": steps(thresholds),
        "unit": unit,
    }
    if per_meter:
        defaults["displayName"] = "${__data.fields.meter}"
    if minmax:
        defaults["min"], defaults["max"] = minmax
    options: dict[str, Any] = {
        "reduceOptions": {"calcs": ["lastNotNull"], "fields": "/^value$/", "values": True},
        "orientation": "auto",
    }
    if kind == "stat":
        options.update({"colorMode": "background", "graphMode": "none", "textMode": "auto"})
    else:
        options.update({"showThresholdLabels": False, "showThresholdMarkers": True})
    return {
        "datasource": DS,
        "description": description,
        "fieldConfig": {"defaults": defaults, "overrides": []},
        "gridPos": lay.place(w, h),
        "id": lay.id(),
        "options": options,
        "targets": [target(sql, "table")],
        "title": title,
        "type": kind,
    }


def timeseries(
    lay: Layout,
    title: str,
    sqls: list[str],
    unit: str,
    *,
    thresholds: list[tuple[float | None, str]] | None = None,
    threshold_style: str = "off",
    w: int = 12,
    h: int = 8,
    description: str = "",
    decimals: int | None = None,
    draw: str = "line",
    stack: bool = False,
    overrides: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    custom: dict[str, Any] = {
        "drawStyle": draw,
        "lineWidth": 1,
        "fillOpacity": 0 if draw == "line" else 80,
        "showPoints": "never",
        # Gaps are gaps: never connect across a NULL. The queries return no row inside an
        # outage and one NULL row where it starts (gaps_as_nulls), which breaks the line;
        # no time threshold here, since the right one depends on the resolution the range
        # picks (1 s raw, 1 min, 1 h).
        "spanNulls": False,
        "insertNulls": False,
        "thresholdsStyle": {"mode": threshold_style},
        "stacking": {"group": "A", "mode": "normal" if stack else "none"},
    }
    defaults: dict[str, Any] = {
        "color": {"mode": "palette-classic"},
        "custom": custom,
        "thresholds": steps(thresholds or [(None, GREEN)]),
        "unit": unit,
    }
    if decimals is not None:
        defaults["decimals"] = decimals
    refs = "ABCDEFGH"
    return {
        "datasource": DS,
        "description": description,
        "fieldConfig": {"defaults": defaults, "overrides": overrides or []},
        "gridPos": lay.place(w, h),
        "id": lay.id(),
        "options": {
            "legend": {"displayMode": "list", "placement": "bottom", "showLegend": True},
            "tooltip": {"mode": "multi", "sort": "none"},
        },
        "targets": [target(s, "time_series", refs[i]) for i, s in enumerate(sqls)],
        "title": title,
        "type": "timeseries",
    }


def table(
    lay: Layout,
    title: str,
    sql: str,
    *,
    w: int = 24,
    h: int = 8,
    description: str = "",
    overrides: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    return {
        "datasource": DS,
        "description": description,
        "fieldConfig": {
            "defaults": {"custom": {"align": "auto", "cellOptions": {"type": "auto"}}},
            "overrides": overrides or [],
        },
        "gridPos": lay.place(w, h),
        "id": lay.id(),
        "options": {"cellHeight": "sm", "showHeader": True},
        "targets": [target(sql, "table")],
        "title": title,
        "type": "table",
    }


def text(lay: Layout, title: str, content: str, *, w: int = 24, h: int = 4) -> dict[str, Any]:
    return {
        "gridPos": lay.place(w, h),
        "id": lay.id(),
        "options": {"content": content, "mode": "markdown"},
        "title": title,
        "type": "text",
    }


def value_map(*items: tuple[str, str, str | None]) -> dict[str, Any]:
    """A Grafana value mapping: (value, text shown, colour or None), in display order."""
    return {"type": "value", "options": {
        value: {"text": text, **({"color": color} if color else {}), "index": i}
        for i, (value, text, color) in enumerate(items)
    }}  # fmt: skip


def words_map(pairs: list[tuple[str, str]]) -> dict[str, Any]:
    """A value mapping that shows identifiers (kinds, quantities) as words, uncoloured."""
    return value_map(*((value, text, None) for value, text in pairs))


def override(name: str, props: dict[str, Any]) -> dict[str, Any]:
    return {
        "matcher": {"id": "byName", "options": name},
        "properties": [{"id": k, "value": v} for k, v in props.items()],
    }


# --- variables, annotations, links -------------------------------------------------


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


# --- the dashboards ----------------------------------------------------------------


def visao_geral() -> dict[str, Any]:
    lay = Layout()
    v_ll = "(r.v_l12 + r.v_l23 + r.v_l31) / 3"
    p: list[dict[str, Any]] = [row(lay, "Por medidor (última leitura)")]
    desc_live = f"Última leitura de cada medidor (nos {LIVE_WINDOW} até o fim do intervalo)."
    p.append(
        stat(lay, "Tensão LL média", latest(v_ll), "volt", V_LL_STEPS, w=5,
             description=desc_live + " Cores: faixas PRODIST para 220 V (adequada 202–231 V; precária 191–202 e 231–233 V; crítica fora delas).")
    )  # fmt: skip
    p.append(
        stat(
            lay,
            "Potência ativa",
            latest("r.p_total"),
            "kwatt",
            [(None, BLUE)],
            w=5,
            description=desc_live,
        )
    )
    p.append(stat(lay, "Fator de potência", latest("r.pf_total"), "none", PF_STEPS, decimals=3, w=4,
                  description=desc_live + " Verde a partir do fator de referência 0,92 (ANEEL)."))  # fmt: skip
    p.append(stat(lay, "Frequência", latest("r.freq"), "hertz", HZ_STEPS, decimals=2, w=4,
                  description=desc_live + " Verde na faixa de operação normal 59,9–60,1 Hz (PRODIST)."))  # fmt: skip
    p.append(stat(lay, "Energia hoje", energy_today(), "kwatth", [(None, BLUE)], w=6,
                  description="Energia ativa importada desde a meia-noite local (contador do medidor)."))  # fmt: skip
    p.append(row(lay, "Total do site"))
    site_pf = "sum(r.p_total) / nullif(sqrt(sum(r.p_total) ^ 2 + sum(r.q_total) ^ 2), 0)"
    p.append(stat(lay, "Tensão LL média (site)", latest("", site_total=True, aggregate=f"avg({v_ll})"),
                  "volt", V_LL_STEPS, per_meter=False, w=4))  # fmt: skip
    p.append(stat(lay, "Potência ativa total", latest("", site_total=True, aggregate="sum(r.p_total)"),
                  "kwatt", [(None, BLUE)], per_meter=False, w=4,
                  description="Soma dos medidores que compõem o total do site."))  # fmt: skip
    p.append(stat(lay, "FP do site", latest("", site_total=True, aggregate=site_pf), "none", PF_STEPS,
                  decimals=3, per_meter=False, w=4, description="P total / raiz(P² + Q²) somando os medidores."))  # fmt: skip
    p.append(stat(lay, "Frequência (site)", latest("", site_total=True, aggregate="avg(r.freq)"),
                  "hertz", HZ_STEPS, decimals=2, per_meter=False, w=4))  # fmt: skip
    p.append(stat(lay, "Energia hoje (site)", energy_today(site_total=True), "kwatth", [(None, BLUE)],
                  per_meter=False, w=4))  # fmt: skip
    demand_now = (
        "SELECT sum(x.kw) AS demand_kw,\n"
        "       100 * sum(x.kw) / nullif(max(CASE WHEN s.tariff_modality = 'azul'\n"
        "           AND emusa_tariff_period(s.site_id, $__timeTo()::timestamptz) = 'ponta'\n"
        "           THEN s.contracted_demand_ponta_kw ELSE s.contracted_demand_kw END\n"
        "           * (1 + s.demand_tolerance)), 0) AS value\n"
        "FROM (\n"
        "  SELECT r.meter_id, avg(r.p_total) AS kw FROM readings r\n"
        "  WHERE r.time >= time_bucket(interval '15 minutes', $__timeTo()::timestamptz)\n"
        "    AND r.time <= $__timeTo() AND " + meter_filter("r", site_total=True) + "\n"
        "  GROUP BY r.meter_id\n) x\nCROSS JOIN sites s\nWHERE s.site_id = '$site'"
    )
    p.append(stat(lay, "Demanda em curso (% do limite)", demand_now, "percent",
                  [(None, GREEN), (90, ORANGE), (100, RED)], decimals=0, per_meter=False, w=4,
                  kind="gauge", minmax=(0, 120),
                  description="Potência média no intervalo de 15 min em curso, em % da demanda contratada + 5% de tolerância."))  # fmt: skip
    p.append(row(lay, "Histórico"))
    kw = {"kW": q("p_total")}
    p.append(timeseries(lay, "Potência ativa (kW)", [switched(kw), switched(kw, site_total=True)], "kwatt",
                        description="Por medidor e total do site. Até 2 h: leituras brutas; até 3 dias: médias de 1 min; acima: médias de 1 h."))  # fmt: skip
    p.append(timeseries(lay, "Tensão LL média (V)", [switched({"V LL": mean3("v_l12", "v_l23", "v_l31")})],
                        "volt", thresholds=V_LL_STEPS, threshold_style="area"))  # fmt: skip
    p.append(timeseries(lay, "Fator de potência", [switched({"FP": q("pf_total")})], "none",
                        thresholds=PF_STEPS, threshold_style="line", decimals=3))  # fmt: skip
    p.append(timeseries(lay, "Frequência (Hz)", [switched({"Hz": q("freq")})], "hertz",
                        thresholds=HZ_STEPS, threshold_style="line", decimals=2))  # fmt: skip
    p.append(row(lay, "Turnos"))
    shifts_sql = (
        'SELECT to_char(e.production_date, \'DD/MM/YYYY\') AS "Dia", e.shift AS "Turno",\n'
        "       to_char(e.starts_at AT TIME ZONE s.timezone, 'HH24:MI') || '–'\n"
        "         || to_char(e.ends_at AT TIME ZONE s.timezone, 'HH24:MI') AS \"Horário\",\n"
        '       e.energy_kwh AS "Energia (kWh)", e.max_demand_kw AS "Demanda máx. (kW)",\n'
        '       e.power_factor_avg AS "FP médio",\n'
        '       100.0 * e.intervals / nullif(e.intervals_expected, 0) AS "Dados (%)"\n'
        "FROM sites s\n"
        "CROSS JOIN LATERAL emusa_shift_energy(s.site_id, $__timeFrom()::timestamptz,"
        " $__timeTo()::timestamptz) e\n"
        "WHERE s.site_id = '$site'\nORDER BY e.starts_at DESC"
    )
    p.append(table(lay, "Energia por turno (total do site)", shifts_sql, h=9,
                   description="Energia, demanda máxima de 15 min e FP médio do total do site por turno "
                   "(site_shifts; padrão A 06–14, B 14–22, C 22–06 em dias úteis, 'fim de semana' "
                   "06–06 em sábados, domingos e feriados), cortados ao intervalo do painel. Dados: % "
                   "dos intervalos de 15 min do turno com medição; falhas ficam vazias, nada é preenchido.",
                   overrides=[
                       override("Energia (kWh)", {"unit": "kwatth", "decimals": 1}),
                       override("Demanda máx. (kW)", {"unit": "kwatt", "decimals": 1}),
                       override("FP médio", {"decimals": 3}),
                       override("Dados (%)", {"unit": "percent", "decimals": 0}),
                   ]))  # fmt: skip
    return dashboard(
        "emusa-visao-geral",
        "EMUSA — Visão geral",
        p,
        description="KPIs ao vivo por medidor e do site (atualiza a cada 5 s).",
        time_from="now-1h",
        refresh="5s",
    )


def wave_sql(
    quantities: tuple[str, str, str], labels: tuple[str, str, str], *, current: bool
) -> str:
    """Two cycles of the three phases, 120 degrees apart, amplitude sqrt(2) x latest RMS.

    The phase follows the reading's own timestamp (so successive refreshes move, like the
    seed's animation); currents lag their phase voltage by acos(PF of the phase).
    """
    lags = ["acos(least(greatest(coalesce(l.pf_l1, 1), -1), 1))",
            "acos(least(greatest(coalesce(l.pf_l2, 1), -1), 1))",
            "acos(least(greatest(coalesce(l.pf_l3, 1), -1), 1))"] if current else ["0", "0", "0"]  # fmt: skip
    shifts = ["0", "2 * pi() / 3", "4 * pi() / 3"]
    cols = ",\n       ".join(
        f'sqrt(2) * l.{qty} * sin(w.theta - {shift} - {lag}) AS "{label}"'
        for qty, label, shift, lag in zip(quantities, labels, shifts, lags, strict=True)
    )
    return (
        "WITH l AS (\n"
        "  SELECT r.* FROM readings r\n"
        "  WHERE r.meter_id = (SELECT meter_id FROM meters WHERE site_id = '$site' AND name = '$meter')\n"
        "    AND r.time <= $__timeTo()\n"
        f"    AND r.time > $__timeTo()::timestamptz - interval '{LIVE_WINDOW}'\n"
        "  ORDER BY r.time DESC LIMIT 1\n),\n"
        "w AS (\n"
        "  SELECT g.k, g.k / 100.0 / l.freq AS t,\n"
        "         2 * pi() * (g.k / 100.0 + l.freq * (extract(epoch FROM l.time) - floor(extract(epoch FROM l.time)))) AS theta\n"
        "  FROM l, generate_series(0, 200) AS g(k)\n)\n"
        f'SELECT round((w.t * 1000)::numeric, 3)::float8 AS "t_ms",\n       {cols}\n'
        "FROM w, l\nORDER BY w.k"
    )


def xychart(lay: Layout, title: str, sql: str, unit: str, ys: tuple[str, ...], *, w: int = 12, h: int = 10,
            description: str = "") -> dict[str, Any]:  # fmt: skip
    return {
        "datasource": DS,
        "description": description,
        "fieldConfig": {
            "defaults": {
                "color": {"mode": "palette-classic"},
                "custom": {"lineWidth": 2, "pointSize": 1, "show": "lines"},
                "unit": unit,
            },
            "overrides": [
                override(name, {"color": {"fixedColor": color, "mode": "fixed"}})
                for name, color in zip(ys, ("red", "yellow", "blue"), strict=True)
            ],
        },
        "gridPos": lay.place(w, h),
        "id": lay.id(),
        "options": {
            "legend": {"displayMode": "list", "placement": "bottom", "showLegend": True},
            # auto mapping: x is t_ms, every other numeric column of the frame is a y series
            "mapping": "auto",
            "series": [{"x": {"matcher": {"id": "byName", "options": "t_ms"}}}],
            "tooltip": {"mode": "multi", "sort": "none"},
        },
        "targets": [target(sql, "table")],
        "title": title,
        "type": "xychart",
    }


def formas_de_onda() -> dict[str, Any]:
    lay = Layout()
    p: list[dict[str, Any]] = []
    v_labels = ("R (V12)", "S (V23)", "T (V31)")
    i_labels = ("R (I1)", "S (I2)", "T (I3)")
    p.append(xychart(lay, "Tensões de linha R/S/T (V)", wave_sql(("v_l12", "v_l23", "v_l31"), v_labels, current=False),
                     "volt", v_labels,
                     description="Dois ciclos senoidais defasados de 120°, amplitude √2 × RMS da última leitura, frequência medida. Eixo x em milissegundos."))  # fmt: skip
    p.append(xychart(lay, "Correntes R/S/T (A)", wave_sql(("i_l1", "i_l2", "i_l3"), i_labels, current=True),
                     "amp", i_labels,
                     description="Correntes de fase com amplitude √2 × RMS, atrasadas da tensão de fase pelo ângulo do FP de cada fase."))  # fmt: skip
    one = (
        "SELECT r.time, r.v_l12, r.v_l23, r.v_l31, r.i_l1, r.i_l2, r.i_l3, r.freq AS value\n"
        "FROM readings r\n"
        "WHERE r.meter_id = (SELECT meter_id FROM meters WHERE site_id = '$site' AND name = '$meter')\n"
        f"  AND r.time <= $__timeTo() AND r.time > $__timeTo()::timestamptz - interval '{LIVE_WINDOW}'\n"
        "ORDER BY r.time DESC LIMIT 1"
    )
    panel = stat(
        lay,
        "Última leitura (RMS)",
        one,
        "none",
        [(None, BLUE)],
        per_meter=False,
        w=24,
        h=4,
        decimals=1,
    )
    panel["options"]["reduceOptions"]["fields"] = "/^(v_l|i_l|value)/"
    panel["fieldConfig"]["overrides"] = [
        override("v_l12", {"displayName": "V12 (R)", "unit": "volt"}),
        override("v_l23", {"displayName": "V23 (S)", "unit": "volt"}),
        override("v_l31", {"displayName": "V31 (T)", "unit": "volt"}),
        override("i_l1", {"displayName": "I1", "unit": "amp"}),
        override("i_l2", {"displayName": "I2", "unit": "amp"}),
        override("i_l3", {"displayName": "I3", "unit": "amp"}),
        override("value", {"displayName": "Frequência", "unit": "hertz", "decimals": 2}),
    ]
    p.append(panel)
    return dashboard(
        "emusa-formas-de-onda",
        "EMUSA — Formas de onda",
        p,
        description="Ondas senoidais trifásicas R/S/T calculadas da última leitura (amplitude √2 × RMS, 120° entre fases).",
        time_from="now-5m",
        refresh="5s",
        multi_meter=False,
        with_anomalies=False,
    )


def qualidade() -> dict[str, Any]:
    lay = Layout()
    p: list[dict[str, Any]] = []
    bands = "Faixas PRODIST (Módulo 8) para 220/127 V em segundo plano."
    p.append(timeseries(lay, "Tensões de fase (V)", [switched({"V1": q("v_l1n"), "V2": q("v_l2n"), "V3": q("v_l3n")})],
                        "volt", thresholds=V_LN_STEPS, threshold_style="area", description=bands))  # fmt: skip
    p.append(timeseries(lay, "Tensões de linha (V)", [switched({"V12": q("v_l12"), "V23": q("v_l23"), "V31": q("v_l31")})],
                        "volt", thresholds=V_LL_STEPS, threshold_style="area", description=bands))  # fmt: skip
    p.append(timeseries(lay, "Desequilíbrio de tensão FD (%)", [switched({"FD": (unbalance(""), unbalance("_avg"))})],
                        "percent", thresholds=UNBALANCE_STEPS, threshold_style="line", decimals=2,
                        description="Fator de desequilíbrio pela fórmula do PRODIST com as tensões de linha; limite 3% em baixa tensão. Em períodos longos, calculado das médias."))  # fmt: skip
    p.append(timeseries(lay, "Frequência (Hz)", [switched({"Hz": q("freq")})], "hertz",
                        thresholds=HZ_STEPS, threshold_style="line", decimals=3))  # fmt: skip
    p.append(timeseries(lay, "Fator de potência por fase", [switched({"FP1": q("pf_l1"), "FP2": q("pf_l2"), "FP3": q("pf_l3"), "FP total": q("pf_total")})],
                        "none", thresholds=PF_STEPS, threshold_style="line", decimals=3))  # fmt: skip
    p.append(timeseries(lay, "Correntes (A)", [switched({"I1": q("i_l1"), "I2": q("i_l2"), "I3": q("i_l3"), "IN": q("i_n")})],
                        "amp"))  # fmt: skip
    p.append(timeseries(lay, "THD de tensão (%)", [switched({"THD V1": q("thd_v_l1"), "THD V2": q("thd_v_l2"), "THD V3": q("thd_v_l3")})],
                        "percent", decimals=1))  # fmt: skip
    p.append(timeseries(lay, "THD de corrente (%)", [switched({"THD I1": q("thd_i_l1"), "THD I2": q("thd_i_l2"), "THD I3": q("thd_i_l3")})],
                        "percent", decimals=1))  # fmt: skip
    return dashboard(
        "emusa-qualidade",
        "EMUSA — Qualidade de energia",
        p,
        description="Tensões por fase, desequilíbrio, frequência, fator de potência e THD, com as faixas do PRODIST.",
        time_from="now-24h",
        refresh="1m",
    )


def demanda() -> dict[str, Any]:
    lay = Layout()
    p: list[dict[str, Any]] = []
    site_demand = gaps_as_nulls(
        f"{TARIFF_CTE}\n"
        'SELECT c.bucket AS time, c.demand_kw AS "Demanda 15 min", c.contracted_kw AS "Contratada",\n'
        '       c.contracted_kw * (1 + c.demand_tolerance) AS "Limite (+5%)"\n'
        "FROM c",
        ["Demanda 15 min", "Contratada", "Limite (+5%)"],
        metric=False,
    )
    p.append(timeseries(lay, "Demanda do site (15 min) × contratada", [site_demand], "kwatt", w=24, h=9,
                        description="Demanda de cada intervalo de 15 min (kWh × 4) somando os medidores do site; linha da demanda contratada e do limite de ultrapassagem (+5%).",
                        overrides=[override("Limite (+5%)", {"color": {"fixedColor": "red", "mode": "fixed"}, "custom.lineStyle": {"dash": [10, 10], "fill": "dash"}}),
                                   override("Contratada", {"color": {"fixedColor": "orange", "mode": "fixed"}}),
                                   override("Demanda 15 min", {"custom.drawStyle": "bars", "custom.fillOpacity": 60})]))  # fmt: skip

    # The demand controller's projection (analytics/demand_control.py), minute by minute:
    # energy of the interval so far (counter kWh, else kW/60) + the minute's kW until
    # the interval ends, x 4; against the limit of the interval's tariff period.
    # Read from the 1-minute rollup over the minutes needed only: the energy of a minute
    # is emusa_counter_delta() from the adjacent previous minute (lag() over the range
    # plus one minute), as readings_1m computes it with a join that reads the whole
    # rollup (60 ms for 24 h, 300 ms for 30 days in the dashboard benchmark).
    origin = "TIMESTAMPTZ '2000-01-01 00:00Z'"

    def projection_cte(since: str, tariff: str) -> str:
        start = f"date_bin('15 minutes', {since}, {origin})"
        return (
            f"{tariff},\n"
            "a AS (\n"
            "  SELECT a.bucket, a.p_total_avg,\n"
            "         emusa_counter_delta(CASE WHEN lag(a.bucket) OVER w = a.bucket - interval '1 minute'\n"
            "                                  THEN lag(a.e_imp_kwh_last) OVER w END,\n"
            "                             a.e_imp_kwh_first, a.e_imp_kwh_last, a.e_imp_kwh_min, a.e_imp_kwh_max) AS kwh\n"
            "  FROM rollup.agg_1m a\n"
            "  JOIN meters mt ON mt.meter_id = a.meter_id\n"
            "  WHERE mt.site_id = '$site' AND mt.include_in_site_total\n"
            f"    AND a.bucket >= {start} - interval '1 minute'\n"
            "    AND a.bucket < $__timeTo()::timestamptz\n"
            "  WINDOW w AS (PARTITION BY a.meter_id ORDER BY a.bucket)\n"
            "),\n"
            "m AS (\n"
            f"  SELECT a.bucket, date_bin('15 minutes', a.bucket, {origin}) AS w,\n"
            "         sum(a.p_total_avg) AS kw, coalesce(sum(a.kwh), sum(a.p_total_avg) / 60) AS kwh\n"
            "  FROM a\n"
            f"  WHERE a.bucket >= {start}\n"
            "  GROUP BY a.bucket\n"
            "  HAVING sum(a.p_total_avg) IS NOT NULL\n"
            "),\n"
            "p AS (\n"
            "  SELECT m.bucket + interval '1 minute' AS at, m.w,\n"
            "         (sum(m.kwh) OVER (PARTITION BY m.w ORDER BY m.bucket)\n"
            "          + m.kw * extract(epoch FROM m.w + interval '15 minutes' - m.bucket - interval '1 minute') / 3600) * 4 AS projected_kw\n"
            "  FROM m\n"
            ")"
        )

    # Minute by minute over the last 24 h of the range; before that, each closed
    # interval's final demand (what the projection reaches at the interval's end), so
    # a 30-day range costs what one day does.
    since = "greatest($__timeFrom()::timestamptz, $__timeTo()::timestamptz - interval '24 hours')"
    projection = gaps_as_nulls(
        f"{projection_cte(since, TARIFF_CTE)}\n"
        'SELECT x.time, max(x.projected_kw) AS "Projeção do intervalo",\n'
        '       max(x.final_kw) AS "Demanda final do intervalo", max(x.limit_kw) AS "Limite"\n'
        "FROM (\n"
        "  SELECT $__timeGroup(p.at, $__interval) AS time, p.projected_kw, NULL::double precision AS final_kw,\n"
        "         c.contracted_kw * (1 + c.demand_tolerance) AS limit_kw\n"
        "  FROM p\n  LEFT JOIN c ON c.bucket = p.w\n  WHERE p.at > $__timeFrom()::timestamptz\n"
        "  UNION ALL\n"
        "  SELECT time_bucket(greatest(interval '$__interval', interval '15 minutes'), c.bucket + interval '15 minutes'),\n"
        "         NULL, c.demand_kw, c.contracted_kw * (1 + c.demand_tolerance)\n"
        f"  FROM c\n  WHERE c.bucket < date_bin('15 minutes', {since}, {origin})\n"
        ") x\nGROUP BY 1",
        ["Projeção do intervalo", "Demanda final do intervalo", "Limite"],
        metric=False,
    )
    p.append(timeseries(lay, "Projeção da demanda do intervalo × limite", [projection], "kwatt", w=18, h=8,
                        description="Controlador de demanda: a cada minuto, a demanda que o intervalo de 15 min atingirá se a carga atual continuar (energia já consumida no intervalo + kW atual até o fim, × 4), contra o limite do posto tarifário (contratada + tolerância). Acima do limite a partir do 3º minuto do intervalo: alerta antecipado com os kW a reduzir (MQTT <raiz>/<site>/alerts, e-mail). A projeção é desenhada nas últimas 24 h do período; antes disso, a demanda final de cada intervalo (onde a projeção chega ao fim do intervalo).",
                        overrides=[override("Limite", {"color": {"fixedColor": "red", "mode": "fixed"}, "custom.lineStyle": {"dash": [10, 10], "fill": "dash"}}),
                                   override("Demanda final do intervalo", {"color": {"fixedColor": "blue", "mode": "fixed"}})]))  # fmt: skip
    recent = "$__timeTo()::timestamptz - interval '15 minutes'"
    current = tariff_cte(f"date_bin('15 minutes', {recent}, {origin})")
    margin = (  # only the running interval (and the previous one while it starts)
        f"{projection_cte(recent, current)}\n"
        "SELECT p.projected_kw - c.contracted_kw * (1 + c.demand_tolerance) AS value\n"
        "FROM p\nJOIN c ON c.bucket = p.w\nORDER BY p.at DESC\nLIMIT 1"
    )
    p.append(stat(lay, "Projeção − limite (intervalo atual)", margin, "kwatt", [(None, GREEN), (0.001, RED)],
                  per_meter=False, w=6, h=8,
                  description="Quanto a projeção do intervalo de 15 min em curso fica acima (vermelho) ou abaixo (verde, negativo) do limite de ultrapassagem."))  # fmt: skip
    meter_demand = gaps_as_nulls(
        'SELECT d.bucket AS time, m.name AS metric, d.demand_kw AS "kW"\n'
        "FROM demand_15m d\nJOIN meters m ON m.meter_id = d.meter_id\n"
        "WHERE $__timeFilter(d.bucket) AND " + meter_filter("d"),
        ["kW"],
    )
    p.append(timeseries(lay, "Demanda por medidor (15 min)", [meter_demand], "kwatt", w=12))
    peaks = (
        f"{TARIFF_CTE}\n"
        "SELECT c.period, max(c.demand_kw) AS value,\n"
        "       max(c.contracted_kw * (1 + c.demand_tolerance)) AS limit_kw\n"
        "FROM c\nGROUP BY 1\nORDER BY 1"
    )
    pk = stat(
        lay,
        "Demanda máxima no período por posto",
        peaks,
        "kwatt",
        [(None, BLUE)],
        per_meter=False,
        w=12,
        h=8,
    )
    pk["fieldConfig"]["defaults"]["displayName"] = "${__data.fields.period}"
    p.append(pk)
    energy = (
        f"{TARIFF_CTE}\n"
        "SELECT (date_trunc('day', c.lt) AT TIME ZONE c.timezone) AS time,\n"
        "       sum(c.e_imp_kwh_delta) FILTER (WHERE c.period = 'ponta') AS \"Ponta\",\n"
        "       sum(c.e_imp_kwh_delta) FILTER (WHERE c.period = 'intermediario') AS \"Intermediário\",\n"
        "       sum(c.e_imp_kwh_delta) FILTER (WHERE c.period = 'fora_ponta') AS \"Fora de ponta\"\n"
        "FROM c\nGROUP BY 1\nORDER BY 1"
    )
    p.append(timeseries(lay, "Energia diária por posto tarifário (kWh)", [energy], "kwatth", w=24, h=9, draw="bars", stack=True,
                        description="Energia ativa importada do site por dia local, separada em ponta, intermediário (tarifa branca) e fora de ponta pelo calendário tarifário do site.",
                        overrides=[override("Ponta", {"color": {"fixedColor": "red", "mode": "fixed"}}),
                                   override("Intermediário", {"color": {"fixedColor": "orange", "mode": "fixed"}}),
                                   override("Fora de ponta", {"color": {"fixedColor": "green", "mode": "fixed"}})]))  # fmt: skip
    period_now = "SELECT emusa_tariff_period('$site', $__timeTo()::timestamptz) AS value"
    pn = stat(
        lay, "Posto tarifário agora", period_now, "none", [(None, BLUE)], per_meter=False, w=6, h=5
    )
    pn["options"]["reduceOptions"]["fields"] = "/^value$/"
    pn["fieldConfig"]["defaults"]["mappings"] = [value_map(
        ("ponta", "Ponta", "red"), ("intermediario", "Intermediário", "orange"),
        ("fora_ponta", "Fora de ponta", "green"),
    )]  # fmt: skip
    p.append(pn)
    over = (
        f"{TARIFF_CTE}\n"
        'SELECT c.bucket AS "Intervalo", c.period AS "Posto", c.demand_kw AS "Demanda (kW)",\n'
        '       c.contracted_kw AS "Contratada (kW)", c.contracted_kw * (1 + c.demand_tolerance) AS "Limite (kW)",\n'
        '       c.demand_kw - c.contracted_kw * (1 + c.demand_tolerance) AS "Excesso (kW)"\n'
        "FROM c\nWHERE c.demand_kw > c.contracted_kw * (1 + c.demand_tolerance)\n"
        "ORDER BY c.bucket DESC\nLIMIT 200"
    )
    p.append(table(lay, "Ultrapassagens de demanda (acima de contratada + 5%)", over, w=18, h=5))
    return dashboard(
        "emusa-demanda",
        "EMUSA — Demanda e tarifa",
        p,
        description="Demanda de 15 min contra a contratada (+5%), ponta e fora de ponta, energia diária.",
        time_from="now-7d",
        refresh="1m",
    )


def monitored_registers(lay: Layout) -> dict[str, Any]:
    """ "Registros monitorados": per meter, one row per register with the plant file's own
    name and description (the gateway's info message, meter_registers, migration 0019), the
    latest value, unit and IA flag, and the meter's identifier and port, as the old Dash app
    showed them. A meter without metadata (a built-in map, an older gateway) gets one row
    per quantity of its latest reading, described by the quantity registry's pt-BR label."""
    labels = ",\n    ".join(
        f"({i}, '{q.name}', '{q.label_pt.replace(chr(39), chr(39) * 2)}', '{q.unit}')"
        for i, q in enumerate(QUANTITIES.values())
    )
    sql = (
        'SELECT m.name AS "Medidor", m.identifier AS "Identificador", m.port AS "Porta",\n'
        '       x.name AS "Registro", x.description AS "Descrição",\n'
        '       (to_jsonb(r) ->> x.quantity)::float8 AS "Valor", x.unit AS "Unidade",\n'
        '       x.ai AS "IA", r.time AS "Horário"\n'
        "FROM meters m\nLEFT JOIN LATERAL (\n  SELECT * FROM readings r\n"
        "  WHERE r.meter_id = m.meter_id AND r.time <= $__timeTo()\n"
        f"    AND r.time > $__timeTo()::timestamptz - interval '{LIVE_WINDOW}'\n"
        "  ORDER BY r.time DESC LIMIT 1\n) r ON true\nCROSS JOIN LATERAL (\n"
        "  SELECT g.position, g.quantity, coalesce(g.name, g.quantity) AS name,\n"
        "         coalesce(g.description, q.label) AS description, g.unit, g.ai\n"
        "  FROM meter_registers g LEFT JOIN registry q USING (quantity)\n"
        "  WHERE g.meter_id = m.meter_id\n"
        "  UNION ALL\n"
        "  SELECT q.position, q.quantity, q.quantity, q.label, q.unit, NULL\n"
        "  FROM registry q\n"
        "  WHERE NOT EXISTS (SELECT FROM meter_registers g WHERE g.meter_id = m.meter_id)\n"
        "    AND to_jsonb(r) ->> q.quantity IS NOT NULL\n"
        ") x\n"
        "WHERE m.site_id = '$site' AND m.name IN ($meter)\nORDER BY m.name, x.position"
    )
    sql = f"WITH registry (position, quantity, label, unit) AS (VALUES\n    {labels}\n)\n{sql}"
    return table(
        lay,
        "Registros monitorados (últimas leituras)",
        sql,
        h=12,
        description=(
            "Por medidor, cada registro lido: o nome e a descrição do arquivo de registros da"
            " planta (registers_kron03_real.json), o último valor (últimos 5 min até o fim do"
            " intervalo), a unidade e se o valor alimenta a IA; com o identificador lido do"
            " medidor (CH30-…) e a porta. Medidores sem essa descrição mostram o nome da grandeza."
        ),
        overrides=[
            override("IA", {"mappings": [value_map(("true", "sim", "green"), ("false", "não", "text"))]}),
            override("Descrição", {"custom.width": 320}),
            override("Valor", {"decimals": 3}),
        ],
    )  # fmt: skip


def ia_diagnostico() -> dict[str, Any]:
    lay = Layout()
    p: list[dict[str, Any]] = []
    links = (
        "**Relatórios e exportações** (API de análises em `${api_url}`):\n\n"
        "- [Relatório PDF mais recente](${api_url}/reports/latest.pdf?site=${site})\n"
        "- [Exportar CSV do período](${api_url}/export.csv?site=${site}&from=${__from:date:iso}&to=${__to:date:iso})\n"
        "- [Abrir no Power BI (.pbids)](${api_url}/powerbi.pbids?site=${site})\n"
        "\nO navegador pede usuário e senha: qualquer usuário, senha = token da API (`EMUSA_API_TOKEN`).\n"
    )
    p.append(text(lay, "Relatórios", links, w=8, h=6))
    counts = (
        "SELECT a.severity AS severity, count(*) AS value\nFROM anomalies a\n"
        f"WHERE {ANOMALY_WHERE}\nGROUP BY 1\n"
        "ORDER BY CASE a.severity WHEN 'critical' THEN 0 WHEN 'warning' THEN 1 ELSE 2 END"
    )
    c = stat(
        lay,
        "Anomalias no período",
        counts,
        "none",
        [(None, BLUE)],
        per_meter=False,
        w=16,
        h=6,
        decimals=0,
    )
    c["fieldConfig"]["defaults"]["displayName"] = "${__data.fields.severity}"
    c["fieldConfig"]["defaults"]["mappings"] = [value_map(
        ("critical", "Crítica", "red"), ("warning", "Alerta", "orange"),
        ("info", "Informativa", "blue"),
    )]  # fmt: skip
    p.append(c)
    anomalies = (
        'SELECT a.started_at AS "Início", a.ended_at AS "Fim", coalesce(m.name, \'(site)\') AS "Medidor",\n'
        '       a.kind AS "Tipo", a.severity AS "Severidade", a.detector AS "Detector",\n'
        '       a.quantity AS "Grandeza", a.measured AS "Medido", a.limit_value AS "Limite",\n'
        '       a.message_pt AS "Mensagem"\n'
        f"FROM anomalies a\nLEFT JOIN meters m ON m.meter_id = a.meter_id\nWHERE {ANOMALY_WHERE}\n"
        "ORDER BY a.started_at DESC\nLIMIT 500"
    )
    sev_colors = value_map(
        ("critical", "crítica", "red"), ("warning", "alerta", "orange"), ("info", "info", "blue")
    )
    p.append(table(lay, "Anomalias detectadas", anomalies, h=9,
                   description="Eventos das regras de qualidade (PRODIST, FP, demanda) e do modelo estatístico; Fim vazio = em curso.",
                   overrides=[override("Severidade", {"mappings": [sev_colors], "custom.cellOptions": {"type": "color-background"}}),
                              override("Tipo", {"mappings": [words_map([(k, pt) for k, (pt, _en) in KIND_NAMES.items()])]}),
                              override("Detector", {"mappings": [words_map([("rule", "regra"), ("model", "modelo estatístico")])]}),
                              override("Grandeza", {"mappings": [words_map([(q.name, q.label_pt) for q in QUANTITIES.values()])]}),
                              override("Mensagem", {"custom.width": 480})]))  # fmt: skip
    summaries = (
        'SELECT su.period_start AS "Início", su.period_end AS "Fim", su.text_pt AS "Resumo", su.source AS "Origem"\n'
        "FROM summaries su\nWHERE su.site_id = '$site' AND su.period_end <= $__timeTo()\n"
        "ORDER BY su.period_end DESC\nLIMIT 4"
    )
    p.append(table(lay, "Últimos resumos automáticos (6 h)", summaries, h=8,
                   overrides=[override("Resumo", {"custom.width": 800, "custom.cellOptions": {"type": "auto", "wrapText": True}})]))  # fmt: skip
    p.append(
        timeseries(
            lay,
            "Comportamento: potência ativa (kW)",
            [switched({"kW": q("p_total")})],
            "kwatt",
            w=8,
        )
    )
    p.append(timeseries(lay, "Comportamento: frequência (Hz)", [switched({"Hz": q("freq")})], "hertz", w=8,
                        thresholds=HZ_STEPS, threshold_style="line", decimals=2))  # fmt: skip
    p.append(timeseries(lay, "Comportamento: fator de potência", [switched({"FP": q("pf_total")})], "none", w=8,
                        thresholds=PF_STEPS, threshold_style="line", decimals=3))  # fmt: skip
    p.append(monitored_registers(lay))
    return dashboard(
        "emusa-ia-diagnostico",
        "EMUSA — IA & diagnóstico",
        p,
        description="Anomalias, resumos automáticos de 6 h, comportamento de kW/Hz/FP e links para relatórios PDF, CSV e Power BI.",
        time_from="now-24h",
        refresh="30s",
        api=True,
    )


def diagnostico_modbus() -> dict[str, Any]:
    """Modbus link health per meter and bus, from the gateways' diagnostics (migration 0009)."""
    lay = Layout()
    meters = "m.site_id = '$site' AND m.name IN ($meter)"
    last_row = (
        "FROM meters m\nCROSS JOIN LATERAL (\n"
        "  SELECT * FROM modbus_meter_diagnostics d\n"
        "  WHERE d.meter_id = m.meter_id AND $__timeFilter(d.time)\n"
        "  ORDER BY d.time DESC LIMIT 1\n) d\n"
        f"WHERE {meters}\nORDER BY m.name"
    )
    p: list[dict[str, Any]] = [row(lay, "Por medidor (último período de diagnóstico)")]
    status = stat(lay, "Status", f"SELECT m.name AS meter, d.status AS value\n{last_row}", "none",
                  [(None, BLUE)], decimals=0, w=8,
                  description="online: respondendo; unreachable: sem resposta, em espera exponencial (backoff) sem atrasar os outros medidores do barramento; unknown: ainda não lido desde o início do gateway.")  # fmt: skip
    status["fieldConfig"]["defaults"]["mappings"] = [value_map(
        ("online", "Online", "green"), ("unreachable", "Sem resposta", "red"),
        ("unknown", "Desconhecido", "orange"), ("disabled", "Desativado", "blue"),
    )]  # fmt: skip
    p.append(status)
    since = (
        "SELECT m.name AS meter,\n"
        "       d.seconds_since_good_read + extract(epoch FROM $__timeTo()::timestamptz - d.time) AS value\n"
        f"{last_row}"
    )
    p.append(stat(lay, "Tempo desde a última leitura boa", since, "s", [(None, GREEN), (60, ORANGE), (300, RED)],
                  decimals=0, w=8,
                  description="Segundos desde a última leitura completa do medidor, no fim do intervalo exibido. Vazio: nunca lido desde o início do gateway."))  # fmt: skip
    p95 = "SELECT m.name AS meter, d.latency_p95_ms AS value\n" + last_row
    p.append(stat(lay, "Latência p95 (último período)", p95, "ms", [(None, GREEN), (200, ORANGE), (500, RED)],
                  decimals=0, w=8))  # fmt: skip
    series = (
        "SELECT $__timeGroupAlias(d.time, $__interval), m.name AS metric, {cols}\n"
        "FROM modbus_meter_diagnostics d\nJOIN meters m ON m.meter_id = d.meter_id\n"
        f"WHERE $__timeFilter(d.time) AND {meters}\nGROUP BY 1, 2\nORDER BY 1"
    )
    p.append(row(lay, "Histórico"))
    p.append(timeseries(lay, "Latência por medidor (p95, ms)",
                        [series.format(cols='max(d.latency_p95_ms) AS "p95"')], "ms",
                        description="95º percentil do tempo de resposta das requisições bem-sucedidas em cada período de diagnóstico (pior período do intervalo do gráfico)."))  # fmt: skip
    rates = (
        'sum(d.timeouts) * 60 / nullif(sum(d.period_s), 0) AS "timeouts/min",\n'
        '       sum(d.crc_errors) * 60 / nullif(sum(d.period_s), 0) AS "CRC/min",\n'
        '       sum(d.exceptions) * 60 / nullif(sum(d.period_s), 0) AS "exceções/min"'
    )
    p.append(timeseries(lay, "Falhas Modbus por minuto", [series.format(cols=rates)], "none", decimals=2,
                        description="Timeouts (sem resposta), erros de CRC/enquadramento (resposta corrompida: ruído, terminação, baud rate) e respostas de exceção Modbus (endereço ou função inválidos) por minuto."))  # fmt: skip
    p.append(row(lay, "Detalhe"))
    detail = (
        'SELECT m.name AS "Medidor", d.bus AS "Barramento", d.unit AS "Unidade", d.status AS "Status",\n'
        '       d.requests AS "Requisições", d.successes AS "Sucessos", d.timeouts AS "Timeouts",\n'
        '       d.crc_errors AS "CRC", d.exceptions AS "Exceções", d.exception_codes::text AS "Códigos",\n'
        '       d.retries AS "Repetições", d.latency_p50_ms AS "p50 ms", d.latency_p95_ms AS "p95 ms",\n'
        '       d.latency_max_ms AS "máx ms", d.consecutive_failures AS "Falhas seguidas",\n'
        '       d.backoff_s AS "Espera (s)", d.time AS "Período até"\n'
        f"{last_row}"
    )
    p.append(table(lay, "Medidores: último período", detail, h=7))
    buses = (
        'SELECT b.gateway AS "Gateway", b.bus AS "Barramento", b.meters_online AS "Online",\n'
        '       b.meters AS "Medidores", b.cycles AS "Ciclos", b.cycle_max_ms AS "Ciclo máx ms",\n'
        '       b.overruns AS "Atrasos", b.requests AS "Requisições", b.timeouts AS "Timeouts",\n'
        '       b.crc_errors AS "CRC", b.exceptions AS "Exceções", b.latency_p95_ms AS "p95 ms",\n'
        '       b.time AS "Período até"\n'
        "FROM (\n  SELECT DISTINCT ON (gateway, bus) * FROM modbus_bus_diagnostics\n"
        "  WHERE site_id = '$site' AND $__timeFilter(time)\n"
        "  ORDER BY gateway, bus, time DESC\n) b\nORDER BY 1, 2"
    )
    p.append(table(lay, "Barramentos: último período", buses, h=6,
                   description="Atrasos: ciclos de leitura mais longos que o intervalo de leitura (barramento saturado)."))  # fmt: skip
    return dashboard(
        "emusa-diagnostico-modbus",
        "EMUSA — Diagnóstico Modbus",
        p,
        description="Saúde da comunicação Modbus por medidor e barramento: latência, timeouts, CRC, exceções, tempo desde a última leitura boa.",
        time_from="now-6h",
        refresh="30s",
        with_anomalies=False,
    )


DASHBOARDS = {
    "visao-geral.json": visao_geral,
    "formas-de-onda.json": formas_de_onda,
    "qualidade.json": qualidade,
    "demanda.json": demanda,
    "ia-diagnostico.json": ia_diagnostico,
    "diagnostico-modbus.json": diagnostico_modbus,
}


def render() -> dict[str, str]:
    return {
        name: json.dumps(build(), indent=2, ensure_ascii=False) + "\n"
        for name, build in DASHBOARDS.items()
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="fail when a file is out of date")
    args = parser.parse_args()
    stale = []
    for name, content in render().items():
        path = OUT / name
        if args.check:
            if not path.exists() or path.read_text(encoding="utf-8") != content:
                stale.append(name)
            continue
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(content, encoding="utf-8")
    if stale:
        print(f"out of date (run scripts/gen_dashboards.py): {', '.join(stale)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
