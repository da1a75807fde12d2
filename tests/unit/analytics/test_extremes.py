"""Rules on extremes: frequency, phase loss and PRODIST short-duration voltage variations,
from 1-second readings aggregated as the product does (1-minute avg/min/max, raw seconds
of the short windows)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd
import pytest

from analytics.detection import extremes, rules
from analytics.detection.events import Episode
from tests.unit.analytics.simframes import GAUGES, minute_frame

pytestmark = pytest.mark.unit

T0 = datetime(2026, 11, 23, 11, 0, tzinfo=UTC)  # 08:00 in Sao Paulo, a Monday
AT = T0 + timedelta(minutes=10, seconds=17)
Edit = Callable[[float, dict[str, float]], None]


def _values(rng: np.random.Generator) -> dict[str, float]:
    v = 127.0 * (1 + 0.002 * rng.standard_normal(3))
    return {
        "v_l1n": v[0], "v_l2n": v[1], "v_l3n": v[2], "v_l12": 220.0, "v_l23": 220.0,
        "v_l31": 220.0, "i_l1": 100.0, "i_l2": 100.0, "i_l3": 100.0,
        "freq": 60.0 + 0.005 * rng.standard_normal(), "p_total": 60.0, "q_total": 20.0,
        "pf_total": 0.95,
    }  # fmt: skip


def run(edit: Edit | None = None, minutes: int = 30, *, raw: bool = True) -> list[Episode]:
    """Rules over ``minutes`` of 1 s readings of one meter; ``edit(seconds since AT, v)``."""
    rng = np.random.default_rng(3)
    rows = []
    for k in range(minutes * 60):
        t = T0 + timedelta(seconds=k)
        v = _values(rng)
        if edit is not None:
            edit((t - AT).total_seconds(), v)
        rows.append((t, v))
    minute = minute_frame(1, rows)
    inp = rules.RuleInput(
        site=rules.SiteInfo("plant"), meters={1: rules.MeterInfo(1, "m1")}, start=T0,
        end=T0 + timedelta(minutes=minutes), minute=minute, hourly=pd.DataFrame(),
        demand=pd.DataFrame(),
    )  # fmt: skip
    if raw:
        wanted = extremes.raw_windows(inp)
        frame = pd.DataFrame(
            [{"meter_id": 1, "time": t, **{q: v[q] for q in GAUGES}} for t, v in rows]
        )
        keep = np.zeros(len(frame), dtype=bool)
        for _, a, b in wanted:
            keep |= ((frame["time"] >= a) & (frame["time"] < b)).to_numpy()
        inp.raw = frame[keep]
    return rules.evaluate(inp)


def during(seconds: float, apply: Edit) -> Edit:
    def edit(s: float, v: dict[str, float]) -> None:
        if 0 <= s < seconds:
            apply(s, v)

    return edit


def test_clean_readings_are_quiet() -> None:
    assert run() == []


@pytest.mark.parametrize(
    ("hz", "seconds", "severity"),
    [(59.4, 30, "critical"), (60.6, 10, "critical"), (59.8, 20, "warning"), (60.2, 5, "warning")],
)
def test_frequency_judged_on_its_extreme(hz: float, seconds: float, severity: str) -> None:
    (ep,) = run(during(seconds, lambda _s, v: v.update(freq=hz)))
    assert ep.kind == "frequency" and ep.severity == severity
    assert ep.measured == pytest.approx(hz)
    assert ep.start == AT.replace(second=0)


def test_phase_loss_of_20_s_is_a_phase_loss_not_unbalance() -> None:
    eps = run(during(20, lambda _s, v: v.update(v_l3n=1.5)))
    assert [(e.kind, e.severity) for e in eps] == [("phase_loss", "critical")]
    assert eps[0].measured == pytest.approx(1.5) and eps[0].details["phases"] == ["L3"]
    assert eps[0].start == AT and eps[0].end == AT + timedelta(seconds=20)


@pytest.mark.parametrize(
    ("seconds", "cls"), [(3, "momentary"), (10, "temporary"), (60, "temporary")]
)
def test_sag_to_80_percent_on_one_phase(seconds: int, cls: str) -> None:
    (ep,) = run(during(seconds, lambda _s, v: v.update(v_l2n=0.8 * 127)))
    assert (ep.kind, ep.severity) == ("voltage_sag", "warning")
    assert ep.details["duration_class"] == cls and ep.details["phase"] == "L2"
    assert ep.details["duration_s"] == pytest.approx(seconds)
    assert ep.measured == pytest.approx(101.6, abs=0.1) and ep.start == AT


def test_swell_and_interruption() -> None:
    (swell,) = run(during(8, lambda _s, v: v.update(v_l1n=1.15 * 127)))
    assert (swell.kind, swell.severity) == ("voltage_swell", "warning")
    assert swell.limit == pytest.approx(1.1 * 127)

    def all_out(_s: float, v: dict[str, float]) -> None:
        v.update(v_l1n=2.0, v_l2n=1.0, v_l3n=3.0)

    (cut,) = run(during(40, all_out))
    assert (cut.kind, cut.severity) == ("voltage_interruption", "critical")
    assert cut.details["duration_s"] == 40 and cut.measured == pytest.approx(1.0)


def test_motor_start_dips_are_not_events() -> None:
    def dips(s: float, v: dict[str, float]) -> None:
        if s % 300 < 4:  # a motor start every 5 minutes: 93 % for 4 s on every phase
            for p in ("v_l1n", "v_l2n", "v_l3n"):
                v[p] *= 0.93

    assert run(dips) == []


def test_long_sag_is_left_to_the_band_rule() -> None:
    eps = run(during(12 * 60, lambda _s, v: v.update(v_l1n=0.85 * 127)), minutes=40)
    assert {e.kind for e in eps} <= {"voltage_band", "voltage_unbalance"}
    assert "voltage_sag" not in {e.kind for e in eps}


def test_without_raw_readings_the_minutes_extremes_stand_in() -> None:
    (ep,) = run(during(10, lambda _s, v: v.update(v_l2n=0.8 * 127)), raw=False)
    assert ep.kind == "voltage_sag" and ep.details["duration_class"] == "temporary"
    (loss,) = run(during(20, lambda _s, v: v.update(v_l3n=1.5)), raw=False)
    assert loss.kind == "phase_loss"


def test_a_glitch_reading_is_not_a_frequency() -> None:
    assert run(during(1, lambda _s, v: v.update(freq=0.0))) == []
