"""Power-quality and tariff rules: pandas frames of rollups in, episodes out.

Limits (see /README "Analytics"): PRODIST Módulo 8 steady-state voltage bands on
10-minute averages, frequency 59.9-60.1 Hz on 1-minute averages, voltage unbalance
(FD, CIGRÉ formula on line-line voltages) 3% on 10-minute averages, phase loss (a
phase below 50% of nominal on a 1-minute average), current unbalance (house limit,
no regulation) 10% when the mean current is at least ``min_current_a``, hourly power
factor below the site reference (0.92; inductive 06-24 h, capacitive 00-06 h local),
15-minute site demand above contracted + tolerance, meter silent for 5+ minutes.

Pure module: no database or network.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import numpy as np
import pandas as pd  # type: ignore[import-untyped]

from analytics.events import Episode, group_runs

MINUTE = timedelta(minutes=1)
TEN_MIN = timedelta(minutes=10)
HOUR = timedelta(hours=1)
QUARTER = timedelta(minutes=15)
PHASES = ("v_l1n", "v_l2n", "v_l3n")
LINES = ("v_l12", "v_l23", "v_l31")
CURRENTS = ("i_l1", "i_l2", "i_l3")

# PRODIST Módulo 8, steady-state voltage, by nominal line-neutral voltage:
# (adequate low, adequate high, precarious low, precarious high); critical outside.
PRODIST_BANDS: dict[float, tuple[float, float, float, float]] = {
    127.0: (117.0, 133.0, 110.0, 135.0),  # 220/127 V
    220.0: (202.0, 231.0, 191.0, 233.0),  # 380/220 V
}


def voltage_bands(nominal_ln: float) -> tuple[float, float, float, float]:
    """The PRODIST bands for a nominal line-neutral voltage (others: the 220 V ratios)."""
    if nominal_ln in PRODIST_BANDS:
        return PRODIST_BANDS[nominal_ln]
    return tuple(b / 220.0 * nominal_ln for b in PRODIST_BANDS[220.0])  # type: ignore[return-value]


@dataclass(frozen=True)
class Limits:
    freq_low: float = 59.9
    freq_high: float = 60.1
    freq_critical_low: float = 59.5
    freq_critical_high: float = 60.5
    voltage_unbalance_pct: float = 3.0
    current_unbalance_pct: float = 10.0
    min_current_a: float = 5.0
    phase_loss_fraction: float = 0.5
    silent_after: timedelta = timedelta(minutes=5)
    gaps: dict[str, timedelta] = field(
        default_factory=lambda: {
            "voltage_band": timedelta(minutes=10),
            "frequency": timedelta(minutes=5),
            "voltage_unbalance": timedelta(minutes=10),
            "current_unbalance": timedelta(minutes=10),
            "phase_loss": timedelta(minutes=5),
            "power_factor": timedelta(0),
            "demand_exceeded": timedelta(minutes=15),
            "meter_silent": timedelta(0),
            "model_outlier": timedelta(minutes=5),
        }
    )


@dataclass(frozen=True)
class MeterInfo:
    meter_id: int
    name: str
    nominal_ln: float = 127.0
    nominal_ll: float = 220.0


@dataclass(frozen=True)
class SiteInfo:
    site_id: str
    timezone: str = "America/Sao_Paulo"
    pf_reference: float = 0.92


@dataclass
class RuleInput:
    """Rollups of one site over the evaluated range [start, end).

    ``minute``: readings_1m rows (meter_id, bucket, samples, ``<q>_avg``);
    ``hourly``: readings_1h rows (meter_id, bucket, p_total_avg, q_total_avg);
    ``demand``: bi.site_demand_15m rows (bucket, demand_kw, limit_kw, exceeds_limit);
    ``last_before``: per meter, the last minute bucket with data before ``start``.
    """

    site: SiteInfo
    meters: dict[int, MeterInfo]
    start: datetime
    end: datetime
    minute: pd.DataFrame
    hourly: pd.DataFrame
    demand: pd.DataFrame
    last_before: dict[int, datetime] = field(default_factory=dict)


def _ts(value: Any) -> datetime:
    out: datetime = pd.Timestamp(value).to_pydatetime()
    return out


# What ``describe`` says of a run of violating rows:
# (severity, quantity, worst measured value, limit, details).
Verdict = tuple[str, str | None, float | None, float | None, dict[str, Any]]


def _episodes(
    inp: RuleInput,
    kind: str,
    *,
    rows: pd.DataFrame,
    last_bucket: dict[int | None, datetime],
    width: timedelta,
    gap: timedelta,
    describe: Callable[[pd.DataFrame], Verdict],
) -> Iterator[Episode]:
    """Group violating ``rows`` (meter_id, bucket, badness, ...) per meter into episodes.

    ``describe(run_rows)`` gives (severity, quantity, measured, limit, details) of a run.
    """
    if rows.empty:
        return
    for meter_id, group in rows.groupby("meter_id", dropna=False, sort=True):
        g = group.sort_values("bucket")
        times = [_ts(t) for t in g["bucket"]]
        mid = None if pd.isna(meter_id) else int(meter_id)
        for i, j in group_runs(times, width, gap):
            run = g.iloc[i : j + 1]
            severity, quantity, measured, limit, details = describe(run)
            end = times[j] + width
            ongoing = last_bucket.get(mid) is not None and times[j] >= last_bucket[mid]
            yield Episode(
                inp.site.site_id, mid, kind, "rule", severity, times[i], end, ongoing,
                quantity, measured, limit, float(run["badness"].max()), details,
            )  # fmt: skip


def _worst(run: pd.DataFrame) -> pd.Series:
    return run.loc[run["badness"].idxmax()]


def _last_buckets(frame: pd.DataFrame, key: str = "meter_id") -> dict[int | None, datetime]:
    if frame.empty:
        return {}
    last = frame.groupby(key)["bucket"].max()
    return {int(k): _ts(v) for k, v in last.items()}


def phase_loss_mask(inp: RuleInput, limits: Limits) -> pd.Series:
    """Per minute row: True where a phase is below ``phase_loss_fraction`` of nominal."""
    m = inp.minute
    if m.empty:
        return pd.Series(dtype=bool)
    nominal = m["meter_id"].map(lambda k: inp.meters[int(k)].nominal_ln).astype(float)
    volts = m[[f"{p}_avg" for p in PHASES]].astype(float)
    low = volts.lt(limits.phase_loss_fraction * nominal, axis=0)
    alive = volts.gt(0.8 * nominal, axis=0).any(axis=1)
    return low.any(axis=1) & alive


def phase_loss(inp: RuleInput, limits: Limits, mask: pd.Series) -> Iterator[Episode]:
    m = inp.minute
    if m.empty or not mask.any():
        return
    rows = m[mask].copy()
    cols = [f"{p}_avg" for p in PHASES]
    nominal = rows["meter_id"].map(lambda k: inp.meters[int(k)].nominal_ln).astype(float)
    rows["badness"] = (nominal - rows[cols].min(axis=1)).astype(float)

    def describe(run: pd.DataFrame) -> Verdict:
        w = _worst(run)
        info = inp.meters[int(w["meter_id"])]
        lost = sorted(
            {p.removesuffix("n").upper()[2:] for p in PHASES for _, r in run.iterrows()
             if r[f"{p}_avg"] < limits.phase_loss_fraction * info.nominal_ln}
        )  # fmt: skip
        worst_phase = min(PHASES, key=lambda p: float(w[f"{p}_avg"]))
        return (
            "critical",
            worst_phase,
            float(w[f"{worst_phase}_avg"]),
            limits.phase_loss_fraction * info.nominal_ln,
            {"phases": lost},
        )

    yield from _episodes(
        inp,
        "phase_loss",
        rows=rows,
        last_bucket=_last_buckets(m),
        width=MINUTE,
        gap=limits.gaps["phase_loss"],
        describe=describe,
    )


def _ten_minute(inp: RuleInput, columns: list[str], mask: pd.Series) -> pd.DataFrame:
    """10-minute averages of ``columns`` per meter, complete windows only, masked rows out."""
    m = inp.minute
    if m.empty:
        return pd.DataFrame(columns=["meter_id", "bucket", *columns])
    keep = m if mask.empty else m[~mask.reindex(m.index, fill_value=False)]
    if keep.empty:
        return pd.DataFrame(columns=["meter_id", "bucket", *columns])
    frame = keep[["meter_id", "bucket", *columns]].copy()
    frame["bucket"] = frame["bucket"].dt.floor("10min")
    out = frame.groupby(["meter_id", "bucket"], as_index=False)[columns].mean()
    return out[out["bucket"] + pd.Timedelta(TEN_MIN) <= pd.Timestamp(inp.end)]


def voltage_band(inp: RuleInput, limits: Limits, mask: pd.Series) -> Iterator[Episode]:
    cols = [f"{p}_avg" for p in PHASES]
    ten = _ten_minute(inp, cols, mask)
    if ten.empty:
        return
    bands = np.array([voltage_bands(inp.meters[int(k)].nominal_ln) for k in ten["meter_id"]])
    nominal = np.array([inp.meters[int(k)].nominal_ln for k in ten["meter_id"]])
    volts = ten[cols].to_numpy(dtype=float)
    lo, hi, plo, phi = (bands[:, i : i + 1] for i in range(4))
    outside = (volts < lo) | (volts > hi)
    critical = (volts < plo) | (volts > phi)
    dev = np.where(outside, np.abs(volts - nominal[:, None]), -1.0)
    dev = np.nan_to_num(dev, nan=-1.0)
    worst_idx = dev.argmax(axis=1)
    rows_idx = np.arange(len(ten))
    ten = ten.assign(
        badness=dev[rows_idx, worst_idx] + 1000.0 * critical[rows_idx, worst_idx],
        worst_phase=[PHASES[i] for i in worst_idx],
        worst_v=volts[rows_idx, worst_idx],
        is_critical=critical.any(axis=1),
        viol=outside.any(axis=1),
    )
    rows = ten[ten["viol"]]

    def describe(run: pd.DataFrame) -> Verdict:
        w = _worst(run)
        lo_, hi_, _, _ = voltage_bands(inp.meters[int(w["meter_id"])].nominal_ln)
        crit = bool(run["is_critical"].any())
        v = float(w["worst_v"])
        return (
            "critical" if crit else "warning",
            str(w["worst_phase"]),
            v,
            lo_ if v < lo_ else hi_,
            {"band": "critical" if crit else "precarious", "phase": str(w["worst_phase"]).upper()[2:4],
             "adequate_low": lo_, "adequate_high": hi_},
        )  # fmt: skip

    yield from _episodes(
        inp,
        "voltage_band",
        rows=rows,
        last_bucket=_last_buckets(ten),
        width=TEN_MIN,
        gap=limits.gaps["voltage_band"],
        describe=describe,
    )


def unbalance_fd(vab: np.ndarray, vbc: np.ndarray, vca: np.ndarray) -> np.ndarray:
    """Voltage unbalance factor FD% from line-line magnitudes (CIGRÉ / PRODIST)."""
    beta = (vab**4 + vbc**4 + vca**4) / (vab**2 + vbc**2 + vca**2) ** 2
    root = np.sqrt(np.clip(3 - 6 * beta, 0, None))
    out: np.ndarray = 100 * np.sqrt(np.clip((1 - root) / (1 + root), 0, None))
    return out


def current_unbalance(i1: np.ndarray, i2: np.ndarray, i3: np.ndarray) -> np.ndarray:
    """Largest deviation from the mean current, in % of the mean (NEMA-style)."""
    stack = np.vstack([i1, i2, i3])
    mean = stack.mean(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        out: np.ndarray = 100 * np.abs(stack - mean).max(axis=0) / mean
    return out


def _unbalance_episodes(
    inp: RuleInput,
    ten: pd.DataFrame,
    badness: np.ndarray[Any, Any],
    *,
    kind: str,
    quantity: str,
    limit: float,
    gap: timedelta,
) -> Iterator[Episode]:
    """Ten-minute unbalance above ``limit`` (%): warning, critical above twice the limit."""
    ten = ten.assign(badness=badness)
    rows = ten[ten["badness"] > limit]

    def describe(run: pd.DataFrame) -> Verdict:
        v = float(run["badness"].max())
        return ("critical" if v > 2 * limit else "warning"), quantity, v, limit, {}

    yield from _episodes(
        inp,
        kind,
        rows=rows,
        last_bucket=_last_buckets(ten),
        width=TEN_MIN,
        gap=gap,
        describe=describe,
    )


def voltage_unbalance(inp: RuleInput, limits: Limits, mask: pd.Series) -> Iterator[Episode]:
    cols = [f"{p}_avg" for p in LINES]
    ten = _ten_minute(inp, cols, mask).dropna(subset=cols)
    if ten.empty:
        return
    fd = unbalance_fd(*(ten[c].to_numpy(dtype=float) for c in cols))
    yield from _unbalance_episodes(
        inp,
        ten,
        fd,
        kind="voltage_unbalance",
        quantity="v_unbalance",
        limit=limits.voltage_unbalance_pct,
        gap=limits.gaps["voltage_unbalance"],
    )


def current_unbalance_rule(inp: RuleInput, limits: Limits, mask: pd.Series) -> Iterator[Episode]:
    cols = [f"{c}_avg" for c in CURRENTS]
    ten = _ten_minute(inp, cols, mask).dropna(subset=cols)
    if ten.empty:
        return
    arr = [ten[c].to_numpy(dtype=float) for c in cols]
    loaded = np.vstack(arr).mean(axis=0) >= limits.min_current_a
    yield from _unbalance_episodes(
        inp,
        ten,
        np.where(loaded, current_unbalance(*arr), 0.0),
        kind="current_unbalance",
        quantity="i_unbalance",
        limit=limits.current_unbalance_pct,
        gap=limits.gaps["current_unbalance"],
    )


def frequency(inp: RuleInput, limits: Limits) -> Iterator[Episode]:
    m = inp.minute.dropna(subset=["freq_avg"]) if not inp.minute.empty else inp.minute
    if m.empty:
        return
    f = m["freq_avg"].astype(float)
    low, high = f < limits.freq_low, f > limits.freq_high
    rows = m.assign(badness=(f - 60.0).abs())[low | high]

    def describe(run: pd.DataFrame) -> Verdict:
        v = float(_worst(run)["freq_avg"])
        crit = v < limits.freq_critical_low or v > limits.freq_critical_high
        lim = limits.freq_low if v < 60 else limits.freq_high
        return ("critical" if crit else "warning"), "freq", v, lim, {}

    yield from _episodes(
        inp,
        "frequency",
        rows=rows,
        last_bucket=_last_buckets(m),
        width=MINUTE,
        gap=limits.gaps["frequency"],
        describe=describe,
    )


def power_factor(inp: RuleInput, limits: Limits) -> Iterator[Episode]:
    """Hourly PF from average P and Q; inductive counted 06-24 h, capacitive 00-06 h."""
    h = (
        inp.hourly.dropna(subset=["p_total_avg", "q_total_avg"])
        if not inp.hourly.empty
        else inp.hourly
    )
    if h.empty:
        return
    h = h[h["bucket"] + pd.Timedelta(HOUR) <= pd.Timestamp(inp.end)]
    if h.empty:
        return
    p = h["p_total_avg"].astype(float).to_numpy()
    q = h["q_total_avg"].astype(float).to_numpy()
    with np.errstate(invalid="ignore", divide="ignore"):
        pf = np.abs(p) / np.hypot(p, q)
    hour = h["bucket"].dt.tz_convert(inp.site.timezone).dt.hour.to_numpy()
    capacitive_window = hour < 6
    counted = np.where(capacitive_window, q < 0, q > 0) & (p > 0)
    ref = inp.site.pf_reference
    h = h.assign(
        pf=pf, badness=ref - pf, nature=np.where(capacitive_window, "capacitive", "inductive")
    )
    rows = h[counted & (pf < ref)]

    def describe(run: pd.DataFrame) -> Verdict:
        w = _worst(run)
        return (
            "warning",
            "pf_total",
            float(w["pf"]),
            ref,
            {"nature": str(w["nature"]), "hours": len(run)},
        )

    yield from _episodes(
        inp,
        "power_factor",
        rows=rows,
        last_bucket=_last_buckets(h),
        width=HOUR,
        gap=limits.gaps["power_factor"],
        describe=describe,
    )


def demand(inp: RuleInput, limits: Limits) -> Iterator[Episode]:
    d = inp.demand
    if d.empty:
        return
    d = d[d["bucket"] + pd.Timedelta(QUARTER) <= pd.Timestamp(inp.end)].assign(meter_id=pd.NA)
    d = d.dropna(subset=["limit_kw", "demand_kw"])
    if d.empty:
        return
    d = d.assign(badness=d["demand_kw"].astype(float) - d["limit_kw"].astype(float))
    rows = d[d["badness"] > 0]
    last: dict[int | None, datetime] = {None: _ts(d["bucket"].max())}

    def describe(run: pd.DataFrame) -> Verdict:
        w = _worst(run)
        return (
            "critical",
            "demand_kw",
            float(w["demand_kw"]),
            float(w["limit_kw"]),
            {"intervals": len(run), "peak_at": _ts(w["bucket"]).isoformat()},
        )

    yield from _episodes(
        inp,
        "demand_exceeded",
        rows=rows,
        last_bucket=last,
        width=QUARTER,
        gap=limits.gaps["demand_exceeded"],
        describe=describe,
    )


def meter_silent(inp: RuleInput, limits: Limits) -> Iterator[Episode]:
    """Gaps of ``silent_after`` or more between minutes with data (and a silent tail)."""
    m = inp.minute
    by_meter: dict[int, list[datetime]] = {}
    if not m.empty:
        with_data = m[m["samples"] > 0]
        for k, g in with_data.groupby("meter_id"):
            by_meter[int(k)] = sorted(_ts(t) for t in g["bucket"])
    for meter_id in inp.meters:
        times = by_meter.get(meter_id, [])
        before = inp.last_before.get(meter_id)
        points = ([before] if before is not None else []) + times
        if not points:
            continue  # never reported: not silent, just not installed yet
        spans = [(points[i] + MINUTE, points[i + 1]) for i in range(len(points) - 1)]
        spans.append((points[-1] + MINUTE, inp.end))
        for n, (a, b) in enumerate(spans):
            if b - a < limits.silent_after:
                continue
            tail = n == len(spans) - 1
            minutes = (b - a).total_seconds() / 60
            yield Episode(
                inp.site.site_id, meter_id, "meter_silent", "rule", "warning", a, b, tail,
                "samples", minutes, limits.silent_after.total_seconds() / 60, minutes, {},
            )  # fmt: skip


def evaluate(inp: RuleInput, limits: Limits | None = None) -> list[Episode]:
    """Every rule over ``inp``; phase loss masks the voltage and current rules it explains."""
    limits = limits or Limits()
    mask = phase_loss_mask(inp, limits)
    out: list[Episode] = []
    out += phase_loss(inp, limits, mask)
    out += voltage_band(inp, limits, mask)
    out += voltage_unbalance(inp, limits, mask)
    out += current_unbalance_rule(inp, limits, mask)
    out += frequency(inp, limits)
    out += power_factor(inp, limits)
    out += demand(inp, limits)
    out += meter_silent(inp, limits)
    return [e for e in out if not math.isnan(e.badness)]
