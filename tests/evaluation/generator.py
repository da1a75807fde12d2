"""A labelled data set for the detector, with its own noise model.

Independent of ``gateway/simulator``: a 127/220 V plant with two meters on one bus,
``m1`` (production: a shift load with machines switching on and off, motor starts) and
``m2`` (a cycling compressor and auxiliaries), polled every second:

* load steps (a mean-reverting level changing a few times an hour during the shift),
  a shift 06-22 h on weekdays, light load at night and on weekends;
* a capacitor bank switching between stages (PF 0.935/0.955/0.975) with slow wander;
* motor starts (m1, ~4 an hour in the shift) and compressor starts dipping the bus
  voltage of both meters to 93-98 % for 1-5 s, with the inrush current;
* bus voltage with a daily shape, load-dependent drop, slow wander, phase offsets and
  1-s noise; grid frequency wandering slowly within +-0.06 Hz;
* dropped polls (0.3 % single, a few 2-4 s bursts), every value rounded to float32 as
  the meters' registers are, energy counters near 4.2 M and 0.8 M kWh (float32 steps
  of 0.25 and 0.0625 kWh).

Timeline (:class:`EvalConfig`): ``history_days`` of clean history, ``event_days`` with
the :mod:`tests.evaluation.kinds` catalogue injected, then ``clean_days``.

Interface::

    data = build(dsn, EvalConfig())   # writes site, meters, readings; refreshes rollups
    data.labels                        # what the detector should report
    data.periods                       # {"history"|"events"|"clean": (start, end)}

The database is one built by the test harness (migrated; ``db`` fixture).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import numpy as np
import psycopg

from analytics.worker import rollups
from tests.evaluation import inject
from tests.evaluation.inject import MeterState
from tests.evaluation.kinds import CATALOGUE, Label, Scenario
from tests.evaluation.pgcopy import copy_rows

TZ = ZoneInfo("America/Sao_Paulo")
DAY = 86400


@dataclass(frozen=True)
class EvalConfig:
    # a Thursday (Saturday is event day 3) after a fortnight without national holidays:
    # the generator's plant works every weekday, holidays included, and the model rightly
    # treats a holiday as a Sunday; 14 days give each day group the 3 days it needs
    first_event_day: date = date(2026, 3, 12)
    history_days: int = 14
    event_days: int = 3
    clean_days: int = 2
    poll_s: float = 1.0
    history_poll_s: float = 5.0  # the history may be polled coarser (the model reads minutes)
    catalogue: tuple[Scenario, ...] = CATALOGUE
    seed: int = 18
    site: str = "eval"
    meters: tuple[str, ...] = ("m1", "m2")
    contracted_kw: float = 120.0


@dataclass
class Dataset:
    config: EvalConfig
    site: str
    meter_ids: dict[str, int]
    labels: list[Label]
    periods: dict[str, tuple[datetime, datetime]]
    rows: int = 0
    placed: list[tuple[Scenario, datetime]] = field(default_factory=list)


def local(day: date, hour: float) -> datetime:
    start = datetime(day.year, day.month, day.day, tzinfo=TZ)
    return (start + timedelta(hours=hour)).astimezone(UTC)


# where the long scenarios go: (event day index, local hour)
SPECIAL = {
    "counter_scale": (0, 15.0), "demand_peak": (0, 18.5), "pf_drift": (1, 6.0),
    "stuck 30 min": (1, 10.0), "v_drift": (1, 15.0), "i_unbalance": (1, 19.0),
    "silent": (1, 20.5), "counter_reset": (1, 21.5), "night_load": (2, 2.0),
}  # fmt: skip


def schedule(config: EvalConfig) -> list[tuple[Scenario, datetime]]:
    """When each scenario is injected: the long ones at fixed places, the short ones one
    after the other from 06:30 of the first event day, 25 minutes apart."""
    out = []
    slot = local(config.first_event_day, 6.5)
    for sc in config.catalogue:
        where = SPECIAL.get(sc.name) or SPECIAL.get(sc.what)
        if where is None:
            out.append((sc, slot))
            slot += timedelta(minutes=25)
        elif where[0] < config.event_days:
            out.append((sc, local(config.first_event_day + timedelta(days=where[0]), where[1])))
    return out


def labels_of(placed: list[tuple[Scenario, datetime]]) -> list[Label]:
    out = []
    for sc, at in placed:
        for meter in (None,) if sc.site_level else sc.meters:
            start = at + sc.onset
            out.append(
                Label(sc.name, meter, sc.kind, sc.severity, start, at + sc.duration,
                      sc.tolerance, sc.also, at)
            )  # fmt: skip
    return out


def _ar(rng: np.random.Generator, n: int, tau_s: float, sigma: float, poll: float) -> np.ndarray:
    """A slow wander: AR(1) with time constant ``tau_s`` and stationary spread ``sigma``."""
    from scipy.signal import lfilter  # a dependency of scikit-learn, already installed

    a = math.exp(-poll / tau_s)
    noise = rng.standard_normal(n) * sigma * math.sqrt(1 - a * a)
    out: np.ndarray = lfilter([1.0], [1.0, -a], noise)
    return out


def _plant_day(
    config: EvalConfig, day: date, poll: float, rng: np.random.Generator,
    states: dict[str, MeterState],
) -> dict[str, dict[str, np.ndarray]]:  # fmt: skip
    """The physical quantities of both meters for one local day, before injections."""
    t0 = local(day, 0).timestamp()
    n = round(24 * 3600 / poll)
    t = t0 + np.arange(n) * poll
    hour = (t - t0) / 3600
    weekday = day.weekday() < 5
    shift = np.clip((hour - 5.75) * 2, 0, 1) * np.clip((22.25 - hour) * 2, 0, 1) if weekday else 0
    shift = np.asarray(shift, dtype=float) * np.ones(n)
    # m1: shift load with machines switching (a level changing ~3 times an hour)
    s1 = states["m1"]
    steps = np.flatnonzero(rng.random(n) < poll / 1200)
    start_level = s1.level
    values = []
    for _ in steps:
        s1.level = 0.6 * s1.level + rng.normal(0, 7)
        values.append(s1.level)
    segment = np.searchsorted(steps, np.arange(n), side="right") - 1
    table = np.asarray([*values, 0.0])
    levels = np.where(segment >= 0, table[np.maximum(segment, 0)], start_level)
    p1 = (9.0 if not weekday else 8.0) + shift * (42.0 + levels)
    p1 = np.clip(p1, 3.0, None)
    # motor starts on m1 and compressor cycles on m2 (each start dips the bus to a
    # fraction of nominal)
    dips = np.full(n, np.inf)
    inrush1 = np.ones(n)
    for k in np.flatnonzero(rng.random(n) < shift * poll * 4 / 3600):
        width = max(1, int(rng.uniform(1, 5) / poll))
        dips[k : k + width] = np.minimum(dips[k : k + width], rng.uniform(0.93, 0.97))
        inrush1[k : k + width] = 1.6
    comp = np.zeros(n)
    s2 = states["m2"]
    k = 0
    while k < n:
        now = t[k]
        if now >= s2.compressor_next:
            on = rng.uniform(6, 9) * 60 if shift[k] > 0.5 else rng.uniform(3, 5) * 60
            off = rng.uniform(4, 8) * 60 if shift[k] > 0.5 else rng.uniform(15, 25) * 60
            s2.compressor_on_until, s2.compressor_next = now + on, now + on + off
            width = max(1, int(rng.uniform(1, 2) / poll))
            dips[k : k + width] = np.minimum(dips[k : k + width], rng.uniform(0.95, 0.98))
        stop = min(n, k + max(1, int((min(s2.compressor_next, t0 + DAY) - now) / poll)))
        on_idx = t[k:stop] < s2.compressor_on_until
        comp[k:stop] = on_idx
        k = stop
    p2 = 3.0 + 18.0 * comp * (1 + 0.02 * _ar(rng, n, 120, 1.0, poll))
    site_kw = p1 + p2
    bus = (
        1.0 + 0.012 * np.sin(2 * np.pi * (hour - 9) / 24) - 0.012 * site_kw / 100
        + _ar(rng, n, 300, 0.003, poll)
    )  # fmt: skip
    freq = 60.0 + np.clip(_ar(rng, n, 30, 0.015, poll), -0.06, 0.06)
    freq += 0.002 * rng.standard_normal(n)
    # capacitor bank stages switched now and then, slow wander on top
    bank = np.full(n, s1.bank)
    for k in np.flatnonzero(rng.random(n) < poll / 4800):
        bank[k:] = rng.choice([0.935, 0.955, 0.975])
    s1.bank = float(bank[-1])
    out = {}
    offsets = {"m1": (0.002, -0.001, -0.001), "m2": (0.0, 0.002, -0.002)}
    for name, p, pf, drop in (
        ("m1", p1 * (1 + 0.003 * rng.standard_normal(n)), bank + _ar(rng, n, 900, 0.004, poll), 0.003),
        ("m2", p2 * (1 + 0.003 * rng.standard_normal(n)), 0.95 + _ar(rng, n, 900, 0.005, poll), 0.002),
    ):  # fmt: skip
        v = {}
        for ph, off in zip(("v1", "v2", "v3"), offsets[name], strict=True):
            v[ph] = np.minimum(
                bus - drop * p / 50 + off + 0.0008 * rng.standard_normal(n),
                dips * (1 + 0.002 * rng.standard_normal(n)),
            )
        inrush = inrush1 if name == "m1" else np.where(np.diff(comp, prepend=0) > 0, 2.0, 1.0)
        out[name] = {
            "t": t, "p": p * inrush, "pf": np.clip(pf, 0.9, 0.995), **v, "freq": freq.copy(),
            "share1": np.full(n, 1.01), "share2": np.full(n, 0.995), "share3": np.full(n, 0.995),
        }  # fmt: skip
    return out


def _ffill(a: np.ndarray) -> np.ndarray:
    idx = np.where(~np.isnan(a), np.arange(len(a)), 0)
    np.maximum.accumulate(idx, out=idx)
    return a[idx]


def _readings(q: dict[str, np.ndarray], state: MeterState, poll: float) -> dict[str, np.ndarray]:
    """Meter readings (the registers' quantities) from the physical quantities."""
    nominal = 127.0
    v = [q[f"v{k}"] * nominal for k in (1, 2, 3)]
    p = np.where(np.minimum.reduce(v) < 0.1 * nominal, 0.0, q["p"])
    qv = p * np.tan(np.arccos(q["pf"]))
    pf = np.divide(p, np.hypot(p, qv), out=np.ones_like(p), where=p > 0)
    out = {"t": q["t"], "p_total": p, "q_total": qv, "pf_total": pf}
    for k in (1, 2, 3):
        out[f"v_l{k}n"] = v[k - 1]
        alive = v[k - 1] > 0.5 * nominal
        out[f"i_l{k}"] = np.where(alive, p * 1000 / 3 * q[f"share{k}"] / (v[k - 1] * q["pf"]), 0.0)
    for name, (a, b) in {"v_l12": (0, 1), "v_l23": (1, 2), "v_l31": (2, 0)}.items():
        out[name] = np.sqrt(v[a] ** 2 + v[b] ** 2 + v[a] * v[b])
    out["freq"] = q["freq"]
    energy = state.energy + np.cumsum(p) * poll / 3600
    state.energy = float(energy[-1])
    out["e_imp_kwh"] = energy
    return out


def build(dsn: str, config: EvalConfig | None = None) -> Dataset:
    """Write the data set into ``dsn`` (a migrated database) and refresh the rollups."""
    config = config or EvalConfig()
    rng = np.random.default_rng(config.seed)
    with psycopg.connect(dsn) as conn:
        conn.execute(
            "INSERT INTO sites (site_id, name, contracted_demand_kw) VALUES (%s, %s, %s)",
            (config.site, "Evaluation plant", config.contracted_kw),
        )
        ids = {}
        for name in config.meters:
            row = conn.execute(
                "INSERT INTO meters (site_id, name, nominal_voltage_ln, nominal_voltage_ll)"
                " VALUES (%s, %s, 127, 220) RETURNING meter_id",
                (config.site, name),
            ).fetchone()
            assert row is not None
            ids[name] = int(row[0])
    first = config.first_event_day - timedelta(days=config.history_days)
    days = config.history_days + config.event_days + config.clean_days
    placed = schedule(config)
    states = {"m1": MeterState(4_235_000.0), "m2": MeterState(812_345.0)}
    rows = 0
    for d in range(days):
        day = first + timedelta(days=d)
        poll = config.history_poll_s if d < config.history_days else config.poll_s
        physical = _plant_day(config, day, poll, rng, states)
        for name, q in physical.items():
            inject.physical(q, name, placed, poll)
            r = _readings(q, states[name], poll)
            keep = inject.data(r, name, placed, states[name], rng, poll)
            rows += copy_rows(dsn, ids[name], r, keep)
    start, end = local(first, 0), local(first + timedelta(days=days), 0)
    rollups.refresh(dsn, start, end)
    events_start = local(config.first_event_day, 0)
    events_end = events_start + timedelta(days=config.event_days)
    periods = {
        "history": (start, events_start),
        "events": (events_start, events_end),
        "clean": (events_end, end),
    }
    return Dataset(config, config.site, ids, labels_of(placed), periods, rows, placed)
