"""Rules on extremes: frequency, phase loss and short-duration voltage variations.

An average hides what is short: a 10 s excursion to 60.6 Hz moves the minute's average
by 0.1 Hz, a 20 s phase loss leaves the minute's average at two thirds of nominal. These
rules read the 1-minute rollup's ``<q>_min``/``<q>_max`` columns and, where an event is
shorter than a few minutes, the raw readings of those minutes (:func:`raw_windows` says
which; the caller loads them into ``RuleInput.raw``).

* ``frequency``: a minute whose lowest or highest reading leaves 59.9-60.1 Hz; the
  episode reports its extreme reading, critical beyond 59.5/60.5 Hz.
* ``phase_loss``: a phase below ``phase_loss_fraction`` (50 %) of nominal for at least
  ``phase_loss_min`` (10 s) while another phase is above ``alive_fraction`` (80 %):
  critical, reporting the lowest reading of the lost phase.
* PRODIST Módulo 8 short-duration voltage variations (VTCD), by the extreme phase of the
  event (the phase that deviates most), the event lasting from the first reading outside
  0.9-1.1 pu of any phase to the last, readings less than a minute apart being one event
  (temporal aggregation): ``voltage_interruption`` below 0.1 pu (critical),
  ``voltage_sag`` (afundamento) 0.1-0.9 pu, ``voltage_swell`` (elevação) above 1.1 pu
  (warnings); momentary up to 3 s, temporary up to 3 min (``details["duration_class"]``).
  Longer variations are steady-state deviations, judged by ``voltage_band`` on 10-minute
  averages. A motor start dipping to 93-97 % stays inside 0.9 pu: no event.
  These bands and durations are PRODIST's as quoted in docs/detection.md (not in the
  project's reference file: confirm before quoting in a report).

At the live edge (the evaluated range ending less than the aggregation minute after a
variation's last reading outside the band), a phase loss is reported at once, ongoing (the
event store extends and closes it later); a sag, swell or interruption waits until it
has ended, since its kind and class depend on how long it lasts. "Ended" is judged
against the evaluated range, not the meter's newest minute: a meter that stops
reporting during an event (gateway stopped, supply lost) still has it judged.

The minutes these events cover, and those of variations still open, are returned as a
mask: the 10-minute voltage and unbalance rules leave them out (PRODIST purges readings
with VTCD from the steady-state indicators). Pure module: no database or network.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

import numpy as np
import pandas as pd  # type: ignore[import-untyped]

from analytics.detection.events import Episode, group_runs
from analytics.detection.rulebase import (
    MINUTE,
    PHASES,
    Limits,
    RuleInput,
    Verdict,
    as_datetime,
    last_buckets,
    rule_episodes,
    worst_row,
)

SAG_PU = 0.9
SWELL_PU = 1.1
INTERRUPTION_PU = 0.1
MOMENTARY = timedelta(seconds=3)
TEMPORARY = timedelta(minutes=3)
# runs of suspect minutes up to this long are read second by second
RAW_RUN_MAX = TEMPORARY + 2 * MINUTE
# readings further apart than this end a variation (PRODIST temporal aggregation: 1 min)
AGGREGATE = timedelta(minutes=1)


def _col(m: pd.DataFrame, q: str, stat: str) -> pd.Series:
    """``<q>_<stat>`` (min/max) of the minute rows, or the average where absent."""
    name = f"{q}_{stat}"
    return (m[name] if name in m else m[f"{q}_avg"]).astype(float)


def _nominal(inp: RuleInput, m: pd.DataFrame) -> pd.Series:
    return m["meter_id"].map(lambda k: inp.meters[int(k)].nominal_ln).astype(float)


def frequency(inp: RuleInput, limits: Limits) -> Iterator[Episode]:
    """Minutes whose extreme reading leaves the normal band; severity from the extreme."""
    m = inp.minute
    if m.empty or "freq_avg" not in m:
        return
    lo_ok, hi_ok = limits.freq_valid
    low = _col(m, "freq", "min").where(lambda s: s.between(lo_ok, hi_ok))
    high = _col(m, "freq", "max").where(lambda s: s.between(lo_ok, hi_ok))
    dev_low, dev_high = (60.0 - low).fillna(0.0), (high - 60.0).fillna(0.0)
    worst = np.where(dev_low >= dev_high, low, high)
    rows = m.assign(freq_worst=worst, badness=np.maximum(dev_low, dev_high))
    rows = rows[(low < limits.freq_low) | (high > limits.freq_high)]

    def describe(run: pd.DataFrame) -> Verdict:
        v = float(worst_row(run)["freq_worst"])
        crit = v < limits.freq_critical_low or v > limits.freq_critical_high
        lim = limits.freq_low if v < 60 else limits.freq_high
        return ("critical" if crit else "warning"), "freq", v, lim, {"statistic": "extreme"}

    yield from rule_episodes(
        inp, "frequency", rows=rows, last_bucket=last_buckets(m), width=MINUTE,
        gap=limits.gaps["frequency"], describe=describe,
    )  # fmt: skip


def _suspect(inp: RuleInput) -> pd.Series:
    """Per minute row: some phase's extreme outside 0.9-1.1 pu."""
    m = inp.minute
    nominal = _nominal(inp, m)
    lows = pd.concat([_col(m, p, "min") for p in PHASES], axis=1).min(axis=1)
    highs = pd.concat([_col(m, p, "max") for p in PHASES], axis=1).max(axis=1)
    return (lows < SAG_PU * nominal) | (highs > SWELL_PU * nominal)


def _runs(inp: RuleInput) -> Iterator[tuple[int, pd.DataFrame, bool]]:
    """(meter_id, rows, reaches the meter's last minute) of each run of suspect minutes."""
    m = inp.minute
    if m.empty:
        return
    flagged = m[_suspect(inp)]
    last = last_buckets(m)
    for meter_id, group in flagged.groupby("meter_id", sort=True):
        g = group.sort_values("bucket")
        times = [as_datetime(t) for t in g["bucket"]]
        for i, j in group_runs(times, MINUTE, timedelta(0)):
            yield int(meter_id), g.iloc[i : j + 1], times[j] >= last[int(meter_id)]


def raw_windows(inp: RuleInput) -> list[tuple[int, datetime, datetime]]:
    """(meter_id, start, end) of the short runs of suspect minutes, whose raw readings
    :func:`voltage_events` reads (a long run is judged on its minutes)."""
    out = []
    for meter_id, run, _ in _runs(inp):
        start, end = as_datetime(run["bucket"].iloc[0]), as_datetime(run["bucket"].iloc[-1])
        if end + MINUTE - start <= RAW_RUN_MAX:
            out.append((meter_id, start, end + MINUTE))
    return out


def _episode(
    inp: RuleInput, meter_id: int, kind: str, severity: str, span: tuple[datetime, datetime],
    *, phase: str, measured: float, limit: float, badness: float, details: dict[str, Any],
) -> Episode:  # fmt: skip
    return Episode(
        inp.site.site_id, meter_id, kind, "rule", severity, *span, False, phase,
        round(measured, 2), round(limit, 2), badness, details,
    )  # fmt: skip


def _variations(
    inp: RuleInput, limits: Limits, meter_id: int, raw: pd.DataFrame, poll: timedelta | None
) -> Iterator[Episode | tuple[datetime, datetime]]:
    """Phase losses and VTCD in one meter's raw readings of a short run (``poll``: the
    readings' interval, else their median spacing). A variation that may still go on at
    the end of the evaluated range is a phase loss reported as ongoing, or else its
    (start, end) span, to be judged when it has ended."""
    nominal = inp.meters[meter_id].nominal_ln
    raw = raw.sort_values("time")
    times = [as_datetime(t) for t in raw["time"]]
    pu = raw[list(PHASES)].to_numpy(dtype=float) / nominal
    outside = np.nan_to_num((pu < SAG_PU) | (pu > SWELL_PU)).any(axis=1)
    if not outside.any():
        return
    if poll is None:
        steps = np.diff(pd.to_datetime(raw["time"], utc=True).to_numpy()) / np.timedelta64(1, "s")
        poll = timedelta(seconds=float(np.median(steps)) if len(steps) else 1.0)
    join = max(AGGREGATE - poll, timedelta(0))  # a later reading this close joins the event
    idx = np.flatnonzero(outside)
    for a, b in group_runs([times[k] for k in idx], poll, join):
        rows = pu[idx[a] : idx[b] + 1]
        start, end = times[idx[a]], times[idx[b]] + poll
        still_open = end + join >= inp.end
        lost = _lost_phases(rows, limits, poll)
        if lost:
            k = PHASES.index(lost[0])
            v = float(np.nanmin(rows[:, k])) * nominal
            ep = _episode(
                inp, meter_id, "phase_loss", "critical", (start, end), phase=lost[0],
                measured=v, limit=limits.phase_loss_fraction * nominal, badness=nominal - v,
                details={"phases": [p[2:4].upper() for p in lost],
                         "duration_s": (end - start).total_seconds()},
            )  # fmt: skip
            yield replace(ep, ongoing=still_open)
            continue
        if still_open:
            yield start, end  # its duration, so its kind, is not known yet
            continue
        duration = end - start
        if duration > TEMPORARY:
            continue  # a long-duration variation: the 10-minute band rule's business
        low, high = float(np.nanmin(rows)), float(np.nanmax(rows))
        swell = high - 1 > 1 - low
        col = int(np.nanargmax(rows.max(axis=0)) if swell else np.nanargmin(rows.min(axis=0)))
        if swell:
            kind, sev, v, lim = "voltage_swell", "warning", high, SWELL_PU
        elif low < INTERRUPTION_PU:
            kind, sev, v, lim = "voltage_interruption", "critical", low, INTERRUPTION_PU
        else:
            kind, sev, v, lim = "voltage_sag", "warning", low, SAG_PU
        details = {
            "phase": PHASES[col][2:4].upper(), "pu": round(v, 3),
            "duration_s": round(duration.total_seconds(), 1),
            "duration_class": "momentary" if duration <= MOMENTARY else "temporary",
        }  # fmt: skip
        yield _episode(
            inp, meter_id, kind, sev, (start, end), phase=PHASES[col], measured=v * nominal,
            limit=lim * nominal, badness=abs(v - 1), details=details,
        )  # fmt: skip


def _lost_phases(rows: np.ndarray, limits: Limits, poll: timedelta) -> list[str]:
    """Phases below the phase-loss fraction for ``phase_loss_min`` while another lives."""
    low = np.nan_to_num(rows < limits.phase_loss_fraction)
    alive = np.nan_to_num(rows > limits.alive_fraction)
    lost = []
    for k, phase in enumerate(PHASES):
        others = np.delete(alive, k, axis=1).any(axis=1)
        if (low[:, k] & others).sum() * poll >= limits.phase_loss_min:
            lost.append(phase)
    return lost


def _long_phase_loss(
    inp: RuleInput, limits: Limits, meter_id: int, run: pd.DataFrame, ongoing: bool
) -> Iterator[Episode]:
    """Phase loss in a run too long to read second by second: on the minutes' extremes."""
    nominal = inp.meters[meter_id].nominal_ln
    lows = run[[f"{p}_min" if f"{p}_min" in run else f"{p}_avg" for p in PHASES]]
    lows = lows.to_numpy(dtype=float) / nominal
    avgs = run[[f"{p}_avg" for p in PHASES]].to_numpy(dtype=float) / nominal
    lost_cells = np.nan_to_num(lows < limits.phase_loss_fraction)
    alive = np.nan_to_num(avgs > limits.alive_fraction)
    minute_lost = np.zeros(len(run), dtype=bool)
    for k in range(3):
        minute_lost |= lost_cells[:, k] & np.delete(alive, k, axis=1).any(axis=1)
    if not minute_lost.any():
        return
    times = [as_datetime(t) for t in run["bucket"]]
    idx = np.flatnonzero(minute_lost)
    for a, b in group_runs([times[k] for k in idx], MINUTE, limits.gaps["phase_loss"]):
        cells = lows[idx[a] : idx[b] + 1]
        k = int(np.nanargmin(cells.min(axis=0)))
        lost = [
            PHASES[c][2:4].upper() for c in range(3) if lost_cells[idx[a] : idx[b] + 1, c].any()
        ]
        v = float(np.nanmin(cells[:, k])) * nominal
        ep = _episode(
            inp, meter_id, "phase_loss", "critical", (times[idx[a]], times[idx[b]] + MINUTE),
            phase=PHASES[k], measured=v, limit=limits.phase_loss_fraction * nominal,
            badness=nominal - v, details={"phases": lost},
        )  # fmt: skip
        yield replace(ep, ongoing=ongoing and b == len(idx) - 1)


def voltage_events(inp: RuleInput, limits: Limits) -> tuple[list[Episode], pd.Series]:
    """Phase losses and VTCD of every meter, and the mask of the minutes they cover."""
    m = inp.minute
    mask = pd.Series(False, index=m.index)
    out: list[Episode] = []
    raw = inp.raw
    for meter_id, run, ongoing in _runs(inp):
        start = as_datetime(run["bucket"].iloc[0])
        end = as_datetime(run["bucket"].iloc[-1]) + MINUTE
        found: list[Episode] = []
        spans: list[tuple[datetime, datetime]] = []
        if end - start > RAW_RUN_MAX:
            found = list(_long_phase_loss(inp, limits, meter_id, run, ongoing))
        else:
            sub = (
                raw[(raw["meter_id"] == meter_id) & (raw["time"] >= start) & (raw["time"] < end)]
                if not raw.empty
                else raw
            )
            poll = None
            if sub.empty:  # no raw readings: each minute's extremes stand for it
                sub, poll = _minutes_as_raw(run, inp.meters[meter_id].nominal_ln), MINUTE
            for item in _variations(inp, limits, meter_id, sub, poll):
                if isinstance(item, Episode):
                    found.append(item)
                else:
                    spans.append(item)  # still open: its minutes wait with it
        spans += [(ep.start, ep.end) for ep in found]
        for lo, hi in spans:
            covered = (m["meter_id"] == meter_id) & (m["bucket"] >= pd.Timestamp(lo).floor("1min"))
            mask |= covered & (m["bucket"] < pd.Timestamp(hi))
        out += found
    return out, mask


def _minutes_as_raw(run: pd.DataFrame, nominal: float) -> pd.DataFrame:
    """Each minute as one reading at each phase's extreme (no raw readings loaded)."""
    values = {}
    for p in PHASES:
        lo, hi = _col(run, p, "min").to_numpy(), _col(run, p, "max").to_numpy()
        values[p] = np.where(nominal - lo >= hi - nominal, lo, hi)
    return pd.DataFrame({"time": run["bucket"].to_numpy(), **values})
