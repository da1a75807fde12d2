"""Statistical detection: a seasonal baseline per meter, calibrated out of sample.

Features (one row per meter and minute, from readings_1m): active and reactive power,
power factor, mean phase voltage in % of nominal, voltage unbalance (FD %), current
unbalance (%) and frequency. For each meter the model learns, on a trailing window
(``train_window``, refitted every ``refit_every``; minutes under rule events left out,
:func:`without_events`):

* **day groups** from the site's calendar: working days; Saturdays; Sundays and holidays
  (national ones from ``emusa_br_national_holidays`` and the site's ``holidays`` rows).
  Saturdays and Sundays/holidays are pooled into one "weekend/holiday" group until each
  has ``min_days`` days of history;
* the **typical** value of each feature at each minute of the day, per group: the median
  of the group's days over ±``half_window`` minutes (a constant for frequency and the
  unbalances, which have no daily shape);
* a **spread** per group, feature and minute of the day (±``spread_window`` minutes)
  from *leave-one-day-out* residuals (:mod:`analytics.detection.baseline`): every
  training day is compared with the typical computed without it, so the spread is what a
  day the fit has not seen looks like, and it cannot collapse because a slot has one or
  few samples; while there are few days it is shrunk toward the group's day-wide spread;
* a **threshold** per day group on the minute score (the largest standardized deviation
  over the features) chosen from the group's out-of-sample scores for
  ``false_events_per_week`` (default 0.3, the model's share of the ≤ 1 false event per
  meter-week budget): the score a clean day's largest minute exceeds on that many days
  a week (a robust Gumbel fit to the training days' largest out-of-sample scores, so
  clustered minutes count once and a day holding a real event does not set it; the
  extrapolated tail of the minute scores while there are fewer than 3 whole days),
  times ``1 + few_days_margin / days`` for the calibration's own uncertainty.

Warm-up: a minute is scored only when at least ``min_days`` days of its group support
its slot; otherwise its score is NaN ("not enough history": no event, and the worker
logs and records it, see analytics/detection/job.py). Unusual minutes are grouped into
episodes, each labelled by the feature that drives most of its minutes (the largest
standardized deviation of each minute), with the typical value at those minutes.

``method="isolation_forest"`` keeps a scikit-learn forest on the standardized residuals
for comparison; scikit-learn is imported only then. Fitted models are not persisted:
refitting from the database takes a fraction of a second per meter. Pure module: no
database or network.
"""

from __future__ import annotations

import math
from collections.abc import Collection
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd  # type: ignore[import-untyped]

from analytics.detection import baseline
from analytics.detection.events import Episode, group_runs
from analytics.detection.rules import MeterInfo, current_unbalance, unbalance_fd

if TYPE_CHECKING:  # scikit-learn (with SciPy, ~90 MiB) loads only when a forest is fitted
    from sklearn.ensemble import IsolationForest

MINUTE = timedelta(minutes=1)
MINUTES_PER_WEEK = 7 * 1440
EPOCH = date(2000, 1, 1)
FEATURES = ("p_kw", "q_kvar", "pf", "v_pct", "v_unb", "i_unb", "freq")
SEASONAL = ("p_kw", "q_kvar", "pf", "v_pct")  # depend on the time of day and day type
# smallest spread per feature (None: 2% of the median apparent power, a meter's class)
FLOORS: dict[str, float | None] = {
    "p_kw": None, "q_kvar": None, "pf": 0.01, "v_pct": 0.5, "v_unb": 0.2, "i_unb": 0.5, "freq": 0.02,
}  # fmt: skip
# (pt-BR label, en label, decimals) of each feature
LABELS: dict[str, tuple[str, str, int]] = {
    "p_kw": ("potência ativa (kW)", "active power (kW)", 1),
    "q_kvar": ("potência reativa (kvar)", "reactive power (kvar)", 1),
    "pf": ("fator de potência", "power factor", 2),
    "v_pct": ("tensão média (% da nominal)", "mean voltage (% of nominal)", 1),
    "v_unb": ("desequilíbrio de tensão (%)", "voltage unbalance (%)", 1),
    "i_unb": ("desequilíbrio de corrente (%)", "current unbalance (%)", 1),
    "freq": ("frequência (Hz)", "frequency (Hz)", 2),
}
DAY_TYPES = ("working", "saturday", "sunday_holiday")
POOLED = "weekend_holiday"
# rule kinds that already name a deviation of each feature (a model episode labelled by
# the feature and overlapping such a rule event on its meter adds nothing; a site-level
# demand_exceeded does not say which meter, so a meter's power episode stays)
EXPLAINED_BY: dict[str, frozenset[str]] = {
    "p_kw": frozenset({"voltage_interruption", "phase_loss"}),
    "q_kvar": frozenset({"power_factor", "voltage_interruption", "phase_loss"}),
    "pf": frozenset({"power_factor", "voltage_interruption", "phase_loss"}),
    "v_pct": frozenset({"voltage_sag", "voltage_swell", "voltage_interruption", "voltage_band",
                        "phase_loss"}),
    "v_unb": frozenset({"voltage_unbalance", "voltage_sag", "voltage_swell",
                        "voltage_interruption", "phase_loss"}),
    "i_unb": frozenset({"current_unbalance", "voltage_interruption", "phase_loss"}),
    "freq": frozenset({"frequency"}),
}  # fmt: skip
DATA_KINDS = frozenset({"meter_stuck", "meter_silent"})  # a model episode then is the data's


@dataclass(frozen=True)
class ModelParams:
    false_events_per_week: float = 0.3  # the model's budget on a clean meter
    min_days: int = 3  # days of a group supporting a slot before it is scored (>= 3: see docs)
    half_window: int = 5  # minutes either side pooled into a slot's typical value
    spread_window: int = 15  # minutes either side pooled into a slot's spread
    prior_days: float = 3.0  # weight of the day-wide spread while there are few days
    tail_fraction: float = 0.01  # scores above this quantile fit the extrapolated tail
    min_threshold: float = 4.0  # never flag a minute less than this many spreads away
    few_days_margin: float = 1.0  # threshold x (1 + this / days of the group)
    warning_factor: float = 2.0  # score / threshold from which an episode is a warning
    min_minutes: int = 1
    gap: timedelta = timedelta(minutes=5)
    min_current_a: float = 5.0
    method: str = "baseline"  # or "isolation_forest"
    contamination: float = 0.002  # isolation_forest: training false-alarm rate
    random_state: int = 0


@dataclass
class MeterModel:
    meter_id: int
    group_of: np.ndarray  # day type (0 working, 1 saturday, 2 sunday/holiday) -> group index
    groups: list[str]
    group_days: list[int]
    typical: np.ndarray  # (groups, features, 1440)
    spread: np.ndarray  # (groups, features, 1440)
    supported: np.ndarray  # (groups, 1440): enough days of history for the slot
    threshold: np.ndarray  # per group, on the minute score (largest |z| over the features)
    fitted_at: datetime
    train_rows: int
    params: ModelParams
    forest: IsolationForest | None = None
    forest_threshold: float = 0.0

    def status(self) -> dict[str, Any]:
        """What an operator needs to know: which day groups are scored, on how many days."""
        days = dict(zip(self.groups, self.group_days, strict=True))
        ready = [g for g, n in days.items() if n >= self.params.min_days]
        return {
            "ready": ready,
            "warming_up": [g for g in days if g not in ready],
            "days": days,
            "min_days": self.params.min_days,
            "threshold_z": {
                g: round(float(t), 2)
                for g, t in zip(self.groups, self.threshold, strict=True)
                if np.isfinite(t)
            },
            "fitted_at": self.fitted_at.isoformat(),
        }


def day_number(day: date) -> int:
    return (day - EPOCH).days


def features(
    minute: pd.DataFrame,
    meters: dict[int, MeterInfo],
    tz: str,
    min_current_a: float = 5.0,
    holidays: Collection[date] = (),
) -> pd.DataFrame:
    """Feature rows (meter_id, bucket, FEATURES, day, day_type, minute) from readings_1m rows."""
    if minute.empty:
        return pd.DataFrame(columns=["meter_id", "bucket", *FEATURES, "day", "day_type", "minute"])
    m = minute
    nominal = m["meter_id"].map(lambda k: meters[int(k)].nominal_ln).astype(float)
    volts = m[["v_l1n_avg", "v_l2n_avg", "v_l3n_avg"]].astype(float)
    ll = [m[c].astype(float).to_numpy() for c in ("v_l12_avg", "v_l23_avg", "v_l31_avg")]
    cur = [m[c].astype(float).to_numpy() for c in ("i_l1_avg", "i_l2_avg", "i_l3_avg")]
    i_unb = current_unbalance(*cur)
    loaded = np.vstack(cur).mean(axis=0) >= min_current_a
    p = m["p_total_avg"].astype(float)
    q = m["q_total_avg"].astype(float)
    local = m["bucket"].dt.tz_convert(tz).dt.tz_localize(None)
    day = (local.dt.normalize() - pd.Timestamp(EPOCH)).dt.days
    dow = local.dt.day_of_week
    off = day.isin([day_number(h) for h in holidays]) | (dow == 6)
    out = pd.DataFrame(
        {
            "meter_id": m["meter_id"].astype(int),
            "bucket": m["bucket"],
            "p_kw": p,
            "q_kvar": q,
            "pf": (p.abs() / np.hypot(p, q)).fillna(1.0),
            "v_pct": 100 * volts.mean(axis=1) / nominal,
            "v_unb": unbalance_fd(*ll),
            "i_unb": np.where(loaded, np.nan_to_num(i_unb), 0.0),
            "freq": m["freq_avg"].astype(float),
            "day": day,
            "day_type": np.where(off, 2, np.where(dow == 5, 1, 0)),
            "minute": local.dt.hour * 60 + local.dt.minute,
        },
        index=m.index,
    )
    return out.dropna(subset=list(FEATURES))


def without_events(
    feats: pd.DataFrame, events: Collection[tuple[int, datetime, datetime]],
    margin: timedelta = timedelta(minutes=5),
) -> pd.DataFrame:  # fmt: skip
    """Training rows outside the given (meter, start, end) events, with a margin: a day
    holding a sag or a phase loss should not widen what the model calls normal."""
    if not events or feats.empty:
        return feats
    keep = np.ones(len(feats), dtype=bool)
    meter = feats["meter_id"].to_numpy()
    bucket = feats["bucket"]
    for mid, start, end in events:
        keep &= ~((meter == mid) & (bucket >= start - margin) & (bucket < end + margin)).to_numpy()
    return feats[keep]


def _grouping(day_types: np.ndarray, min_days: int) -> tuple[np.ndarray, list[str]]:
    """Day type -> group: Saturdays apart from Sundays/holidays once both have the days."""
    counts = np.bincount(day_types, minlength=3)
    if counts[1] >= min_days and counts[2] >= min_days:
        return np.array([0, 1, 2]), list(DAY_TYPES)
    return np.array([0, 1, 1]), [DAY_TYPES[0], POOLED]


def _floors(train: pd.DataFrame) -> np.ndarray:
    out = []
    apparent = float(np.hypot(train["p_kw"], train["q_kvar"]).median()) if len(train) else 0.0
    for col in FEATURES:
        floor = FLOORS[col]
        out.append(max(0.02 * apparent if floor is None else floor, 1e-6))
    return np.asarray(out)


def _threshold(per_minute: np.ndarray, days: int, params: ModelParams) -> float:
    """A day group's threshold from its out-of-sample minute scores (days x 1440).

    From the days' largest scores (robust Gumbel fit: a day or two holding real events
    do not set it); with fewer than 3 whole days, or a budget of a day or more, from the
    tail of the minute scores. Never under ``min_threshold``; widened while the days
    are few.
    """
    by_day = per_minute.reshape(days, 1440)
    whole = (~np.isnan(by_day)).mean(axis=1) >= 0.9  # partial days have smaller maxima
    day_max = np.nanmax(np.where(np.isnan(by_day), -np.inf, by_day), axis=1)[whole]
    t = baseline.daily_max_threshold(day_max, params.false_events_per_week / 7)
    if not np.isfinite(t):
        rate = params.false_events_per_week / MINUTES_PER_WEEK
        t = baseline.tail_threshold(per_minute, rate, tail_fraction=params.tail_fraction)
    if not np.isfinite(t):
        return math.inf
    # a margin for the calibration's own uncertainty while there are few days
    return max(t, params.min_threshold) * (1 + params.few_days_margin / days)


def _fit_group(
    cubes: np.ndarray, floors: np.ndarray, params: ModelParams
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Typical values, spreads, supported slots and out-of-sample z of one day group."""
    hw = params.half_window
    days = cubes.shape[1]
    typical = np.full((len(FEATURES), 1440), np.nan)
    spread = np.full((len(FEATURES), 1440), np.nan)
    zs = np.full((len(FEATURES), days, 1440), np.nan)
    for f, name in enumerate(FEATURES):
        seasonal = name in SEASONAL
        typical[f] = baseline.typical(cubes[f], hw, seasonal)
        resid = baseline.loo_residuals(cubes[f], hw, seasonal)
        day_spread = baseline.day_spreads(resid, params.spread_window)
        spread[f] = np.fmax(baseline.pooled_spread(day_spread, params.prior_days), floors[f])
        zs[f] = resid / np.fmax(baseline.loo_spreads(day_spread, params.prior_days), floors[f])
    supported = (baseline.support(cubes[0], hw) >= params.min_days) & ~np.isnan(spread[0])
    zs[:, :, ~supported] = np.nan
    return typical, spread, supported, zs.reshape(len(FEATURES), -1).T


def fit(
    feats: pd.DataFrame, meter_id: int, fitted_at: datetime, params: ModelParams | None = None
) -> MeterModel:
    """Learn one meter's baseline and calibrate its threshold out of sample.

    Always returns a model; where the history does not support a slot, the model scores
    nothing there (see :meth:`MeterModel.status` and :func:`score`).
    """
    params = params or ModelParams()
    train = feats[feats["meter_id"] == meter_id]
    codes, days = pd.factorize(train["day"], sort=True)
    cubes = np.full((len(FEATURES), len(days), 1440), np.nan)
    cubes[:, codes, train["minute"].to_numpy(dtype=int)] = (
        train[list(FEATURES)].to_numpy(dtype=float).T
    )
    type_of_day = np.zeros(len(days), dtype=int)
    type_of_day[codes] = train["day_type"].to_numpy(dtype=int)
    group_of, groups = _grouping(type_of_day, params.min_days)
    floors = _floors(train)
    model = MeterModel(
        meter_id, group_of, groups, [], np.full((len(groups), len(FEATURES), 1440), np.nan),
        np.full((len(groups), len(FEATURES), 1440), np.nan),
        np.zeros((len(groups), 1440), dtype=bool), np.full(len(groups), np.inf),
        fitted_at, len(train), params,
    )  # fmt: skip
    loo_z = []
    for g in range(len(groups)):
        idx = np.flatnonzero(group_of[type_of_day] == g)
        model.group_days.append(len(idx))
        if len(idx) < params.min_days:
            continue
        model.typical[g], model.spread[g], model.supported[g], z = _fit_group(
            cubes[:, idx], floors, params
        )
        model.threshold[g] = _threshold(_max_abs(z), len(idx), params)
        if np.isfinite(model.threshold[g]):
            loo_z.append(z)
        else:  # too few out-of-sample scores to calibrate: still warming up
            model.supported[g] = False
    if params.method == "isolation_forest" and model.supported.any():
        _fit_forest(model, np.vstack(loo_z))
    return model


def _fit_forest(model: MeterModel, z: np.ndarray) -> None:
    from sklearn.ensemble import IsolationForest  # noqa: PLC0415 - only this option needs it

    params = model.params
    rows = np.nan_to_num(z[~np.isnan(_max_abs(z))])
    forest = IsolationForest(
        n_estimators=200, max_samples=min(2048, len(rows)), random_state=params.random_state
    )
    forest.fit(rows)
    model.forest = forest
    model.forest_threshold = float(
        np.quantile(-forest.score_samples(rows), 1 - params.contamination)
    )


def _max_abs(z: np.ndarray) -> np.ndarray:
    """Largest |z| per row; NaN where the row has no value."""
    a = np.abs(z)
    out = np.where(np.isnan(a).all(axis=1), np.nan, np.nanmax(np.nan_to_num(a, nan=-1.0), axis=1))
    return np.asarray(out)


def _groups_of(model: MeterModel, feats: pd.DataFrame) -> np.ndarray:
    out: np.ndarray = model.group_of[feats["day_type"].to_numpy(dtype=int)]
    return out


def _lookup(model: MeterModel, feats: pd.DataFrame) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per row: typical values and spreads (rows x features), and whether it is supported."""
    g = _groups_of(model, feats)
    minute = feats["minute"].to_numpy(dtype=int)
    typ = model.typical[g, :, minute]
    spr = model.spread[g, :, minute]
    return typ, spr, model.supported[g, minute]


def zscores(model: MeterModel, feats: pd.DataFrame) -> pd.DataFrame:
    """Standardized deviation of each feature from its typical value (NaN: not scored)."""
    typ, spr, ok = _lookup(model, feats)
    z = (feats[list(FEATURES)].to_numpy(dtype=float) - typ) / spr
    z[~ok] = np.nan
    return pd.DataFrame(z, index=feats.index, columns=list(FEATURES))


def score(model: MeterModel, feats: pd.DataFrame) -> np.ndarray:
    """Per row: how unusual, in units of the threshold (> 1 unusual; NaN not enough history)."""
    if feats.empty:
        return np.zeros(0)
    z = zscores(model, feats).to_numpy(dtype=float)
    s = _max_abs(z)
    if model.forest is not None:
        forest = -model.forest.score_samples(np.nan_to_num(z)) / model.forest_threshold
        return np.asarray(np.where(np.isnan(s), np.nan, forest))
    return np.asarray(s / model.threshold[_groups_of(model, feats)])


def unscored(scores: np.ndarray) -> int:
    """Minutes the model could not score for lack of history."""
    return int(np.isnan(scores).sum())


def _drivers(model: MeterModel, run: pd.DataFrame) -> list[dict[str, Any]]:
    """Features by the number of the run's minutes each drives (largest |z| of the minute)."""
    z = zscores(model, run)
    typ, _, _ = _lookup(model, run)
    absz = z.abs().fillna(0.0).to_numpy()
    lead = absz.argmax(axis=1)
    out: list[dict[str, Any]] = []
    for f in np.unique(lead):
        rows = lead == f
        name = FEATURES[int(f)]
        pt, en, decimals = LABELS[name]
        peak = int(np.argmax(np.where(rows, absz[:, f], -1.0)))
        out.append(
            {
                "feature": name,
                "label_pt": pt,
                "label_en": en,
                "minutes": int(rows.sum()),
                "value": float(run[name].to_numpy(dtype=float)[rows].mean()),
                "typical": float(typ[rows, f].mean()),
                "z": round(float(z[name].iloc[peak]), 1),
                "decimals": decimals,
            }
        )
    out.sort(key=lambda d: (-d["minutes"], -abs(d["z"])))
    return out[:3]


def episodes(
    site_id: str,
    model: MeterModel,
    feats: pd.DataFrame,
    scores: np.ndarray,
    *,
    last_bucket: datetime | None,
) -> list[Episode]:
    """Group unusual minutes (score > 1) into episodes labelled by their driving feature."""
    params = model.params
    flagged = feats.assign(score=scores)[np.nan_to_num(scores) > 1.0].sort_values("bucket")
    if flagged.empty:
        return []
    times = [pd.Timestamp(t).to_pydatetime() for t in flagged["bucket"]]
    out = []
    for i, j in group_runs(times, MINUTE, params.gap):
        run = flagged.iloc[i : j + 1]
        if len(run) < params.min_minutes:
            continue
        worst = float(run["score"].max())
        worst_t = model.threshold[_groups_of(model, run)].max()
        drivers = _drivers(model, run)
        out.append(
            Episode(
                site_id, model.meter_id, "model_outlier", "model",
                "warning" if worst >= params.warning_factor else "info",
                times[i], times[j] + MINUTE, last_bucket is not None and times[j] >= last_bucket,
                drivers[0]["feature"], worst, 1.0, worst,
                {
                    "drivers": drivers, "minutes": len(run), "method": params.method,
                    "fitted_at": model.fitted_at.isoformat(), "train_rows": model.train_rows,
                    "threshold_z": round(float(worst_t), 2),
                },
            )
        )  # fmt: skip
    return out


def unexplained(found: list[Episode], rule_events: list[Episode]) -> list[Episode]:
    """Model episodes a concurrent rule event on the same meter does not already name."""
    out = []
    for e in found:
        kinds = EXPLAINED_BY.get(e.quantity or "", frozenset()) | DATA_KINDS
        if not any(
            r.kind in kinds and r.meter_id == e.meter_id
            and r.start < e.end + MINUTE and r.end > e.start - MINUTE
            for r in rule_events
        ):  # fmt: skip
            out.append(e)
    return out
