"""What the evaluation injects and what it expects the detector to say.

A :class:`Scenario` is one kind of injected event at one duration and depth (the
generator's vocabulary); a :class:`Label` is one injected instance with the event the
detector should report: its ``kind`` and ``severity`` (the product's vocabulary, see
docs/detection.md), on which meter (None: the site total), and when it starts. The
expectations follow the product's documented semantics, not what the detector happens
to output: e.g. a 20 s phase loss is ``phase_loss``/critical, a sag to 80 % for 10 s is a
``voltage_sag``/warning, a counter read x1000 is ``counter_scale``/critical.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

MINUTE = timedelta(minutes=1)


@dataclass(frozen=True)
class Scenario:
    """One injected disturbance: ``what`` names the generator's injection, ``params`` its
    depth; ``kind``/``severity`` what the detector should report; ``tolerance`` how far
    the reported start may be from the label's (a minute, more for slow drifts judged
    on 10-minute or hourly figures)."""

    name: str
    what: str
    duration: timedelta
    kind: str
    severity: str
    params: dict[str, float] = field(default_factory=dict)
    meters: tuple[str, ...] = ("m1",)
    site_level: bool = False
    tolerance: timedelta = MINUTE
    # when the detector should see it start, after the injection begins (slow drifts)
    onset: timedelta = timedelta(0)
    # other kinds that rightly accompany it (neither needed nor false)
    also: tuple[str, ...] = ()


@dataclass(frozen=True)
class Label:
    scenario: str
    meter: str | None
    kind: str
    severity: str
    start: datetime
    end: datetime
    tolerance: timedelta
    also: tuple[str, ...] = ()
    injected_at: datetime | None = None  # when the disturbance begins (before ``start``)


def s(seconds: float) -> timedelta:
    return timedelta(seconds=seconds)


# Every kind the issue lists, at several durations and depths.
CATALOGUE: tuple[Scenario, ...] = (
    # frequency is the grid's: both meters see it
    Scenario("freq 59.4 Hz 30 s", "frequency", s(30), "frequency", "critical",
             {"hz": 59.4}, ("m1", "m2")),
    Scenario("freq 60.6 Hz 10 s", "frequency", s(10), "frequency", "critical",
             {"hz": 60.6}, ("m1", "m2")),
    Scenario("freq 59.75 Hz 2 min", "frequency", s(120), "frequency", "warning",
             {"hz": 59.75}, ("m1", "m2")),
    Scenario("freq 60.15 Hz 8 s", "frequency", s(8), "frequency", "warning",
             {"hz": 60.15}, ("m1", "m2")),
    Scenario("sag 80% L2 3 s", "sag", s(3), "voltage_sag", "warning", {"pu": 0.8, "phases": 2}),
    Scenario("sag 80% L2 10 s", "sag", s(10), "voltage_sag", "warning", {"pu": 0.8, "phases": 2}),
    Scenario("sag 80% L2 60 s", "sag", s(60), "voltage_sag", "warning", {"pu": 0.8, "phases": 2}),
    Scenario("sag 55% 3 phases 2 s", "sag", s(2), "voltage_sag", "warning",
             {"pu": 0.55, "phases": 123}, ("m1", "m2")),
    Scenario("sag 70% L1 2 min", "sag", s(120), "voltage_sag", "warning", {"pu": 0.7, "phases": 1}),
    Scenario("swell 115% L3 5 s", "swell", s(5), "voltage_swell", "warning",
             {"pu": 1.15, "phases": 3}),
    Scenario("swell 120% 3 phases 40 s", "swell", s(40), "voltage_swell", "warning",
             {"pu": 1.2, "phases": 123}, ("m1", "m2")),
    Scenario("interruption 2 s", "interruption", s(2), "voltage_interruption", "critical",
             {}, ("m1", "m2")),
    Scenario("interruption 25 s", "interruption", s(25), "voltage_interruption", "critical",
             {}, ("m1", "m2")),
    Scenario("phase loss L3 20 s", "phase_loss", s(20), "phase_loss", "critical", {"phase": 3}),
    Scenario("phase loss L1 6 min", "phase_loss", s(360), "phase_loss", "critical", {"phase": 1}),
    Scenario("stuck 30 min", "stuck", s(1800), "meter_stuck", "warning", {}, ("m2",)),
    Scenario("stuck 8 min", "stuck", s(480), "meter_stuck", "warning"),
    Scenario("counter x1000 2 h", "counter_scale", s(7200), "counter_scale", "critical",
             {"factor": 1000}, also=("demand_implausible",)),
    Scenario("counter reset", "counter_reset", s(1), "counter_reset", "warning", {}, ("m2",)),
    Scenario("PF 0.95->0.85 over a shift", "pf_drift", s(8 * 3600), "power_factor", "warning",
             {"to": 0.85}, tolerance=timedelta(hours=1), onset=timedelta(hours=2, minutes=24)),
    Scenario("current unbalance 25%", "i_unbalance", s(2400), "current_unbalance", "critical",
             {"u": 0.25}, tolerance=timedelta(minutes=10)),
    Scenario("drift to 91% over 2 h", "v_drift", s(3 * 3600), "voltage_band", "warning",
             {"pu": 0.91}, ("m1", "m2"), tolerance=timedelta(minutes=20),
             onset=timedelta(minutes=100), also=("voltage_sag",)),
    Scenario("silent 10 min", "silent", s(600), "meter_silent", "warning", {}, ("m2",),
             also=("counter_lost_data",)),
    Scenario("demand peak +90 kW 45 min", "demand_peak", s(2700), "demand_exceeded", "critical",
             {"kw": 90.0}, site_level=True, tolerance=timedelta(minutes=15)),
    Scenario("weekend night load x3", "night_load", s(2 * 3600), "model_outlier", "warning",
             {"factor": 3.0}, tolerance=timedelta(minutes=5)),
)  # fmt: skip

# The kinds a counter error must never produce (a 239,006,776 kW "demand").
FORBIDDEN_DURING: dict[str, tuple[str, ...]] = {"counter_scale": ("demand_exceeded",)}
