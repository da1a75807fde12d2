"""Power-quality and tariff rules: pandas frames of rollups in, episodes out.

Limits (see docs/detection.md and docs/analytics-and-reports.md): PRODIST Módulo 8
steady-state voltage bands on 10-minute averages (minutes of a short-duration variation
or a phase loss left out, as PRODIST purges them), voltage unbalance (FD, CIGRÉ formula
on line-line voltages) 3% on 10-minute averages, current unbalance (house limit, no
regulation) 10% when the mean current is at least ``min_current_a``, hourly power factor
below the site reference (0.92; inductive 06-24 h, capacitive 00-06 h local), 15-minute
site demand above contracted + tolerance (counter-based demand bounded by the measured
power, see :mod:`analytics.detection.quality`), meter silent for 5+ minutes. Frequency,
phase loss and short-duration voltage variations are judged on extremes
(:mod:`analytics.detection.extremes`), stuck meters and impossible demand in
:mod:`analytics.detection.quality`.

Pure module: no database or network.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

import numpy as np
import pandas as pd  # type: ignore[import-untyped]

from analytics.detection import extremes, quality
from analytics.detection.events import Episode
from analytics.detection.rulebase import (
    CURRENTS,
    HOUR,
    LINES,
    MINUTE,
    PHASES,
    PRODIST_BANDS,
    QUARTER,
    TEN_MIN,
    Limits,
    MeterInfo,
    RuleInput,
    SiteInfo,
    Verdict,
    as_datetime,
    last_buckets,
    rule_episodes,
    voltage_bands,
    worst_row,
)

# re-exported: the rules' common ground lives in analytics.detection.rulebase
__all__ = [
    "CURRENTS", "LINES", "PHASES", "PRODIST_BANDS", "Limits", "MeterInfo", "RuleInput",
    "SiteInfo", "current_unbalance", "evaluate", "unbalance_fd", "voltage_bands",
]  # fmt: skip


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
        w = worst_row(run)
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

    yield from rule_episodes(
        inp,
        "voltage_band",
        rows=rows,
        last_bucket=last_buckets(ten),
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

    yield from rule_episodes(
        inp,
        kind,
        rows=rows,
        last_bucket=last_buckets(ten),
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
        w = worst_row(run)
        return (
            "warning",
            "pf_total",
            float(w["pf"]),
            ref,
            {"nature": str(w["nature"]), "hours": len(run)},
        )

    yield from rule_episodes(
        inp,
        "power_factor",
        rows=rows,
        last_bucket=last_buckets(h),
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
    # a counter-based demand physics rules out is a counter error (its own data-quality
    # event): judged on the measured average power instead, never alerted as such
    implausible = quality.implausible_demand(d, limits)
    kw = d["demand_kw"].astype(float).where(~implausible, d.get("p_total_avg"))
    d = d.assign(demand_kw=kw).dropna(subset=["demand_kw"])
    d = d.assign(badness=d["demand_kw"].astype(float) - d["limit_kw"].astype(float))
    rows = d[d["badness"] > 0]
    last: dict[int | None, datetime] = {None: as_datetime(d["bucket"].max())}

    def describe(run: pd.DataFrame) -> Verdict:
        w = worst_row(run)
        return (
            "critical",
            "demand_kw",
            float(w["demand_kw"]),
            float(w["limit_kw"]),
            {"intervals": len(run), "peak_at": as_datetime(w["bucket"]).isoformat()},
        )

    yield from rule_episodes(
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
            by_meter[int(k)] = sorted(as_datetime(t) for t in g["bucket"])
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
    """Every rule over ``inp``; phase loss and short-duration variations mask the
    minutes they explain from the voltage and current rules on 10-minute averages."""
    limits = limits or Limits()
    found, mask = extremes.voltage_events(inp, limits)
    out: list[Episode] = list(found)
    out += voltage_band(inp, limits, mask)
    out += voltage_unbalance(inp, limits, mask)
    out += current_unbalance_rule(inp, limits, mask)
    out += extremes.frequency(inp, limits)
    out += power_factor(inp, limits)
    out += demand(inp, limits)
    out += quality.demand_implausible(inp, limits)
    out += meter_silent(inp, limits)
    out += quality.meter_stuck(inp, limits)
    return [e for e in out if not math.isnan(e.badness)]
