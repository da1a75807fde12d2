"""The panel kit: thresholds, the grid layout, panels, value mappings and overrides.

Every panel reads the one provisioned datasource (``DS``); ``Layout`` places panels on
Grafana's 24-column grid, left to right, and numbers them.
"""

from __future__ import annotations

from typing import Any

DS = {"type": "grafana-postgresql-datasource", "uid": "emusa-timescaledb"}

# PRODIST Modulo 8, 220/127 V: adequate 202-231 / 117-133 V, precarious 191-202 or
# 231-233 / 110-117 or 133-135 V, critical outside. Grafana colours a value by the
# highest step <= value, so the upper inclusive limits sit just above 231 / 233.
RED, ORANGE, GREEN, BLUE = "red", "orange", "green", "blue"
V_LL_STEPS = [(None, RED), (191, ORANGE), (202, GREEN), (231.001, ORANGE), (233.001, RED)]
V_LN_STEPS = [(None, RED), (110, ORANGE), (117, GREEN), (133.001, ORANGE), (135.001, RED)]
HZ_STEPS = [(None, RED), (59.9, GREEN), (60.1001, RED)]
PF_STEPS = [(None, RED), (0.92, GREEN)]
UNBALANCE_STEPS = [(None, GREEN), (3.0001, RED)]  # PRODIST FD limit at low voltage: 3 %


def steps(spec: list[tuple[float | None, str]]) -> dict[str, Any]:
    return {"mode": "absolute", "steps": [{"color": c, "value": v} for v, c in spec]}


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
