"""A seeded, repeatable model of a three-phase industrial plant, as its meter would see it.

``plant_values(t, seed)`` gives every canonical quantity at the instant ``t`` (Unix
seconds): it is a pure function of (t, seed, profile, events), so the simulator server,
tests and history generators agree to the last bit. Pure module (no network).

Model (local time = UTC-3, America/Sao_Paulo has no DST since 2019):

* load fraction: two production shifts 06:00-22:00 on weekdays with a lunch dip
  11:30-12:30 and a shift change dip at 14:00, a night base, Saturday morning shift,
  Sunday base; 15-minute linear ramps; plus smooth seeded noise (+-3 %).
* active power = base + production x load; PF rises with load (0.80 light -> 0.95 full),
  inductive (Q > 0); a fixed, seeded imbalance splits it over the phases.
* voltages 127/220 V with a drop under load, slow wander and noise; frequency ~60 Hz.
* energy counters integrate the noise-free power exactly (piecewise-linear profile,
  trapezoids on a minute grid), including events; meter demand is the average power
  of the last completed 15-minute interval (from the counter), as the meter computes it.
* events (``Event``): voltage sag / swell, PF drop, demand peak above the contract, phase
  loss, meter silent (the server stops answering; values are unaffected).
"""

from __future__ import annotations

import bisect
import hashlib
import math
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Final

LOCAL_OFFSET: Final = -3 * 3600  # UTC-3
EPOCH: Final = 1704078000.0  # 2024-01-01 00:00 local (a Monday), energy counters start here
WEEK: Final = 7 * 86400
EVENT_KINDS: Final = ("sag", "swell", "pf_drop", "demand_peak", "phase_loss", "silent")


@dataclass(frozen=True)
class Event:
    """``kind`` active from ``start`` (Unix seconds) for ``duration`` seconds."""

    kind: str
    start: float
    duration: float

    def __post_init__(self) -> None:
        if self.kind not in EVENT_KINDS:
            raise ValueError(f"event {self.kind!r} unknown ({', '.join(EVENT_KINDS)})")
        if self.duration <= 0:
            raise ValueError("event duration must be > 0")

    @property
    def end(self) -> float:
        return self.start + self.duration

    def active(self, t: float) -> bool:
        return self.start <= t < self.end


@dataclass(frozen=True)
class PlantProfile:
    base_kw: float = 45.0  # always-on load (lighting, compressors, HVAC)
    production_kw: float = 230.0  # the production lines at full shift
    contract_kw: float = 300.0  # contracted demand (demand_peak goes 30 % above)
    v_ln: float = 127.0
    e0_kwh: float = 150_000.0  # import counter at EPOCH
    e0_kvarh: float = 60_000.0
    e_exp_kwh: float = 12.5  # the plant barely exports
    e_exp_kvarh: float = 3_400.0
    e0_b_kwh: float = 40_000.0  # the second energy channel (e_b_kwh) at EPOCH
    b_share: float = 0.3  # of the plant's energy that channel B counts


def _unit(seed: int, *key: object) -> float:
    """A deterministic uniform number in [0, 1) for (seed, key)."""
    h = hashlib.blake2b(repr((seed, *key)).encode(), digest_size=8).digest()
    return int.from_bytes(h, "big") / 2**64


def _smooth_noise(seed: int, name: str, t: float, period: float) -> float:
    """Smooth noise in [-1, 1]: cosine interpolation of seeded knots every ``period`` s."""
    k = math.floor(t / period)
    f = t / period - k
    a = _unit(seed, name, k) * 2 - 1
    b = _unit(seed, name, k + 1) * 2 - 1
    w = (1 - math.cos(math.pi * f)) / 2
    return a + (b - a) * w


# Load fraction knots (hour of day, fraction), linear in between.
_WEEKDAY: Final = (
    (0.0, 0.1), (5.75, 0.1), (6.0, 0.9), (11.5, 0.95), (11.75, 0.55), (12.5, 0.55),
    (12.75, 0.95), (13.85, 0.95), (14.0, 0.7), (14.25, 0.95), (17.75, 0.9), (18.0, 0.8),
    (21.75, 0.8), (22.0, 0.1), (24.0, 0.1),
)  # fmt: skip
_SATURDAY: Final = ((0.0, 0.1), (5.75, 0.1), (6.0, 0.5), (12.0, 0.5), (12.25, 0.1), (24.0, 0.1))
_SUNDAY: Final = ((0.0, 0.1), (24.0, 0.1))
# Every day starts and ends at the night value, so the profile is continuous and the
# energy integral on the minute grid is exact.


def _interp(knots: tuple[tuple[float, float], ...], hour: float) -> float:
    hours = [k[0] for k in knots]
    i = max(1, min(len(knots) - 1, bisect.bisect_right(hours, hour)))
    (h0, v0), (h1, v1) = knots[i - 1], knots[i]
    return v0 + (v1 - v0) * (hour - h0) / (h1 - h0)


def load_fraction(t: float) -> float:
    """The noise-free production load (0..1) at ``t`` from shifts, lunch and weekends."""
    local = t + LOCAL_OFFSET
    day = math.floor(local / 86400)
    hour = (local - day * 86400) / 3600
    dow = (day + 3) % 7  # 1970-01-01 was a Thursday; 0 = Monday
    knots = _WEEKDAY if dow < 5 else _SATURDAY if dow == 5 else _SUNDAY
    return _interp(knots, hour)


@lru_cache(maxsize=256)  # one table per simulated meter size: 8 thrashed with 25 units per server
def _week_table(profile: PlantProfile) -> tuple[list[float], float]:
    """Cumulative noise-free kWh at each minute of the week starting at EPOCH."""
    cum = [0.0]
    prev = profile.base_kw + profile.production_kw * load_fraction(EPOCH)
    for m in range(1, WEEK // 60 + 1):
        cur = profile.base_kw + profile.production_kw * load_fraction(EPOCH + 60 * m)
        cum.append(cum[-1] + (prev + cur) / 2 / 60)  # kW x h
        prev = cur
    return cum, cum[-1]


def _base_energy(profile: PlantProfile, t: float) -> float:
    """kWh of the noise-free base profile from EPOCH to ``t`` (exact for the knots)."""
    cum, week_kwh = _week_table(profile)
    weeks = math.floor((t - EPOCH) / WEEK)
    s = t - EPOCH - weeks * WEEK
    m = int(s // 60)
    p0 = profile.base_kw + profile.production_kw * load_fraction(EPOCH + 60 * m)
    p1 = profile.base_kw + profile.production_kw * load_fraction(EPOCH + s)
    return weeks * week_kwh + cum[m] + (p0 + p1) / 2 * (s - 60 * m) / 3600


@dataclass(frozen=True)
class PlantModel:
    seed: int = 0
    profile: PlantProfile = PlantProfile()
    events: tuple[Event, ...] = field(default=())

    # --- sizing that depends on the seed -----------------------------------------------
    @property
    def _size(self) -> float:
        return 0.85 + 0.3 * _unit(self.seed, "size")

    @property
    def scaled(self) -> PlantProfile:
        s = self._size
        p = self.profile
        return PlantProfile(
            p.base_kw * s, p.production_kw * s, p.contract_kw, p.v_ln,
            p.e0_kwh, p.e0_kvarh, p.e_exp_kwh, p.e_exp_kvarh, p.e0_b_kwh, p.b_share,
        )  # fmt: skip

    def _imbalance(self) -> tuple[float, float, float]:
        raw = [1 + 0.06 * (_unit(self.seed, "imb", k) - 0.5) for k in range(3)]
        total = sum(raw)
        return (raw[0] * 3 / total, raw[1] * 3 / total, raw[2] * 3 / total)

    def active(self, kind: str, t: float) -> bool:
        return any(e.kind == kind and e.active(t) for e in self.events)

    # --- power and energy --------------------------------------------------------------
    def _peak_extra(self) -> float:
        prof = self.scaled
        return max(0.0, 1.3 * prof.contract_kw - prof.base_kw - prof.production_kw)

    def power_kw(self, t: float, *, noise: bool = True) -> float:
        """Total active power; the energy counter integrates the noise-free value."""
        prof = self.scaled
        load = load_fraction(t)
        if noise:
            load *= 1 + 0.03 * _smooth_noise(self.seed, "load", t, 20.0)
        p = prof.base_kw + prof.production_kw * load
        if self.active("demand_peak", t):
            p += self._peak_extra()
        if self.active("phase_loss", t):
            p *= 2 / 3
        return p

    def energy_kwh(self, t: float) -> float:
        """Imported active energy: e0 + exact integral of the noise-free power."""
        prof = self.scaled
        e = prof.e0_kwh + _base_energy(prof, t)
        for ev in self.events:
            a, b = ev.start, min(ev.end, t)
            if b <= a:
                continue
            if ev.kind == "demand_peak":
                e += self._peak_extra() * (b - a) / 3600
            elif ev.kind == "phase_loss":
                e -= (_base_energy(prof, b) - _base_energy(prof, a)) / 3
        return e

    def pf(self, t: float) -> float:
        load = load_fraction(t)
        pf = 0.80 + 0.15 * load + 0.01 * _smooth_noise(self.seed, "pf", t, 30.0)
        if self.active("pf_drop", t):
            pf = 0.72 + 0.01 * _smooth_noise(self.seed, "pf", t, 30.0)
        return min(pf, 0.999)

    # --- everything the meter shows ----------------------------------------------------
    def voltages(self, t: float) -> list[float]:
        """Line-neutral voltages: drop under load, slow wander, noise, sag/swell, lost phase."""
        prof = self.scaled
        load = load_fraction(t)
        factor = 0.80 if self.active("sag", t) else 1.12 if self.active("swell", t) else 1.0
        out = []
        for k in range(3):
            v = prof.v_ln * (1 - 0.025 * load + 0.01 * math.sin(2 * math.pi * t / 5400 + k))
            v = (v + 0.4 * _smooth_noise(self.seed, f"v{k}", t, 5.0)) * factor
            if k == 2 and self.active("phase_loss", t):
                v = 1.5 + 0.5 * _unit(self.seed, "vlost", math.floor(t))
            out.append(v)
        return out

    def _phases(self, t: float, v_ln: list[float], out: dict[str, float]) -> list[float]:
        p_total = self.power_kw(t)
        pf = self.pf(t)
        load = load_fraction(t)
        weights = (1.5, 1.5, 0.0) if self.active("phase_loss", t) else self._imbalance()
        currents = []
        for k in range(3):
            p = p_total * weights[k] / 3
            pf_k = min(0.999, pf + 0.01 * (k - 1) * (1 - load))
            q = p * math.tan(math.acos(pf_k))
            s = math.hypot(p, q)
            i = s * 1000 / v_ln[k] if v_ln[k] > 20 and p > 0 else 0.0
            currents.append(i)
            ph = f"l{k + 1}"
            out[f"p_{ph}"], out[f"q_{ph}"], out[f"s_{ph}"] = p, q, s
            out[f"pf_{ph}"] = p / s if s > 0 else 1.0
            out[f"i_{ph}"] = i
        q_total = p_total * math.tan(math.acos(pf))
        out["p_total"] = p_total
        out["q_total"] = q_total
        out["s_total"] = math.hypot(p_total, q_total)
        out["pf_total"] = pf
        return currents

    def values(self, t: float) -> dict[str, float]:
        """Every canonical quantity at ``t`` (Unix seconds)."""
        prof = self.scaled
        seed = self.seed
        load = load_fraction(t)
        out: dict[str, float] = {}
        v_ln = self.voltages(t)
        for k in range(3):
            out[f"v_l{k + 1}n"] = v_ln[k]
        for name, a, b in (("v_l12", 0, 1), ("v_l23", 1, 2), ("v_l31", 2, 0)):
            out[name] = math.sqrt(v_ln[a] ** 2 + v_ln[b] ** 2 + v_ln[a] * v_ln[b])
        currents = self._phases(t, v_ln, out)
        # neutral current: phasor sum of the three currents 120 degrees apart
        re = currents[0] - 0.5 * (currents[1] + currents[2])
        im = math.sqrt(3) / 2 * (currents[1] - currents[2])
        out["i_n"] = math.hypot(re, im)
        out["freq"] = (
            60.0 + 0.02 * math.sin(2 * math.pi * t / 900) + 0.01 * _smooth_noise(seed, "f", t, 2.0)
        )
        e = self.energy_kwh(t)
        out["e_imp_kwh"] = e
        out["e_exp_kwh"] = prof.e_exp_kwh
        out["e_imp_kvarh"] = prof.e0_kvarh + (e - prof.e0_kwh) * 0.5
        out["e_exp_kvarh"] = prof.e_exp_kvarh
        out["e_b_kwh"] = prof.e0_b_kwh + (e - prof.e0_kwh) * prof.b_share
        interval_end = math.floor(t / 900) * 900
        demand = (self.energy_kwh(interval_end) - self.energy_kwh(interval_end - 900)) * 4
        out["demand_kw"] = demand
        out["demand_kva"] = demand / (0.80 + 0.15 * load_fraction(interval_end - 450))
        for k in range(3):
            out[f"thd_v_l{k + 1}"] = 2.5 + 1.0 * load + 0.3 * _smooth_noise(seed, f"thv{k}", t, 60)
            out[f"thd_i_l{k + 1}"] = 25 - 15 * load + 2 * _smooth_noise(seed, f"thi{k}", t, 60)
        return out


def plant_values(
    t: float,
    seed: int = 0,
    events: tuple[Event, ...] = (),
    profile: PlantProfile | None = None,
) -> dict[str, float]:
    """The model's canonical values at instant ``t`` for ``seed`` (see PlantModel)."""
    return PlantModel(seed, profile or PlantProfile(), events).values(t)
