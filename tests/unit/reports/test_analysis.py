from __future__ import annotations

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from analytics.delivery.config import Tariff
from analytics.reports import analysis
from analytics.reports.content import DayDemand, FortnightData, HourEnergy, Site

pytestmark = pytest.mark.unit
TZ = ZoneInfo("America/Sao_Paulo")
START = datetime(2026, 11, 1, tzinfo=TZ)


def _site(contract: float | None = 500.0, modality: str = "verde") -> Site:
    return Site("plant", "Planta", "America/Sao_Paulo", modality, contract, 300.0, 0.05, 0.92)


def _data(max_kw: float = 600.0, pf: float = 0.8, days_over: int = 2) -> FortnightData:
    days = [
        DayDemand(date(2026, 11, 1) + timedelta(days=i), 550.0, max_kw, 1000.0, 9000.0, 10000.0,
                  3 if i < days_over else 0, max_kw - 500 if i < days_over else None)
        for i in range(15)
    ]  # fmt: skip
    # 15 days x 24 h, 100 kWh each hour at the given PF
    kvarh = 100.0 * ((1 / pf**2) - 1) ** 0.5
    hours = [
        HourEnergy(START + timedelta(hours=h), 100.0, kvarh, 0.0, pf, 100.0) for h in range(360)
    ]
    return FortnightData(_site(), START, START + timedelta(days=15), days, hours, max_kw, 550.0,
                         max_kw, 1440, {})  # fmt: skip


def test_ufer_formula_and_windows() -> None:
    inductive = HourEnergy(datetime(2026, 11, 3, 10, tzinfo=TZ), 100.0, 75.0, 0.0, None, None)
    assert analysis.hour_pf(inductive, capacitive=False) == pytest.approx(0.8)
    assert analysis.ufer_kvarh(inductive, 0.92) == pytest.approx(100.0 * (0.92 / 0.8 - 1))
    good = HourEnergy(datetime(2026, 11, 3, 10, tzinfo=TZ), 100.0, 30.0, 0.0, None, None)
    assert analysis.ufer_kvarh(good, 0.92) == 0.0
    # 00-06 h only capacitive reactive counts: inductive kvarh at night is not billed
    night = HourEnergy(datetime(2026, 11, 3, 2, tzinfo=TZ), 100.0, 75.0, 0.0, None, None)
    assert analysis.ufer_kvarh(night, 0.92) == 0.0
    night_cap = HourEnergy(datetime(2026, 11, 3, 2, tzinfo=TZ), 100.0, 0.0, 75.0, None, None)
    assert analysis.ufer_kvarh(night_cap, 0.92) == pytest.approx(15.0)


def test_metrics() -> None:
    m = analysis.metrics(_data())
    assert m.energy_kwh == 150000.0 and m.energy_ponta_kwh == 15000.0
    assert m.load_factor == pytest.approx(150000.0 / (600.0 * 360))
    assert m.ultra_days == 2 and m.intervals_over == 6
    assert m.avg_pf == pytest.approx(0.8)
    assert m.hours_below_ref == 15 * 18  # inductive window 06-24 h only
    assert m.ufer_kvarh == pytest.approx(270 * 100.0 * (0.92 / 0.8 - 1))
    # capacitor bank for the worst hour: P (tan phi - tan phi_ref)
    assert m.low_pf_kvar_needed == pytest.approx(100.0 * (0.75 - 0.42601), rel=1e-3)


def test_costs_are_estimates_from_the_configured_prices() -> None:
    d = _data()
    m = analysis.metrics(d)
    t = Tariff(demand_kw=40.0, energy_ponta_kwh=2.0, energy_fora_ponta_kwh=0.5)
    c = analysis.costs(d, m, t)
    assert c.demand == pytest.approx(600.0 * 40.0)
    assert c.ultrapassagem == pytest.approx((600.0 - 500.0) * 40.0 * 2)
    assert c.energy_ponta == pytest.approx(15000.0 * 2.0)
    assert c.energy_fora == pytest.approx(135000.0 * 0.5)
    assert c.reactive == pytest.approx(m.ufer_kvarh * 0.5)  # fora ponta price by default
    none = analysis.costs(d, m, Tariff())
    assert none.total is None


def test_no_ultrapassagem_within_tolerance() -> None:
    d = _data(max_kw=520.0, days_over=0)  # below 500 x 1.05
    c = analysis.costs(d, analysis.metrics(d), Tariff(demand_kw=40.0))
    assert c.ultrapassagem == 0.0 and c.demand == pytest.approx(520.0 * 40.0)


def test_suggested_contract() -> None:
    assert analysis.suggested_contract(608.2, 0.05) == 580.0  # 580 x 1.05 = 609 covers it
    assert analysis.suggested_contract(525.0, 0.05) == 500.0


def test_recommendations() -> None:
    d = _data()
    m = analysis.metrics(d)
    recs = analysis.recommendations(d, m, None, Tariff(demand_kw=40.0), "pt-BR")
    assert any("ultrapassagem em 2 dia(s)" in r and "cerca de 572 kW" in r for r in recs)
    assert any("R$ 8.000,00" in r for r in recs)  # (600 - 500) x 40 x 2
    assert any("banco de capacitores" in r for r in recs)
    low = _data(max_kw=300.0, pf=0.95, days_over=0)
    recs_en = analysis.recommendations(low, analysis.metrics(low), None, Tariff(), "en")
    assert any("well below the contracted 500.0 kW" in r and "286 kW" in r for r in recs_en)
    assert not any("R$" in r for r in recs_en)  # no prices, no money
