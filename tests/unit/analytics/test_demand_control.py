"""The demand projection: energy so far + current kW x time left, per 15-minute interval."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from analytics.demand import control as dc
from analytics.demand.job import params_from_env
from analytics.errors import ConfigError
from analytics.i18n import kind_name

pytestmark = pytest.mark.unit

W0 = datetime(2026, 11, 23, 13, 15, tzinfo=UTC)  # 10:15 in Sao Paulo
LIMIT = dc.Limit("fora_ponta", 300.0, 0.05)  # limit 315 kW


def at(minutes: float) -> datetime:
    return W0 + timedelta(minutes=minutes)


def flat(kw: float, until_min: float, *, step_s: float = 5.0, name: str = "m1") -> dc.MeterWindow:
    """A meter without counter drawing ``kw`` from the interval start to ``until_min``."""
    n = int(until_min * 60 / step_s)
    times = [W0 + timedelta(seconds=i * step_s) for i in range(n + 1)]
    return dc.MeterWindow(1, name, times, [kw] * len(times))


def test_window_is_the_quarter_hour_holding_the_instant() -> None:
    assert dc.window_of(at(7.5)) == (W0, W0 + dc.WINDOW)
    assert dc.window_of(W0) == (W0, W0 + dc.WINDOW)
    assert dc.window_of(W0 - timedelta(microseconds=1))[1] == W0


def test_constant_load_projects_itself_and_the_shed_is_zero() -> None:
    p = dc.project("plant", [flat(280.0, 6)], at(6), LIMIT)
    assert p.status == "ok"
    assert p.energy_kwh == pytest.approx(280.0 * 6 / 60)
    assert p.current_kw == pytest.approx(280.0)
    assert p.projected_kw == pytest.approx(280.0)
    assert p.limit_kw == pytest.approx(315.0)
    assert not p.alert and p.shed_kw == 0.0
    # the extra load that still fits for the 9 minutes left: 35 kW x 15 / 9
    assert p.headroom_kw == pytest.approx(35.0 * 15 / 9)


def test_step_up_projects_energy_so_far_plus_current_load_until_the_end() -> None:
    # 5 min at 250 kW, then 400 kW from minute 5 to minute 6
    n1 = 60
    times = [W0 + timedelta(seconds=5 * i) for i in range(73)]
    kw = [250.0 if i <= n1 else 400.0 for i in range(73)]
    p = dc.project("plant", [dc.MeterWindow(1, "m1", times, kw)], at(6), LIMIT)
    energy = 250 * 5 / 60 + (250 + 400) / 2 * 5 / 3600 + 400 * 55 / 3600
    assert p.energy_kwh == pytest.approx(energy)
    assert p.current_kw == pytest.approx(400.0)  # the last 60 s
    projected = (energy + 400 * 9 / 60) * 4
    assert p.projected_kw == pytest.approx(projected)
    assert p.alert
    # shedding that much for the 9 minutes left lands exactly on the limit
    assert p.shed_kw == pytest.approx((projected - 315.0) * 15 / 9)
    assert (energy + (400 - p.shed_kw) * 9 / 60) * 4 == pytest.approx(315.0)
    assert p.headroom_kw == 0.0 and p.feasible is True


def test_counter_energy_wins_over_the_power_integral_and_its_early_base_comes_off() -> None:
    times = [W0 + timedelta(seconds=5 * i) for i in range(121)]  # 0..10 min
    m = dc.MeterWindow(
        1, "m1", times, [300.0] * len(times),
        counter_kwh=51.0,  # 10 min + 5 s at 300 kW would be 50.4: the counter is the truth
        counter_from=W0 - timedelta(seconds=5), counter_to=times[-1],
    )  # fmt: skip
    p = dc.project("plant", [m], at(10), LIMIT)
    assert p.meters[0].source == "counter"
    assert p.energy_kwh == pytest.approx(51.0 - 300 * 5 / 3600)
    assert p.projected_kw == pytest.approx((51.0 - 300 * 5 / 3600 + 300 * 5 / 60) * 4)


def test_meters_add_up_and_a_late_start_is_filled_with_the_first_reading() -> None:
    late = dc.MeterWindow(
        2, "m2", [at(2), at(4)], [100.0, 100.0], counter_kwh=100 * 2 / 60,
        counter_from=at(2), counter_to=at(4),
    )  # fmt: skip
    p = dc.project("plant", [flat(200.0, 4), late], at(4), LIMIT)
    assert p.energy_kwh == pytest.approx(200 * 4 / 60 + 100 * 4 / 60)
    assert p.current_kw == pytest.approx(300.0)
    assert p.projected_kw == pytest.approx(300.0)
    assert {e.name: e.source for e in p.meters} == {"m1": "power", "m2": "counter"}


def test_a_gap_is_interpolated_and_the_tail_runs_from_the_last_reading() -> None:
    times = [at(0), at(1), at(5), at(6)]  # four minutes without readings
    m = dc.MeterWindow(1, "m1", times, [200.0, 200.0, 300.0, 300.0])
    p = dc.project("plant", [m], at(6.5), LIMIT)
    energy = 200 / 60 + 250 * 4 / 60 + 300 / 60
    assert p.energy_kwh == pytest.approx(energy)
    assert p.last_reading == at(6)
    assert p.projected_kw == pytest.approx((energy + 300 * 9 / 60) * 4)


def test_no_data_gives_no_projection_and_no_alert() -> None:
    p = dc.project("plant", [dc.MeterWindow(1, "m1")], at(5), LIMIT)
    assert p.status == "no_data" and p.projected_kw is None and not p.alert
    assert dc.project("plant", [], at(5), LIMIT).status == "no_data"


def test_no_alert_in_the_first_minutes_even_far_above_the_limit() -> None:
    params = dc.DemandParams(min_elapsed=timedelta(minutes=3))
    early = dc.project("plant", [flat(500.0, 2.5)], at(2.5), LIMIT, params)
    assert early.status == "warming_up" and early.exceeds and not early.alert
    later = dc.project("plant", [flat(500.0, 3)], at(3), LIMIT, params)
    assert later.status == "ok" and later.alert
    at_once = dc.DemandParams(min_elapsed=timedelta(0))
    assert dc.project("plant", [flat(500.0, 0.5)], at(0.5), LIMIT, at_once).alert


def test_stale_data_and_missing_contract_do_not_alert() -> None:
    stale = dc.project("plant", [flat(500.0, 4)], at(7), LIMIT)
    assert stale.status == "stale" and not stale.alert
    no_contract = dc.project("plant", [flat(500.0, 6)], at(6), dc.Limit("fora_ponta", None, 0.05))
    assert no_contract.status == "no_limit" and no_contract.limit_kw is None
    assert not no_contract.alert and no_contract.shed_kw is None


def test_excess_already_used_cannot_be_shed() -> None:
    p = dc.project("plant", [flat(600.0, 13)], at(13), LIMIT)
    assert p.alert and p.shed_kw is not None and p.shed_kw > p.current_kw  # type: ignore[operator]
    assert p.feasible is False
    pt, en = dc.messages(p, "America/Sao_Paulo")
    assert "já não pode ser evitada" in pt and "can no longer be avoided" in en


def test_at_the_interval_end_the_projection_is_the_final_demand() -> None:
    p = dc.project("plant", [flat(320.0, 14 + 55 / 60)], W0 + dc.WINDOW, LIMIT, window_start=W0)
    assert p.window_start == W0 and p.remaining == timedelta(0)
    assert p.projected_kw == pytest.approx(320.0)
    assert p.exceeds and p.shed_kw is None  # nothing left to shed
    with pytest.raises(ValueError, match="not the start of a 15-minute interval"):
        dc.project("plant", [], at(20), LIMIT, window_start=at(1))


def test_ponta_limit_uses_the_ponta_contract() -> None:
    ponta = dc.Limit("ponta", 200.0, 0.05)
    p = dc.project("plant", [flat(230.0, 5)], at(5), ponta)
    assert p.limit_kw == pytest.approx(210.0) and p.alert and p.period == "ponta"


def test_messages_and_payload_carry_the_figures() -> None:
    p = dc.project("plant", [flat(400.0, 5)], at(5), LIMIT)
    pt, en = dc.messages(p, "America/Sao_Paulo")
    assert pt.startswith("site (total): demanda de 15 min projetada em 400,0 kW")
    assert "limite de 315,0 kW (fora de ponta" in pt and "até 10h30" in pt
    assert f"reduzir {(400 - 315) * 15 / 10:.1f}".replace(".", ",") in pt
    assert "shed 127.5 kW" in en and "ending 10:30" in en and "(off-peak" in en
    live = dc.live_payload(p)
    assert live["type"] == "demand_projection" and live["alert"] is True
    assert live["window_start"] == "2026-11-23T13:15:00.000Z"
    assert live["window_end"] == "2026-11-23T13:30:00.000Z"
    assert live["elapsed_s"] == 300.0 and live["remaining_s"] == 600.0
    assert live["projected_kw"] == 400.0 and live["limit_kw"] == 315.0
    assert live["shed_kw"] == 127.5 and live["period"] == "fora_ponta"


def test_bad_input_is_refused_with_a_clear_message() -> None:
    with pytest.raises(ValueError, match="2 times but 1 kW values"):
        dc.MeterWindow(1, "m1", [at(0), at(1)], [1.0])
    with pytest.raises(ValueError, match="not in time order"):
        dc.MeterWindow(1, "m1", [at(1), at(0)], [1.0, 1.0])
    with pytest.raises(ValueError, match="min_elapsed"):
        dc.DemandParams(min_elapsed=timedelta(minutes=15))
    with pytest.raises(ValueError, match="before the interval"):
        dc.project("plant", [], W0 - timedelta(minutes=1), LIMIT, window_start=W0)


def test_settings_from_the_environment_name_the_variable() -> None:
    params = params_from_env(
        {"EMUSA_DEMAND_MIN_ELAPSED": "120", "EMUSA_DEMAND_SEVERITY": "warning"}
    )
    assert params.min_elapsed == timedelta(minutes=2) and params.severity == "warning"
    assert params_from_env({}) == dc.DemandParams()
    with pytest.raises(ConfigError, match="EMUSA_DEMAND_MIN_ELAPSED: not a number"):
        params_from_env({"EMUSA_DEMAND_MIN_ELAPSED": "3min"})
    with pytest.raises(ConfigError, match="EMUSA_DEMAND_MIN_ELAPSED: min_elapsed"):
        params_from_env({"EMUSA_DEMAND_MIN_ELAPSED": "900"})
    with pytest.raises(ConfigError, match="EMUSA_DEMAND_SEVERITY"):
        params_from_env({"EMUSA_DEMAND_SEVERITY": "loud"})


@pytest.mark.parametrize(("lang", "name"), [("pt-BR", "previsão"), ("en", "forecast")])
def test_the_event_kind_has_a_name_in_summaries_and_reports(lang: str, name: str) -> None:
    assert name in kind_name(dc.KIND, lang)


def test_counter_read_x1000_is_not_projected_as_an_ultrapassagem() -> None:
    base = flat(250.0, 6)
    good = dc.MeterWindow(1, "m1", base.times, base.kw, 25.0, W0, at(6))
    assert dc.project("plant", [good], at(6), LIMIT).energy_kwh == pytest.approx(25.0)
    scaled = dc.MeterWindow(1, "m1", base.times, base.kw, 25.0 * 1000, W0, at(6))
    p = dc.project("plant", [scaled], at(6), LIMIT)
    assert p.energy_kwh == pytest.approx(25.0)  # the power readings, not the counter
    assert p.projected_kw == pytest.approx(250.0) and not p.alert
