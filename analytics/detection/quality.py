"""Data-quality rules: readings that cannot be real.

* ``meter_stuck``: a meter repeating exactly the same readings (every voltage, current,
  power and frequency value, to the last bit) over ``stuck_polls`` polls and
  ``stuck_minutes`` minutes while it shows load. Real readings of a loaded feeder always
  move in their last digits; a frozen register set (a hung meter firmware, a gateway
  serving a cached block) does not. Found on the 1-minute rollup: a minute is frozen
  when each quantity's min equals its max, and consecutive frozen minutes (less than
  ``silent_after`` apart) must hold the same values.
* ``demand_implausible``: a 15-minute demand computed from the energy counter (delta x 4)
  that physics rules out, i.e. above ``demand_ratio_max`` x the interval's average
  measured power plus a tenth of the limit, or above ``demand_limit_multiple_max`` x the
  limit (a counter read x1000, a counter preset). A data-quality warning on the site
  total; the demand rule then judges the interval on the measured power, so a counter
  error never raises an ultrapassagem alert.

Pure module: no database or network.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime

import numpy as np
import pandas as pd  # type: ignore[import-untyped]

from analytics.detection.events import Episode
from analytics.detection.rulebase import (
    MINUTE,
    QUARTER,
    Limits,
    RuleInput,
    Verdict,
    as_datetime,
    rule_episodes,
    worst_row,
)

STUCK_QUANTITIES = (
    "v_l1n", "v_l2n", "v_l3n", "i_l1", "i_l2", "i_l3", "p_total", "q_total", "freq",
)  # fmt: skip


def _frozen_runs(g: pd.DataFrame, limits: Limits) -> Iterator[pd.DataFrame]:
    """Runs of one meter's minutes (sorted) that repeat the same readings under load."""
    qs = [q for q in STUCK_QUANTITIES if f"{q}_min" in g and g[f"{q}_min"].notna().any()]
    if len(qs) < 3 or "p_total" not in qs:
        return
    lo = g[[f"{q}_min" for q in qs]].to_numpy(dtype=float)
    hi = g[[f"{q}_max" for q in qs]].to_numpy(dtype=float)
    frozen = (np.nan_to_num(lo - hi, nan=0.0) == 0).all(axis=1)
    loaded = np.nan_to_num(np.abs(lo[:, qs.index("p_total")])) > 0
    ok = frozen & loaded
    if not ok.any():
        return
    # a minute continues the run before it when it holds the same values, soon after
    same = np.zeros(len(g), dtype=bool)
    steps = np.diff(g["bucket"].to_numpy()) <= np.timedelta64(limits.silent_after)
    equal = ((lo[1:] == lo[:-1]) | (np.isnan(lo[1:]) & np.isnan(lo[:-1]))).all(axis=1)
    same[1:] = ok[1:] & ok[:-1] & steps & equal
    run = np.cumsum(ok & ~same)  # run number of each ok minute (from 1)
    run[~ok] = 0
    polls = np.bincount(run, weights=g["samples"].to_numpy(dtype=float))
    for r in np.flatnonzero(polls >= limits.stuck_polls):
        if r:
            yield g[run == r]


def meter_stuck(inp: RuleInput, limits: Limits) -> Iterator[Episode]:
    m = inp.minute
    if m.empty or "p_total_min" not in m:
        return
    for meter_id, group in m.groupby("meter_id", sort=True):
        g = group.sort_values("bucket")
        last = as_datetime(g["bucket"].iloc[-1])
        for run in _frozen_runs(g, limits):
            polls = int(run["samples"].sum())
            start, end = as_datetime(run["bucket"].iloc[0]), as_datetime(run["bucket"].iloc[-1])
            minutes = (end + MINUTE - start).total_seconds() / 60
            if polls < limits.stuck_polls or minutes < limits.stuck_minutes:
                continue
            first = run.iloc[0]
            yield Episode(
                inp.site.site_id, int(meter_id), "meter_stuck", "rule", "warning", start,
                end + MINUTE, end >= last, "samples", float(polls), float(limits.stuck_polls),
                minutes,
                {"polls": polls, "minutes": minutes,
                 "p_total_kw": float(first["p_total_min"]),
                 "v_l1n": float(first["v_l1n_min"]) if "v_l1n_min" in run else None},
            )  # fmt: skip


def implausible_demand(d: pd.DataFrame, limits: Limits) -> pd.Series:
    """Per demand row: the counter-based demand physics rules out (see module doc)."""
    kw = d["demand_kw"].astype(float)
    limit = d["limit_kw"].astype(float)
    too_big = kw > limits.demand_limit_multiple_max * limit
    if "p_total_avg" in d:
        p = d["p_total_avg"].astype(float)
        too_big |= (kw > limits.demand_ratio_max * p.clip(lower=0) + 0.1 * limit) & p.notna()
    return too_big.fillna(False)


def demand_implausible(inp: RuleInput, limits: Limits) -> Iterator[Episode]:
    d = inp.demand
    if d.empty or "p_total_avg" not in d:
        return
    d = d[d["bucket"] + pd.Timedelta(QUARTER) <= pd.Timestamp(inp.end)]
    d = d.dropna(subset=["demand_kw", "limit_kw"]).assign(meter_id=pd.NA)
    if d.empty:
        return
    rows = d[implausible_demand(d, limits)]
    rows = rows.assign(badness=rows["demand_kw"].astype(float))
    last: dict[int | None, datetime] = {None: as_datetime(d["bucket"].max())}

    def describe(run: pd.DataFrame) -> Verdict:
        w = worst_row(run)
        measured = w.get("p_total_avg")
        return (
            "warning", "demand_kw", float(w["demand_kw"]),
            None if measured is None or pd.isna(measured) else round(float(measured), 3),
            {"intervals": len(run), "at": as_datetime(w["bucket"]).isoformat(),
             "measured_kw": None if measured is None or pd.isna(measured) else float(measured)},
        )  # fmt: skip

    yield from rule_episodes(
        inp, "demand_implausible", rows=rows, last_bucket=last, width=QUARTER,
        gap=limits.gaps["demand_implausible"], describe=describe,
    )  # fmt: skip
