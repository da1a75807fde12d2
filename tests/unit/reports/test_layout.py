"""The pure layout code builds complete PDFs from plain data, without a database."""

from __future__ import annotations

import io
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from pypdf import PdfReader

from analytics.delivery.config import Tariff
from analytics.reports.content import (
    Anomaly,
    DailyData,
    DayDemand,
    FortnightData,
    HourEnergy,
    MeterKpis,
    MeterSeries,
    PeriodSplit,
    Point,
    Site,
    Stat,
    Window,
)
from analytics.reports.daily import build_daily, summary_lines
from analytics.reports.fortnightly import build_fortnightly

pytestmark = pytest.mark.unit
TZ = ZoneInfo("America/Sao_Paulo")
DAY = datetime(2026, 11, 10, tzinfo=TZ)
SITE = Site("plant", "Planta <Sul> & Cia", "America/Sao_Paulo", "verde", 300.0, None, 0.05, 0.92)


def _daily(anomalies: bool = True) -> DailyData:
    pts = [Point(DAY + timedelta(minutes=15 * i), 100.0 + i) for i in range(96)]
    return DailyData(
        SITE, DAY, DAY + timedelta(days=1),
        [MeterKpis("m1", 8640, Stat(219.5, 221.0, 214.2), Stat(195.5, 330.1, 60.0),
                   Stat(0.912, 0.95, 0.8), Stat(60.0, 60.05, 59.95), 4616.6)],
        [PeriodSplit(None, "ponta", 700.0, 320.5), PeriodSplit(None, "fora_ponta", 3916.6, 330.1),
         PeriodSplit("m1", "ponta", 700.0, 320.5), PeriodSplit("m1", "fora_ponta", 3916.6, 330.1)],
        [MeterSeries("m1", pts, pts, pts, pts, [Point(p.at, 0.9) for p in pts])],
        [Anomaly(DAY + timedelta(hours=9), None, "m1", "voltage_band", "critical",
                 "Afundamento <L1> & queda")] if anomalies else [],
        [Window(DAY + timedelta(hours=10), DAY + timedelta(hours=11), 330.0, 330.0, "fora_ponta")],
        ["Resumo das 06 às 12 h: consumo estável."],
        pts,
    )  # fmt: skip


def _text(pdf: bytes) -> str:
    return "\n".join(p.extract_text() for p in PdfReader(io.BytesIO(pdf)).pages)


def test_daily_pt_br() -> None:
    pdf = build_daily(_daily(), lang="pt-BR", branding="Marca X", generated=DAY)
    assert pdf.startswith(b"%PDF")
    text = _text(pdf)
    for s in (
        "Marca X",
        "Planta <Sul> & Cia",
        "4.616,6",
        "330,1",
        "0,912",
        "Afundamento <L1> & queda",
        "em curso",
        "Resumo das 06 às 12 h",
        "ACIMA do limite de 315,0 kW",
        "tensão fora da faixa",  # the kind in words, not its identifier
        "crítica",
    ):
        assert s in " ".join(text.split()), s
    assert "voltage_band" not in text


def test_daily_anomaly_kinds_in_english() -> None:
    text = _text(build_daily(_daily(), lang="en", branding="B", generated=DAY))
    assert "voltage outside the adequate band" in " ".join(text.split())
    assert "voltage_band" not in text


def test_daily_summary_lines_en() -> None:
    lines = summary_lines(_daily(anomalies=False), "en")
    assert lines[0] == "Site consumption: 4,616.6 kWh, of which 700.0 kWh (15.2 %) in ponta."
    assert "No anomaly recorded in the period." in lines


def test_empty_day() -> None:
    empty = DailyData(SITE, DAY, DAY + timedelta(days=1),
                      [MeterKpis("m1", 0, Stat(None, None, None), Stat(None, None, None),
                                 Stat(None, None, None), Stat(None, None, None), None)],
                      [], [], [], [])  # fmt: skip
    text = _text(build_daily(empty, lang="pt-BR", branding="B", generated=DAY))
    assert "Sem dados no período." in text


def test_fortnightly_en_with_costs() -> None:
    start = datetime(2026, 11, 1, tzinfo=TZ)
    days = [DayDemand(date(2026, 11, 1 + i), 280.0, 320.0, 100.0, 900.0, 1000.0, 2, 20.0)
            for i in range(15)]  # fmt: skip
    hours = [
        HourEnergy(start + timedelta(hours=h), 40.0, 10.0, 0.0, 0.97, 40.0) for h in range(360)
    ]
    data = FortnightData(SITE, start, start + timedelta(days=15), days, hours, 320.0, 280.0, 320.0,
                         1440, {"voltage_band": 3})  # fmt: skip
    pdf = build_fortnightly(data, None, tariff=Tariff(demand_kw=40.0), lang="en", branding="B",
                            generated=start)  # fmt: skip
    text = _text(pdf)
    assert "Fortnightly demand analysis" in text
    assert "R$ 12,800.00" in text  # 320 kW x R$ 40
    assert "R$ 1,600.00" in text  # (320 - 300) x 40 x 2
    assert "Money figures are estimates" in text
    assert "voltage outside the adequate band (PRODIST)" in text
    assert "voltage_band" not in text
