"""Each rule fires on its injected simulator scenario and stays quiet on clean data."""

from __future__ import annotations

import cmath
import math
from datetime import timedelta

import numpy as np
import pytest

from analytics.detection import rules
from analytics.detection.events import Episode
from gateway.simulator.model import Event
from tests.unit.analytics.simframes import Mutate, rule_input, ts

pytestmark = pytest.mark.unit

START = ts("2026-11-23 06:00")  # a Monday, production shift
END = ts("2026-11-23 11:00")
AT = ts("2026-11-23 08:00")


def _run(
    events: tuple[Event, ...] = (), mutate: Mutate | None = None, seed: int = 1
) -> list[Episode]:
    return rules.evaluate(rule_input({1: (seed, events, mutate)}, START, END, step=30.0))


def _event(kind: str, minutes: float = 40) -> tuple[Event, ...]:
    return (Event(kind, AT.timestamp(), minutes * 60),)


def _kinds(eps: list[Episode]) -> set[str]:
    return {e.kind for e in eps}


@pytest.mark.parametrize("seed", [0, 1, 4])
def test_clean_weekday_morning_is_quiet(seed: int) -> None:
    assert _run(seed=seed) == []


def test_voltage_sag_is_critical_with_prodist_limits() -> None:
    (ep,) = [e for e in _run(_event("sag")) if e.kind == "voltage_band"]
    assert ep.severity == "critical"
    assert ep.measured is not None and ep.measured < 110  # below the precarious band
    assert ep.limit == 117.0
    assert ep.start == AT and ep.end == AT + timedelta(minutes=40)
    assert not ep.ongoing
    assert ep.details["band"] == "critical"


def test_voltage_swell_is_critical() -> None:
    (ep,) = [e for e in _run(_event("swell")) if e.kind == "voltage_band"]
    assert ep.severity == "critical" and ep.measured is not None and ep.measured > 135
    assert ep.limit == 133.0


def test_precarious_voltage_is_a_warning() -> None:
    def low(t: float, v: dict[str, float]) -> None:
        if AT.timestamp() <= t < AT.timestamp() + 1800:
            v["v_l2n"] = 114.0  # precarious: 110-117 V

    (ep,) = [e for e in _run(mutate=low) if e.kind == "voltage_band"]
    assert ep.severity == "warning" and ep.details["band"] == "precarious"
    assert ep.quantity == "v_l2n" and ep.measured == pytest.approx(114.0)


def test_220_v_nominal_uses_its_own_band() -> None:
    assert rules.voltage_bands(220.0) == (202.0, 231.0, 191.0, 233.0)
    lo, hi, _, _ = rules.voltage_bands(230.0)
    assert hi == pytest.approx(231 / 220 * 230)
    assert lo == pytest.approx(202 / 220 * 230)


def test_frequency_outside_band() -> None:
    def drift(t: float, v: dict[str, float]) -> None:
        if AT.timestamp() <= t < AT.timestamp() + 1200:
            v["freq"] = 59.75

    (ep,) = [e for e in _run(mutate=drift) if e.kind == "frequency"]
    assert ep.severity == "warning" and ep.limit == 59.9
    assert ep.measured == pytest.approx(59.75)
    assert ep.end - ep.start == timedelta(minutes=20)


def test_voltage_unbalance_over_3_percent() -> None:
    def unbalance(t: float, v: dict[str, float]) -> None:
        if AT.timestamp() <= t < AT.timestamp() + 1800:
            v["v_l1n"] *= 0.88
            a, b, c = v["v_l1n"], v["v_l2n"], v["v_l3n"]
            v["v_l12"] = math.sqrt(a * a + b * b + a * b)
            v["v_l31"] = math.sqrt(c * c + a * a + c * a)

    eps = [e for e in _run(mutate=unbalance) if e.kind == "voltage_unbalance"]
    assert len(eps) == 1 and eps[0].measured is not None and eps[0].measured > 3.0
    assert eps[0].limit == 3.0


def _fd_from_phasors(a_: float, b_: float, c_: float) -> float:
    """Negative / positive sequence of a closed triangle of line voltages."""
    theta = math.acos((a_ * a_ + b_ * b_ - c_ * c_) / (2 * a_ * b_))
    vab = complex(a_, 0)
    vbc = cmath.rect(b_, -(math.pi - theta))
    vca = -(vab + vbc)
    a = cmath.rect(1, 2 * math.pi / 3)
    v1 = (vab + a * vbc + a * a * vca) / 3
    v2 = (vab + a * a * vbc + a * vca) / 3
    return 100 * min(abs(v1), abs(v2)) / max(abs(v1), abs(v2))


@pytest.mark.parametrize(
    "lines", [(220.0, 215.0, 210.0), (380.0, 370.0, 395.0), (220.0, 128.0, 128.0)]
)
def test_unbalance_formula_matches_symmetrical_components(
    lines: tuple[float, float, float],
) -> None:
    fd = rules.unbalance_fd(*(np.array([v]) for v in lines))
    assert fd[0] == pytest.approx(_fd_from_phasors(*lines), rel=1e-6)
    balanced = rules.unbalance_fd(np.array([220.0]), np.array([220.0]), np.array([220.0]))
    assert balanced[0] == pytest.approx(0.0, abs=1e-6)


def test_current_unbalance() -> None:
    def heavy_l1(t: float, v: dict[str, float]) -> None:
        if AT.timestamp() <= t < AT.timestamp() + 1800:
            v["i_l1"] *= 1.3

    (ep,) = [e for e in _run(mutate=heavy_l1) if e.kind == "current_unbalance"]
    assert ep.severity == "warning" and ep.measured is not None and 10 < ep.measured < 20


def test_phase_loss_masks_the_voltage_rules_it_explains() -> None:
    eps = _run(_event("phase_loss", 20))
    assert _kinds(eps) == {"phase_loss"}
    (ep,) = eps
    assert ep.severity == "critical" and ep.details["phases"] == ["L3"]
    assert ep.measured is not None and ep.measured < 5


def test_pf_drop_hour_is_flagged_inductive() -> None:
    eps = [e for e in _run(_event("pf_drop", 60)) if e.kind == "power_factor"]
    assert len(eps) == 1
    assert eps[0].start == AT and eps[0].end == AT + timedelta(hours=1)
    assert eps[0].details["nature"] == "inductive" and eps[0].limit == 0.92


def test_pf_inductive_at_night_is_not_counted() -> None:
    night = rule_input({1: (1, (), None)}, ts("2026-11-23 00:00"), ts("2026-11-23 06:00"))
    assert [e for e in rules.evaluate(night) if e.kind == "power_factor"] == []
    evening = rule_input({1: (1, (), None)}, ts("2026-11-23 22:00"), ts("2026-11-24 00:00"))
    assert [e.kind for e in rules.evaluate(evening)] == ["power_factor"]  # light load, PF 0.81


def test_capacitive_pf_at_night_is_flagged() -> None:
    def capacitive(t: float, v: dict[str, float]) -> None:
        v["q_total"] = -abs(v["q_total"])

    night = rule_input({1: (1, (), capacitive)}, ts("2026-11-23 00:00"), ts("2026-11-23 06:00"))
    (ep,) = [e for e in rules.evaluate(night) if e.kind == "power_factor"]
    assert ep.details["nature"] == "capacitive" and ep.details["hours"] == 6


def test_demand_peak_exceeds_contract_plus_tolerance() -> None:
    (ep,) = [e for e in _run(_event("demand_peak", 45)) if e.kind == "demand_exceeded"]
    assert ep.meter_id is None and ep.severity == "critical"
    assert ep.limit == 315.0 and ep.measured is not None and ep.measured > 315
    assert ep.start == AT


def test_silent_meter_gap() -> None:
    (ep,) = [e for e in _run(_event("silent", 12)) if e.kind == "meter_silent"]
    assert ep.start == AT and ep.end == AT + timedelta(minutes=12) and not ep.ongoing
    assert _kinds(_run(_event("silent", 3))) == set()  # shorter than 5 minutes


def test_silent_tail_is_ongoing() -> None:
    inp = rule_input({1: (1, (Event("silent", AT.timestamp(), 86400),), None)}, START, END)
    (ep,) = [e for e in rules.evaluate(inp) if e.kind == "meter_silent"]
    assert ep.ongoing and ep.start == AT


def test_ongoing_when_last_bucket_violates() -> None:
    inp = rule_input(
        {1: (1, (Event("sag", ts("2026-11-23 10:00").timestamp(), 7200),), None)}, START, END
    )
    (ep,) = [e for e in rules.evaluate(inp) if e.kind == "voltage_band"]
    assert ep.ongoing
