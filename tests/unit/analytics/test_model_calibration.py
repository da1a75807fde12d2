"""Out-of-sample calibration of the statistical model (analytics/detection/baseline.py, seasonal.py).

Synthetic feature rows with known noise: a daily shape plus Gaussian noise per feature,
working days and weekends/holidays with different levels, fixed seeds, fixed dates.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import numpy as np
import pandas as pd
import pytest

from analytics.detection import baseline, seasonal
from analytics.detection.events import Episode
from analytics.detection.rules import MeterInfo

pytestmark = pytest.mark.unit

MONDAY = date(2026, 3, 2)
SIGMA = {"p_kw": 2.0, "q_kvar": 1.0, "pf": 0.004, "v_pct": 0.3, "v_unb": 0.1, "i_unb": 0.4,
         "freq": 0.01}  # fmt: skip
# floors well under the noise, so that what is measured is the calibration, not a floor
LOW_FLOORS = {"pf": 1e-4, "v_pct": 1e-3, "v_unb": 1e-3, "i_unb": 1e-3, "freq": 1e-4}


@pytest.fixture(autouse=True)
def _low_floors(monkeypatch: pytest.MonkeyPatch) -> None:
    floors = {**seasonal.FLOORS, **LOW_FLOORS, "p_kw": 1e-3, "q_kvar": 1e-3}
    monkeypatch.setattr(seasonal, "FLOORS", floors)


def synthetic(first: date, days: int, seed: int, holidays: tuple[date, ...] = ()) -> pd.DataFrame:
    """Feature rows of meter 1: a shift load on working days, light load otherwise."""
    rng = np.random.default_rng(seed)
    minute = np.arange(1440)
    shift = ((minute >= 360) & (minute < 1320)).astype(float)
    frames = []
    for d in range(days):
        day = first + timedelta(days=d)
        off = day.weekday() == 6 or day in holidays
        day_type = 2 if off else 1 if day.weekday() == 5 else 0
        load = shift * (0 if day_type else 1)
        base = {"p_kw": 20 + 60 * load, "q_kvar": 8 + 25 * load, "pf": 0.93 + 0.02 * load,
                "v_pct": 100 - 1.5 * load, "v_unb": 0.6 + 0 * load, "i_unb": 3 + 0 * load,
                "freq": 60 + 0 * load}  # fmt: skip
        values = {f: base[f] + rng.normal(0, SIGMA[f], 1440) for f in seasonal.FEATURES}
        start = datetime(day.year, day.month, day.day, 3, tzinfo=UTC)  # local midnight (UTC-3)
        frames.append(
            pd.DataFrame(
                {
                    "meter_id": 1,
                    "bucket": [start + timedelta(minutes=int(m)) for m in minute],
                    **values,
                    "day": seasonal.day_number(day),
                    "day_type": day_type,
                    "minute": minute,
                }
            )
        )
    return pd.concat(frames, ignore_index=True)


def fitted_on(days: int, params: seasonal.ModelParams | None = None) -> seasonal.MeterModel:
    return seasonal.fit(
        synthetic(MONDAY, days, seed=1), 1, datetime(2026, 4, 1, tzinfo=UTC), params
    )


def test_tail_threshold_meets_the_rate_on_known_noise() -> None:
    rng = np.random.default_rng(7)
    train, fresh = np.abs(rng.normal(size=200_000)), np.abs(rng.normal(size=2_000_000))
    # inside the data: the empirical quantile; realized rate within 20 % of the target
    t = baseline.tail_threshold(train, 1e-3)
    assert 0.8e-3 <= (fresh > t).mean() <= 1.2e-3
    # beyond the data (2 expected exceedances in the training): the extrapolated tail is
    # conservative for Gaussian noise, but not blind
    t = baseline.tail_threshold(train[:20_000], 1e-4)
    assert 1e-5 <= (fresh > t).mean() <= 1e-4


def test_daily_max_threshold_meets_the_day_rate_and_ignores_one_bad_day() -> None:
    rng = np.random.default_rng(11)
    fresh = rng.gumbel(5.0, 0.5, 200_000)  # a day's largest score, known distribution
    t = baseline.daily_max_threshold(rng.gumbel(5.0, 0.5, 400), 0.05)
    assert 0.025 <= (fresh > t).mean() <= 0.075
    ten = rng.gumbel(5.0, 0.5, 10)
    with_event = np.append(ten, 300.0)  # a training day that held a real event
    assert baseline.daily_max_threshold(with_event, 0.05) < 1.5 * baseline.daily_max_threshold(
        ten, 0.05
    )
    assert np.isnan(baseline.daily_max_threshold(ten[:2], 0.05))


def test_realized_out_of_sample_rate_is_the_target() -> None:
    budget = 2.0 * seasonal.MINUTES_PER_WEEK / 1000  # 1 minute in 500: measurable on 3 weeks
    params = seasonal.ModelParams(
        false_events_per_week=budget, min_threshold=0.0, few_days_margin=0.0
    )  # the calibration alone, without the floor and the few-days margin
    fitted = fitted_on(28, params)
    fresh = synthetic(MONDAY + timedelta(days=28), 21, seed=2)
    rate = float((seasonal.score(fitted, fresh) > 1).mean())
    assert 1e-3 <= rate <= 3e-3, rate


def test_clean_weeks_stay_within_the_model_budget() -> None:
    fitted = fitted_on(21)
    fresh = synthetic(MONDAY + timedelta(days=21), 28, seed=3)
    scores = seasonal.score(fitted, fresh)
    eps = seasonal.episodes("s", fitted, fresh, scores, last_bucket=None)
    assert not np.isnan(scores).any()
    assert len(eps) <= 2  # budget 0.3 per week: 1.2 expected at most in 4 weeks


def test_few_samples_per_slot_cannot_collapse_the_spread() -> None:
    # 13 days: two Saturdays and one Sunday pooled (weekend/holiday group): one sample
    # per Sunday slot, two per Saturday slot, and still a spread from days not fitted
    fitted = fitted_on(13)
    assert fitted.groups == ["working", "weekend_holiday"]
    p = seasonal.FEATURES.index("p_kw")
    for g in range(2):
        spread = fitted.spread[g, p][~np.isnan(fitted.spread[g, p])]
        assert len(spread) == 1440
        assert (spread > 0.6 * SIGMA["p_kw"]).all(), spread  # never near zero or its floor
    assert np.isfinite(fitted.threshold).all() and (fitted.threshold < 8).all()


def test_two_days_of_a_group_are_not_enough_history() -> None:
    # a leave-one-day-out spread from one other day is that day's own difference again
    fitted = fitted_on(7)  # Monday to Sunday: two weekend days
    status = fitted.status()
    assert status["ready"] == ["working"] and status["warming_up"] == ["weekend_holiday"]
    assert status["days"] == {"working": 5, "weekend_holiday": 2}
    sunday = synthetic(MONDAY + timedelta(days=12), 1, seed=4)  # the next Saturday
    sunday["p_kw"] += 500  # a deviation the model cannot judge yet: no event, no guess
    scores = seasonal.score(fitted, sunday)
    assert np.isnan(scores).all() and seasonal.unscored(scores) == 1440
    assert seasonal.episodes("s", fitted, sunday, scores, last_bucket=None) == []


def test_saturdays_get_their_own_group_once_there_are_enough() -> None:
    assert fitted_on(20).groups == ["working", "weekend_holiday"]  # 3 Saturdays, 2 Sundays
    assert fitted_on(21).groups == ["working", "saturday", "sunday_holiday"]


def test_a_holiday_is_scored_as_a_sunday() -> None:
    holiday = MONDAY + timedelta(days=22)  # a Tuesday
    minute = pd.DataFrame(
        {"meter_id": [1, 1], "bucket": pd.to_datetime(
            ["2026-03-24 15:00", "2026-03-25 15:00"], utc=True),
         **{c: [127.0, 127.0] for c in ("v_l1n_avg", "v_l2n_avg", "v_l3n_avg")},
         **{c: [220.0, 220.0] for c in ("v_l12_avg", "v_l23_avg", "v_l31_avg")},
         **{c: [10.0, 10.0] for c in ("i_l1_avg", "i_l2_avg", "i_l3_avg")},
         "p_total_avg": [3.0, 3.0], "q_total_avg": [1.0, 1.0], "freq_avg": [60.0, 60.0]}
    )  # fmt: skip
    feats = seasonal.features(minute, {1: MeterInfo(1, "m1")}, "America/Sao_Paulo", 5.0, [holiday])
    assert feats["day_type"].tolist() == [2, 0] and feats["minute"].tolist() == [720, 720]


def test_each_episode_is_labelled_by_the_quantity_driving_its_minutes() -> None:
    fitted = fitted_on(21)
    day = synthetic(MONDAY + timedelta(days=22), 1, seed=5)  # a Tuesday
    sag = (day["minute"] >= 600) & (day["minute"] < 606)
    day.loc[sag, "v_pct"] -= 12  # a 6-minute voltage sag ...
    day.loc[sag, "q_kvar"] += 4  # ... with reactive power a little off (a few sigma)
    (ep,) = seasonal.episodes("s", fitted, day, seasonal.score(fitted, day), last_bucket=None)
    assert ep.quantity == "v_pct" and ep.details["drivers"][0]["minutes"] == 6
    assert ep.start == day.loc[sag, "bucket"].iloc[0] and ep.details["minutes"] == 6
    assert ep.severity == "warning"


def test_a_rule_event_on_the_same_quantity_explains_the_model_episode() -> None:
    at = datetime(2026, 3, 24, 13, tzinfo=UTC)

    def ep(kind: str, detector: str, quantity: str | None, meter: int | None = 1) -> Episode:
        return Episode("s", meter, kind, detector, "warning", at, at + timedelta(minutes=5),
                       False, quantity, 1.0, 1.0)  # fmt: skip

    rules = [ep("voltage_sag", "rule", "v_l2n"), ep("demand_exceeded", "rule", None, None),
             ep("current_unbalance", "rule", "i_unb", 2)]  # fmt: skip
    found = [ep("model_outlier", "model", "v_pct"), ep("model_outlier", "model", "i_unb"),
             ep("model_outlier", "model", "p_kw")]  # fmt: skip
    # the sag names the voltage; the site's demand and the other meter's unbalance do not
    # say what this meter's power and current unbalance did
    assert [e.quantity for e in seasonal.unexplained(found, rules)] == ["i_unb", "p_kw"]


def test_minutes_under_rule_events_are_left_out_of_training() -> None:
    feats = synthetic(MONDAY, 1, seed=6)
    at = datetime(2026, 3, 2, 13, tzinfo=UTC)  # 10:00 local
    left = seasonal.without_events(feats, [(1, at, at + timedelta(minutes=30)), (2, at, at)])
    gone = feats.loc[~feats.index.isin(left.index), "bucket"]
    assert len(gone) == 40  # 30 minutes and 5 either side; meter 2's event is not meter 1's
    assert gone.min() == at - timedelta(minutes=5)
    assert gone.max() == at + timedelta(minutes=34)
