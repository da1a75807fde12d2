"""The provisioned dashboards as data: every panel query, annotation and variable."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[3]
PROVISIONING = ROOT / "grafana" / "provisioning"
DASHBOARD_DIR = PROVISIONING / "dashboards" / "emusa"
DATASOURCE_UID = "emusa-timescaledb"


def load_all() -> dict[str, dict[str, Any]]:
    """File name -> dashboard JSON, for every provisioned dashboard."""
    return {
        p.name: json.loads(p.read_text(encoding="utf-8"))
        for p in sorted(DASHBOARD_DIR.glob("*.json"))
    }


def panels(dashboard: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """Every panel, including those nested in collapsed rows."""
    for panel in dashboard.get("panels", []):
        yield panel
        yield from panel.get("panels", [])


@dataclass(frozen=True)
class Query:
    """One SQL text Grafana sends: a panel target, an annotation or a variable query."""

    dashboard: str  # uid
    where: str  # "panel <title> / A", "annotation <name>", "variable <name>"
    sql: str
    fmt: str  # time_series, table (annotations and variables: table)
    panel: dict[str, Any] | None = None

    @property
    def id(self) -> str:
        return f"{self.dashboard}: {self.where}"


def queries(dashboard: dict[str, Any]) -> Iterator[Query]:
    uid = dashboard["uid"]
    for panel in panels(dashboard):
        for target in panel.get("targets", []):
            yield Query(
                uid,
                f"panel {panel['title']} / {target['refId']}",
                target["rawSql"],
                target.get("format", "time_series"),
                panel,
            )
    for ann in dashboard["annotations"]["list"]:
        if "target" in ann:
            yield Query(uid, f"annotation {ann['name']}", ann["target"]["rawSql"], "table")
    for var in dashboard["templating"]["list"]:
        if var["type"] == "query":
            yield Query(uid, f"variable {var['name']}", var["query"], "table")


def all_queries() -> list[Query]:
    return [q for d in load_all().values() for q in queries(d)]
