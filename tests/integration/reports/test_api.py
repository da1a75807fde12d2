"""The HTTP API over real HTTP: uvicorn serving the Starlette app on a free port."""

from __future__ import annotations

import base64
import csv
import io
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest

from analytics.delivery.config import DeliveryConfig, PowerBI
from analytics.reports import service
from tests.integration.reports.api_server import TOKEN, get, serve_api
from tests.integration.reports.conftest import DAY, FORTNIGHT
from tests.integration.reports.plant import SITE

pytestmark = pytest.mark.integration


@dataclass
class Api:
    base: str
    daily: service.ReportRecord
    fortnight: service.ReportRecord

    def get(
        self, path: str, *, auth: str | None = f"Bearer {TOKEN}"
    ) -> tuple[int, dict[str, str], bytes]:
        return get(self.base + path, auth=auth)


@pytest.fixture
def api(plant_db: str, config: DeliveryConfig) -> Iterator[Api]:
    daily = service.generate(plant_db, SITE, "daily", start=DAY[0], end=DAY[1], config=config,
                             record_kind="daily")  # fmt: skip
    fortnight = service.generate(
        plant_db, SITE, "fortnightly", start=FORTNIGHT[0], end=FORTNIGHT[1], config=config,
        record_kind="fortnightly",
    )  # fmt: skip
    cfg = config.model_copy(
        update={"powerbi": PowerBI(server="plant-server:5432", database="emusa")}
    )
    with serve_api(plant_db, cfg) as base:
        yield Api(base, daily, fortnight)


def test_auth(api: Api) -> None:
    status, headers, _ = api.get("/reports", auth=None)
    assert status == 401 and headers["www-authenticate"].startswith("Basic")
    assert api.get("/reports", auth="Bearer wrong")[0] == 401
    basic = base64.b64encode(f"grafana:{TOKEN}".encode()).decode()
    assert api.get("/reports", auth=f"Basic {basic}")[0] == 200
    status, _, body = api.get("/health", auth=None)
    assert status == 200 and json.loads(body) == {"status": "ok", "database": True}


def test_reports_list_and_pdfs(api: Api) -> None:
    status, _, body = api.get("/reports")
    assert status == 200
    listed = json.loads(body)
    assert {r["id"] for r in listed} == {api.daily.report_id, api.fortnight.report_id}
    assert {r["url"] for r in listed} == {
        f"/reports/{api.daily.report_id}.pdf",
        f"/reports/{api.fortnight.report_id}.pdf",
    }
    status, headers, pdf = api.get(f"/reports/{api.daily.report_id}.pdf")
    assert status == 200 and headers["content-type"] == "application/pdf"
    assert pdf == Path(api.daily.path).read_bytes()
    status, _, latest = api.get("/reports/latest.pdf")
    assert latest == Path(api.fortnight.path).read_bytes()  # the period ending last
    assert api.get("/reports/latest.pdf?kind=daily")[2] == pdf
    assert api.get("/reports/999999.pdf")[0] == 404
    assert api.get("/reports/latest.pdf?kind=weekly")[0] == 400
    Path(api.daily.path).unlink()
    assert api.get(f"/reports/{api.daily.report_id}.pdf")[0] == 410


def test_csv_export_pt_br(api: Api, plant_db: str) -> None:
    path = "/export.csv?from=2026-11-10T00:00:00-03:00&to=2026-11-10T06:00:00-03:00&meter=m1&sep=;"
    status, headers, body = api.get(path)
    assert status == 200 and headers["content-type"].startswith("text/csv")
    assert "attachment" in headers["content-disposition"]
    rows = list(csv.reader(io.StringIO(body.decode("utf-8")), delimiter=";"))
    header, data = rows[0], rows[1:]
    with psycopg.connect(plant_db) as conn:
        expected = conn.execute(
            "SELECT time_utc, p_total FROM bi.readings_1m WHERE meter = 'm1'"
            " AND time_utc >= '2026-11-10T03:00Z' AND time_utc < '2026-11-10T09:00Z'"
            " ORDER BY time_utc"
        ).fetchall()
    assert len(data) == len(expected) == 120  # one reading every 3 min
    col = header.index("p_total")
    assert data[0][col] == f"{expected[0][1]:.6f}".rstrip("0").rstrip(".").replace(".", ",")
    assert {r[header.index("meter")] for r in data} == {"m1"}
    # the default: comma separated, decimal point
    status, _, body = api.get(path.replace("&sep=;", ""))
    rows = list(csv.reader(io.StringIO(body.decode("utf-8"))))
    assert "." in rows[1][col] and "," not in rows[1][col]
    # Grafana's ${__from:date:iso} form, as the dashboards link it
    grafana = (
        "/export.csv?site=plant&from=2026-11-10T03:00:00.000Z&to=2026-11-10T09:00:00.000Z&meter=m1"
    )
    assert api.get(grafana)[2] == body
    assert api.get("/export.csv?from=2026-11-10T00:00:00-03:00")[0] == 400
    assert api.get(path.replace("sep=;", "sep=|"))[0] == 400


def test_powerbi_file(api: Api) -> None:
    status, headers, body = api.get("/powerbi.pbids")
    assert status == 200 and 'filename="emusa.pbids"' in headers["content-disposition"]
    doc = json.loads(body)
    assert doc["version"] == "0.1"
    (conn,) = doc["connections"]
    assert conn["details"] == {
        "protocol": "postgresql",
        "address": {"server": "plant-server:5432", "database": "emusa"},
    }
    assert conn["mode"] == "Import"
