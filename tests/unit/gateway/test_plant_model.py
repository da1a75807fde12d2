"""The plant model: repeatable, realistic shape, counters that integrate power, events."""

from __future__ import annotations

import math
from datetime import UTC, datetime

import pytest

from contract.quantities import QUANTITIES
from gateway.simulator.model import Event, PlantModel, load_fraction, plant_values

pytestmark = pytest.mark.unit


def local(y: int, mo: int, d: int, h: int, mi: int = 0) -> float:
    """Unix time of a São Paulo wall-clock instant (UTC-3)."""
    return datetime(y, mo, d, h, mi, tzinfo=UTC).timestamp() + 3 * 3600


WED_10 = local(2026, 11, 25, 10)  # a Wednesday


def test_same_seed_same_values_other_seed_other_values() -> None:
    assert plant_values(WED_10, seed=7) == plant_values(WED_10, seed=7)
    assert plant_values(WED_10, seed=7) != plant_values(WED_10, seed=8)


def test_every_canonical_quantity_is_plausible_over_a_week() -> None:
    model = PlantModel(seed=3)
    for hour in range(0, 7 * 24, 1):
        values = model.values(local(2026, 11, 23, 0) + hour * 3600 + 17.3)
        assert set(values) == set(QUANTITIES)
        for name, value in values.items():
            assert QUANTITIES[name].is_plausible(value), (name, value, hour)
        assert 59.9 <= values["freq"] <= 60.1
        assert 0.75 <= values["pf_total"] <= 1.0


def test_shifts_lunch_nights_and_weekends() -> None:
    day = load_fraction(WED_10)
    assert day > 0.8
    assert load_fraction(local(2026, 11, 25, 12)) < day - 0.3  # lunch
    assert load_fraction(local(2026, 11, 25, 3)) < 0.2  # night
    assert load_fraction(local(2026, 11, 29, 10)) < 0.2  # Sunday
    assert 0.3 < load_fraction(local(2026, 11, 28, 9)) < 0.7  # Saturday morning shift
    m = PlantModel(seed=1)
    assert m.values(WED_10)["p_total"] > 2 * m.values(local(2026, 11, 25, 3))["p_total"]


def test_power_factor_moves_with_load() -> None:
    m = PlantModel(seed=2)
    assert m.values(WED_10)["pf_total"] > m.values(local(2026, 11, 25, 3))["pf_total"] + 0.08


def test_phases_add_up() -> None:
    v = PlantModel(seed=4).values(WED_10)
    assert v["p_l1"] + v["p_l2"] + v["p_l3"] == pytest.approx(v["p_total"], rel=1e-9)
    assert v["s_total"] == pytest.approx(math.hypot(v["p_total"], v["q_total"]))
    assert v["v_l12"] == pytest.approx(math.sqrt(3) * (v["v_l1n"] + v["v_l2n"]) / 2, rel=0.01)
    assert v["i_l1"] == pytest.approx(v["s_l1"] * 1000 / v["v_l1n"])


@pytest.mark.parametrize("start", [WED_10, local(2026, 11, 29, 23, 30)])  # includes a week edge
def test_energy_counter_integrates_power(start: float) -> None:
    m = PlantModel(seed=5)
    steps = 3600
    integral = sum(m.power_kw(start + s + 0.5, noise=False) for s in range(steps)) / 3600
    assert m.energy_kwh(start + steps) - m.energy_kwh(start) == pytest.approx(integral, rel=1e-4)


def test_energy_counter_is_monotonic_and_continuous() -> None:
    m = PlantModel(seed=6, events=(Event("phase_loss", WED_10, 600),))
    previous = m.energy_kwh(WED_10 - 3600)
    for s in range(-3600, 7200, 7):
        e = m.energy_kwh(WED_10 + s)
        assert previous <= e < previous + 1.0
        previous = e


def test_meter_demand_is_the_last_interval_average() -> None:
    m = PlantModel(seed=7)
    t = WED_10 + 420
    start = WED_10 - 900  # 10:00 is an interval edge
    assert m.values(t)["demand_kw"] == pytest.approx(
        (m.energy_kwh(WED_10) - m.energy_kwh(start)) * 4
    )


def _with(kind: str) -> tuple[dict[str, float], dict[str, float]]:
    base = PlantModel(seed=9)
    event = PlantModel(seed=9, events=(Event(kind, WED_10 - 30, 60),))
    return base.values(WED_10), event.values(WED_10)


def test_voltage_sag_and_swell() -> None:
    normal, sag = _with("sag")
    assert sag["v_l1n"] == pytest.approx(normal["v_l1n"] * 0.8)
    _, swell = _with("swell")
    assert swell["v_l2n"] == pytest.approx(normal["v_l2n"] * 1.12)


def test_pf_drop() -> None:
    normal, drop = _with("pf_drop")
    assert drop["pf_total"] < 0.75 < normal["pf_total"]
    assert drop["q_total"] > normal["q_total"]


def test_demand_peak_goes_above_the_contract() -> None:
    normal, peak = _with("demand_peak")
    contract = PlantModel().profile.contract_kw
    assert normal["p_total"] < contract < contract * 1.05 < peak["p_total"]


def test_phase_loss() -> None:
    normal, lost = _with("phase_loss")
    assert lost["v_l3n"] < 5 and lost["i_l3"] == 0 and lost["p_l3"] == 0
    assert lost["p_total"] == pytest.approx(normal["p_total"] * 2 / 3)


def test_silent_changes_no_value_and_events_end() -> None:
    normal, silent = _with("silent")
    assert silent == normal
    m = PlantModel(seed=9, events=(Event("silent", WED_10, 60),))
    assert m.active("silent", WED_10 + 59)
    assert not m.active("silent", WED_10 + 60)


def test_event_validation() -> None:
    with pytest.raises(ValueError, match="event 'fire' unknown"):
        Event("fire", 0, 1)


def test_history_generation_is_cheap_enough_for_a_day() -> None:
    m = PlantModel(seed=1)
    start = local(2026, 11, 24, 0)
    rows = [m.values(start + k * 60) for k in range(0, 24 * 60, 15)]
    assert len(rows) == 96
    assert rows[-1]["e_imp_kwh"] > rows[0]["e_imp_kwh"]
