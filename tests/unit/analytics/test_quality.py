"""Data-quality rules: a stuck meter, and a counter demand physics rules out."""

from __future__ import annotations

from datetime import timedelta

import pandas as pd
import pytest

from analytics.detection import quality, rules
from tests.unit.analytics.test_extremes import AT, T0, Edit, during, run

pytestmark = pytest.mark.unit


def frozen_from(seconds: float) -> Edit:
    """The meter repeats the reading it gave at AT for ``seconds``."""
    held: dict[str, float] = {}

    def apply(s: float, v: dict[str, float]) -> None:
        if s == 0:
            held.update(v)
        v.update(held)

    return during(seconds, apply)


def test_identical_readings_under_load_are_a_stuck_meter() -> None:
    (ep,) = run(frozen_from(600), minutes=30)
    assert (ep.kind, ep.severity) == ("meter_stuck", "warning")
    assert ep.start == AT.replace(second=0) + timedelta(minutes=1)  # first whole frozen minute
    assert ep.end == AT.replace(second=0) + timedelta(minutes=10)
    assert ep.details["polls"] >= 480


def test_a_short_repeat_or_an_idle_meter_is_not_stuck() -> None:
    assert run(frozen_from(70)) == []  # one frozen minute: under stuck_minutes

    def idle(_s: float, v: dict[str, float]) -> None:
        v.update(i_l1=0.0, i_l2=0.0, i_l3=0.0, p_total=0.0, q_total=0.0)

    assert run(during(900, idle)) == []


def demand(kw: list[float], p: list[float]) -> rules.RuleInput:
    buckets = [T0 + timedelta(minutes=15 * k) for k in range(len(kw))]
    d = pd.DataFrame(
        {"bucket": pd.to_datetime(buckets, utc=True), "demand_kw": kw, "limit_kw": 315.0,
         "p_total_avg": p}
    )  # fmt: skip
    return rules.RuleInput(
        site=rules.SiteInfo("plant"), meters={}, start=T0, end=T0 + timedelta(hours=2),
        minute=pd.DataFrame(), hourly=pd.DataFrame(), demand=d,
    )  # fmt: skip


def test_counter_demand_physics_rules_out_is_not_an_ultrapassagem() -> None:
    inp = demand([250.0, 239_006_776.0, 251_000.0, 250.0], [249.0, 251.0, 250.0, 249.0])
    eps = rules.evaluate(inp)
    assert [e.kind for e in eps] == ["demand_implausible"]
    (ep,) = eps
    assert ep.meter_id is None and ep.severity == "warning"
    assert ep.measured == 239_006_776.0 and ep.limit == 251.0
    assert ep.end - ep.start == timedelta(minutes=30)


def test_a_real_excess_during_a_counter_error_is_still_seen_on_the_power() -> None:
    inp = demand([250.0, 400_000.0, 250.0], [250.0, 360.0, 250.0])
    kinds = sorted(e.kind for e in rules.evaluate(inp))
    assert kinds == ["demand_exceeded", "demand_implausible"]
    (ex,) = [e for e in rules.evaluate(inp) if e.kind == "demand_exceeded"]
    assert ex.measured == 360.0


def test_plausible_counter_demand_is_kept() -> None:
    d = demand([330.0, 250.0], [320.0, 240.0]).demand
    assert not quality.implausible_demand(d, rules.Limits()).any()
    (ex,) = rules.evaluate(demand([330.0, 250.0], [320.0, 240.0]))
    assert ex.kind == "demand_exceeded" and ex.measured == 330.0
