"""The catalogue's disturbances applied to one meter-day of generated quantities.

``physical``: what the grid or the load does (frequency, voltage variations, phase loss,
power factor and voltage drifts, current unbalance, demand and night-load peaks);
``data``: what the meter or the data path does (stuck registers, counter scale errors
and resets, silence, dropped polls, float32 registers).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import numpy as np

from tests.evaluation.kinds import Scenario

Placed = list[tuple[Scenario, datetime]]


@dataclass
class MeterState:
    """What carries from one generated day to the next."""

    energy: float
    level: float = 0.0
    bank: float = 0.955
    compressor_on_until: float = 0.0
    compressor_next: float = 0.0
    reset_offset: float = 0.0


def _windows(
    t: np.ndarray, name: str, placed: Placed, whats: tuple[str, ...]
) -> list[tuple[Scenario, np.ndarray, float]]:
    """(scenario, mask of the samples inside it, its start) for this meter and day."""
    out = []
    for sc, at in placed:
        on_meter = name in sc.meters or (sc.site_level and name == "m1")
        if sc.what not in whats or not on_meter:
            continue
        start = at.timestamp()
        inside = (t >= start) & (t < start + sc.duration.total_seconds())
        if inside.any():
            out.append((sc, inside, start))
    return out


def _phases(sc: Scenario) -> list[str]:
    return [f"v{d}" for d in str(int(sc.params.get("phases", 123)))]


def physical(q: dict[str, np.ndarray], name: str, placed: Placed, poll: float) -> None:
    t = q["t"]
    rng = np.random.default_rng(int(t[0]))
    whats = ("frequency", "sag", "swell", "interruption", "phase_loss", "pf_drift",
             "i_unbalance", "v_drift", "demand_peak", "night_load")  # fmt: skip
    for sc, w, start in _windows(t, name, placed, whats):
        n = int(w.sum())
        p = sc.params
        if sc.what == "frequency":
            q["freq"][w] = p["hz"] + 0.002 * rng.standard_normal(n)
        elif sc.what in ("sag", "swell"):
            for ph in _phases(sc):
                q[ph][w] = p["pu"] * (1 + 0.002 * rng.standard_normal(n))
        elif sc.what == "interruption":
            for ph in ("v1", "v2", "v3"):
                q[ph][w] = 0.02 * (1 + 0.1 * rng.random(n))
        elif sc.what == "phase_loss":
            q[f"v{int(p['phase'])}"][w] = 1.5 / 127
        elif sc.what == "pf_drift":
            frac = (t[w] - start) / sc.duration.total_seconds()
            q["pf"][w] = 0.95 + (p["to"] - 0.95) * frac
        elif sc.what == "i_unbalance":
            q["share1"][w], q["share2"][w], q["share3"][w] = (
                1 + p["u"],
                1 - p["u"] / 2,
                1 - p["u"] / 2,
            )
        elif sc.what == "v_drift":
            frac = np.clip((t[w] - start) / 7200, 0, 1)
            for ph in ("v1", "v2", "v3"):  # from where the phase was to pu of nominal
                base = float(np.median(q[ph][w][: int(600 / poll)]))
                q[ph][w] *= 1 - (1 - p["pu"] / base) * frac
        elif sc.what == "demand_peak":
            q["p"][w] += p["kw"]
        elif sc.what == "night_load":
            q["p"][w] *= p["factor"]


def data(
    r: dict[str, np.ndarray], name: str, placed: Placed, state: MeterState, rng: np.random.Generator,
    poll: float,
) -> np.ndarray:  # fmt: skip
    """Apply the data faults in place; returns the mask of the polls that arrive."""
    t = r["t"]
    n = len(t)
    keep = rng.random(n) >= 0.003  # dropped polls
    for k in rng.integers(0, n, 3):
        keep[k : k + int(rng.integers(2, 5) / poll) + 1] = False
    energy = r["e_imp_kwh"]
    energy -= state.reset_offset
    whats = ("stuck", "counter_scale", "counter_reset", "silent")
    for sc, w, _ in _windows(t, name, placed, whats):
        if sc.what == "stuck":
            first = int(np.flatnonzero(w)[0])
            for key, values in r.items():
                if key != "t":
                    values[w] = values[first]
        elif sc.what == "counter_scale":
            energy[w] *= sc.params["factor"]
        elif sc.what == "counter_reset":
            k = int(np.flatnonzero(w)[0])
            offset = float(energy[k]) - 0.1
            energy[k:] -= offset
            state.reset_offset += offset
        elif sc.what == "silent":
            keep[w] = False
    for key, values in r.items():
        if key != "t":  # the meters' registers are float32
            r[key] = values.astype(np.float32).astype(np.float64)
    return keep
