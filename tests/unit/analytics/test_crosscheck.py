"""Counter cross-check math: which meter-hours are a reset, a jump, a factor or lost
data, with which figures; tolerances; episodes; messages; simulated meter faults."""

from __future__ import annotations

import math
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from analytics.detection import crosscheck as cc
from analytics.detection.texts import describe
from gateway.simulator.faults import Fault, mutate
from gateway.simulator.model import PlantModel

pytestmark = pytest.mark.unit

H = datetime(2026, 11, 23, 13, 0, tzinfo=UTC)  # 10:00 in Sao Paulo
E0 = 4_235_000.0


def hour(
    integrated: float = 250.0, counter: float | None = None, *, at: datetime = H, **kw: Any
) -> cc.HourFigures:
    """A fully covered 1 s hour whose counter matches its power unless told otherwise;
    its largest step is an ordinary 1 s pair."""
    c = integrated if counter is None else counter
    per_s = integrated / 3600
    base: dict[str, object] = {
        "meter_id": 1, "hour": at, "pairs": 3600, "interval_s": 1.0, "covered_s": 3600.0,
        "integrated_kwh": integrated, "counter_kwh": c, "step_ok": True,
        "step_from": at + timedelta(minutes=20), "step_to": at + timedelta(minutes=20, seconds=1),
        "step_kwh": per_s * 1.01, "step_trap_kwh": per_s, "step_before": E0, "step_after": E0 + per_s,
    }  # fmt: skip
    return cc.HourFigures(**{**base, **kw})


def kinds(h: cc.HourFigures, limits: cc.CrossCheckLimits | None = None) -> list[str]:
    return [f.kind for f in cc.classify(h, limits)]


def test_matching_hour_is_clean() -> None:
    assert kinds(hour(250.0)) == []
    assert kinds(hour(250.0, 250.0 * 1.04)) == []  # inside 5 %


@pytest.mark.parametrize(
    ("factor", "name"),
    [
        (2.0, "2"),
        (math.sqrt(3), "√3"),
        (1 / math.sqrt(3), "1/√3"),
        (0.5, "1/2"),
        (1000.0, "1000"),
        (0.001, "1/1000"),
        (1.3, None),
        (1.9, None),
    ],
)
def test_factor_between_counter_and_power(factor: float, name: str | None) -> None:
    (f,) = cc.classify(hour(250.0, 250.0 * factor))
    assert f.kind == "counter_mismatch"
    assert f.details["ratio"] == pytest.approx(factor, rel=1e-4)
    assert f.details["factor"] == name
    assert f.counter_kwh == pytest.approx(250 * factor)
    assert f.integrated_kwh == 250.0
    assert (f.start, f.end) == (H, H + timedelta(hours=1))


@pytest.mark.parametrize(
    ("h", "expected"),
    [
        (hour(250.0, 500.0), "critical"),
        (hour(250.0, 0.0), "critical"),  # stuck
        (hour(0.0, 40.0), "critical"),  # counter running, no power
        (hour(250.0, 290.0), "warning"),  # a 16 % drift
        (hour(250.0, 250.0 + 50_000.0, step_kwh=50_000.07, step_trap_kwh=0.07), "critical"),
        (
            hour(250.0, 250.0 + 812_345.6 - E0, step_kwh=812_345.6 - E0, step_after=812_345.6),
            "warning",
        ),
        (hour(250.0, 250.0 - E0, step_kwh=-E0, step_after=0.05), "warning"),  # reset
    ],
)
def test_severity(h: cc.HourFigures, expected: str) -> None:
    (f,) = cc.classify(h)
    assert cc.severity(f) == expected


def test_low_load_hour_uses_the_absolute_floor() -> None:
    # 0.3 vs 0.1 kWh is "x3" but below counter resolution: not a finding
    assert kinds(hour(0.1, 0.3)) == []
    # a 2 kWh sub-meter counting double is 2 kWh off: found
    assert kinds(hour(2.0, 4.0)) == ["counter_mismatch"]
    # a custom floor
    assert kinds(hour(2.0, 4.0), cc.CrossCheckLimits(floor_kwh=3.0)) == []


def test_coarse_counter_widens_the_tolerance() -> None:
    assert kinds(hour(5.0, 5.9)) == ["counter_mismatch"]  # 0.9 kWh off a fine counter
    # an F32 counter at millions of kWh moves in 0.5 kWh steps: one step at each end
    assert kinds(hour(5.0, 5.9, resolution_kwh=0.5)) == []
    assert kinds(hour(5.0, 10.0, resolution_kwh=0.5)) == ["counter_mismatch"]


def test_stuck_counter_and_counter_without_power() -> None:
    (stuck,) = cc.classify(hour(250.0, 0.0))
    assert stuck.details["ratio"] == 0.0
    (no_power,) = cc.classify(hour(0.0, 40.0))
    assert no_power.details["ratio"] is None and no_power.counter_kwh == 40.0


def test_low_coverage_is_not_a_divergence() -> None:
    h = hour(100.0, 200.0, covered_s=1200.0, gap_s=2400.0)
    assert "counter_mismatch" not in kinds(h)  # a third of an hour is too little to judge
    assert kinds(replace(h, covered_s=2000.0)) == ["counter_mismatch"]


def test_counter_reset_is_the_step_and_the_rest_is_compared() -> None:
    per_s = 250.0 / 3600
    h = hour(250.0, 250.0 - E0, step_kwh=-E0 + per_s, step_after=per_s, decreases=1)
    (f,) = cc.classify(h, tz="America/Sao_Paulo")
    assert f.kind == "counter_reset"
    d = f.details
    assert (d["counter_before"], d["counter_after"]) == (E0, pytest.approx(per_s))
    # apart from the step, the hour agrees: no factor reported on top
    assert d["counter_kwh"] == pytest.approx(250.0 - per_s, abs=1e-3)
    assert d["integrated_kwh"] == pytest.approx(250.0 - per_s, abs=1e-3)
    assert d["at"] == h.step_to.isoformat() and d["at_local"] == "2026-11-23T10:20"  # type: ignore[union-attr]
    assert (f.start, f.end) == (h.step_from, h.step_to)


def test_counter_falling_to_another_value_is_a_jump_not_a_reset() -> None:
    swap = 812_345.6
    h = hour(250.0, 250.0 + swap - E0, step_kwh=swap - E0, step_after=swap, decreases=1)
    assert kinds(h) == ["counter_jump"]
    # a rollover of a 10^6 kWh register lands near zero: a reset
    rollover = {"step_before": 999_990.0, "step_after": 5.0, "step_kwh": -999_985.0}
    h = replace(h, counter_kwh=250.0 - 999_985.0, **rollover)  # type: ignore[arg-type]
    assert kinds(h) == ["counter_reset"]


def test_jump_up_without_power_is_a_jump_not_a_factor() -> None:
    h = hour(250.0, 250.0 + 50_000.0, step_kwh=50_000.07, step_trap_kwh=0.07)
    (f,) = cc.classify(h)
    assert f.kind == "counter_jump" and f.details["step_kwh"] == 50_000.07
    assert f.counter_kwh == 250.0 + 50_000.0 and f.integrated_kwh == 250.0


def test_jump_with_a_wrong_factor_gives_both() -> None:
    h = hour(250.0, 500.0 + 50_000.0, step_kwh=50_000.14, step_trap_kwh=0.07)
    assert kinds(h) == ["counter_jump", "counter_mismatch"]


def test_ordinary_steps_of_a_factor_are_not_jumps() -> None:
    # 60 s polling, counter x2: every pair is 4 kWh over its trapezoid, none stands out
    h = hour(250.0, 500.0, interval_s=60.0, step_kwh=8.4, step_trap_kwh=4.2)
    assert kinds(h) == ["counter_mismatch"]


def gap_hour(gap_counter: float, estimate: float = 52.0, **kw: Any) -> cc.HourFigures:
    return hour(
        200.0, covered_s=2880.0, gap_s=720.0, gap_counter_kwh=gap_counter,
        gap_estimate_kwh=estimate, gap_from=H + timedelta(minutes=19),
        gap_to=H + timedelta(minutes=31), **kw,
    )  # fmt: skip


def test_outage_with_counter_advance_is_lost_data_with_both_figures() -> None:
    (f,) = cc.classify(gap_hour(55.0))
    assert f.kind == "counter_lost_data"
    assert (f.counter_kwh, f.integrated_kwh) == (55.0, 0.0)
    d = f.details
    assert d["gap_minutes"] == 12.0 and d["gap_estimate_kwh"] == 52.0
    assert (f.start, f.end) == (H + timedelta(minutes=19), H + timedelta(minutes=31))
    assert d["coverage"] == 0.8
    # shorter than 5 minutes, or no energy: nothing to say
    assert kinds(replace(gap_hour(55.0), gap_s=240.0)) == []
    assert kinds(gap_hour(0.2, estimate=0.2)) == []


def test_meter_swapped_during_an_outage_is_a_jump_not_lost_data() -> None:
    swap = 812_345.6
    h = gap_hour(
        swap - E0 + 50.0, step_ok=False, step_kwh=swap - E0 + 50.0, step_trap_kwh=52.0,
        step_after=swap + 50.0, decreases=1,
    )  # fmt: skip
    (f,) = cc.classify(h)
    assert f.kind == "counter_jump" and f.details["during_gap"] is True
    assert f.counter_kwh == pytest.approx(200.0 + swap - E0 + 50.0)  # as the counter shows it


def test_outage_when_the_load_changed_is_not_a_jump() -> None:
    # over a gap the trapezoid is an estimate: the counter may be well above it
    h = gap_hour(90.0, step_ok=False, step_kwh=90.0, step_trap_kwh=52.0)
    assert kinds(h) == ["counter_lost_data"]
    assert kinds(replace(h, step_kwh=200.0, gap_counter_kwh=200.0)) == ["counter_jump"]


def test_limits_reject_nonsense() -> None:
    with pytest.raises(ValueError, match="rel_tol"):
        cc.CrossCheckLimits(rel_tol=1.5)
    with pytest.raises(ValueError, match="gap_factor"):
        cc.CrossCheckLimits(gap_factor=1.0)
    with pytest.raises(ValueError, match="min_coverage"):
        cc.CrossCheckLimits(min_coverage=0.0)
    assert cc.CrossCheckLimits().tolerance(300.0) == pytest.approx(15.0)
    assert cc.CrossCheckLimits().tolerance(2.0) == 0.5


def test_consecutive_factor_hours_are_one_episode_worst_hour_kept() -> None:
    hours = [
        hour(250.0, 300.0, at=H),
        hour(260.0, 520.0, at=H + timedelta(hours=1)),
        hour(240.0, 480.0, at=H + timedelta(hours=2)),
        hour(250.0, at=H + timedelta(hours=3)),  # clean again
        hour(250.0, 500.0, at=H + timedelta(hours=4)),
    ]
    first, second = sorted(cc.episodes("plant", hours), key=lambda e: e.start)
    assert (first.start, first.end, first.ongoing) == (H, H + timedelta(hours=3), False)
    assert first.details["hours"] == 3
    assert (first.measured, first.limit) == (520.0, 260.0)  # the worst hour's figures
    assert first.badness == 260.0 and first.kind == "counter_mismatch"
    assert first.detector == "rule" and first.quantity == "e_imp_kwh"
    assert first.severity == "critical"
    # the last evaluated hour still diverges: the event goes on
    assert second.start == H + timedelta(hours=4) and second.ongoing


def test_episodes_per_meter_and_one_per_step() -> None:
    per_s = 250.0 / 3600
    hours = [
        hour(250.0, 500.0),
        replace(hour(250.0, 250.0 - E0, step_kwh=-E0, step_after=per_s), meter_id=2),
        replace(hour(250.0), meter_id=2, hour=H + timedelta(hours=1)),
    ]
    eps = {(e.meter_id, e.kind): e for e in cc.episodes("plant", hours, tz="America/Sao_Paulo")}
    assert set(eps) == {(1, "counter_mismatch"), (2, "counter_reset")}
    assert eps[(1, "counter_mismatch")].ongoing  # meter 1's last hour
    reset = eps[(2, "counter_reset")]
    assert not reset.ongoing and reset.severity == "warning"
    assert reset.details["hour_local"] == "2026-11-23T10:00"


def test_messages_carry_both_figures_in_both_languages() -> None:
    (f,) = cc.episodes("plant", [hour(1250.5, 2501.0)], tz="America/Sao_Paulo")
    pt, en = describe(f.kind, "m1", f.measured, f.limit, f.details)
    assert "2.501,0 kWh" in pt and "1.250,5 kWh" in pt and "fator de 2,00" in pt
    assert "10h00" in pt and "TC/TP" in pt
    assert "2,501.0 kWh" in en and "1,250.5 kWh" in en and "factor of 2.00" in en
    assert en.startswith("meter m1:") and "10:00" in en

    (lost,) = cc.episodes("plant", [gap_hour(55.0)], tz="America/Sao_Paulo")
    pt, en = describe(lost.kind, "m1", lost.measured, lost.limit, lost.details)
    assert "12 min" in pt and "55,0 kWh" in pt and "0 kWh" in pt and "10h19-10h31" in pt
    assert "55.0 kWh" in en and "52.0 kWh estimated" in en

    (stuck,) = cc.episodes("plant", [hour(250.0, 0.0)])
    assert "stuck" in describe(stuck.kind, "m1", stuck.measured, stuck.limit, stuck.details)[1]

    per_s = 250.0 / 3600
    (reset,) = cc.episodes(
        "plant", [hour(250.0, 250.0 - E0, step_kwh=-E0, step_after=per_s)], tz="America/Sao_Paulo"
    )
    pt, en = describe(reset.kind, "m1", reset.measured, reset.limit, reset.details)
    assert "4.235.000,0" in pt and "zerado às 10h20" in pt and "250,0 kWh" in pt
    assert "reset at 10:20" in en and "rollover" in en


# --- simulated meter faults -----------------------------------------------------------

T0 = datetime(2026, 11, 23, 12, 20, tzinfo=UTC).timestamp()


def _read(faults: tuple[Fault, ...], t: float, seed: int = 3) -> dict[str, float]:
    model = PlantModel(seed=seed)
    values = model.values(t)
    mutate(model, faults)(t, values)
    return values


def test_faults_rewrite_only_what_a_faulty_meter_reports() -> None:
    model = PlantModel(seed=3)
    t1 = T0 + 1800
    clean = model.values(t1)
    assert _read((), t1) == clean
    # before the fault nothing changes
    assert _read((Fault("counter_reset", T0),), T0 - 1) == model.values(T0 - 1)

    reset = _read((Fault("counter_reset", T0),), t1)
    assert reset["e_imp_kwh"] == pytest.approx(model.energy_kwh(t1) - model.energy_kwh(T0))
    swap = _read((Fault("counter_swap", T0, value=1000.0),), t1)
    assert swap["e_imp_kwh"] == pytest.approx(1000.0 + model.energy_kwh(t1) - model.energy_kwh(T0))
    assert swap["p_total"] == clean["p_total"]

    scaled = _read((Fault("counter_scale", T0, T0 + 600, factor=2.0),), t1)
    extra = model.energy_kwh(T0 + 600) - model.energy_kwh(T0)
    assert scaled["e_imp_kwh"] == pytest.approx(clean["e_imp_kwh"] + extra)

    power = _read((Fault("power_scale", T0, T0 + 3600, factor=math.sqrt(3)),), t1)
    assert power["p_total"] == pytest.approx(clean["p_total"] * math.sqrt(3))
    assert power["p_l2"] == pytest.approx(clean["p_l2"] * math.sqrt(3))
    assert power["e_imp_kwh"] == clean["e_imp_kwh"] and power["i_l1"] == clean["i_l1"]
    assert _read((Fault("power_scale", T0, T0 + 60, factor=2.0),), t1) == clean  # over


def test_fault_rejects_unknown_kind_and_bad_span() -> None:
    with pytest.raises(ValueError, match="fault 'ct' unknown"):
        Fault("ct", T0)
    with pytest.raises(ValueError, match="end must be after start"):
        Fault("counter_scale", T0, T0, factor=2.0)
    with pytest.raises(ValueError, match="factor must be > 0"):
        Fault("power_scale", T0, factor=0.0)


def test_counter_read_x1000_then_fixed_is_one_scale_event_not_a_reset() -> None:
    per_s = 250.0 / 3600
    up = hour(
        250.0, 125.0 + 125_000.0 + E0 * 999, step_kwh=E0 * 999, step_trap_kwh=per_s,
        step_after=E0 * 1000, at=H,
    )  # fmt: skip
    during = hour(250.0, 250_000.0, at=H + timedelta(hours=1), step_before=E0 * 1000)
    fix = hour(
        250.0, 125.0 + 125_000.0 - (E0 + 500) * 999, step_kwh=-(E0 + 500) * 999,
        step_before=(E0 + 500) * 1000, step_after=E0 + 500, at=H + timedelta(hours=2),
    )  # fmt: skip
    assert "counter_scale" in kinds(up) and "counter_scale" in kinds(fix)
    assert "counter_reset" not in kinds(fix)
    eps = list(cc.episodes("plant", [up, during, fix]))
    assert [e.kind for e in eps] == ["counter_scale"]
    (ep,) = eps
    assert ep.severity == "critical" and not ep.ongoing
    assert ep.start == up.step_from and ep.end == fix.step_to
    assert ep.details["factor"] == "1000"
    pt, en = describe("counter_scale", "m1", ep.measured, ep.limit, ep.details)
    assert "escala" in pt and "scale" in en and "1000" in en


def test_scale_error_not_fixed_yet_is_ongoing() -> None:
    up = hour(250.0, E0 * 999 + 250.0, step_kwh=E0 * 999, step_after=E0 * 1000)
    later = hour(250.0, 250_000.0, at=H + timedelta(hours=1))
    (ep,) = cc.episodes("plant", [up, later])
    assert ep.kind == "counter_scale" and ep.ongoing and ep.end == H + timedelta(hours=2)


def test_counter_episodes_a_stuck_meter_explains_are_dropped() -> None:
    from analytics.detection.events import Episode

    stuck = Episode("plant", 1, "meter_stuck", "rule", "warning", H, H + timedelta(minutes=30),
                    False, "samples", 1800.0, 20.0)  # fmt: skip
    half = hour(250.0, 125.0)
    catch_up = hour(
        250.0, 250.0 + 125.0, step_kwh=125.07, step_trap_kwh=0.07,
        step_from=H + timedelta(minutes=30), step_to=H + timedelta(minutes=30, seconds=1),
    )  # fmt: skip
    jumped = list(cc.episodes("plant", [catch_up]))
    assert [e.kind for e in jumped] == ["counter_jump"]
    assert cc.explained(jumped, [stuck]) == []
    found = list(cc.episodes("plant", [half]))
    assert [e.kind for e in found] == ["counter_mismatch"]
    assert cc.explained(found, [stuck]) == []
    other = list(cc.episodes("plant", [replace(half, meter_id=2)]))
    assert cc.explained(other, [stuck]) == other
