"""Counter cross-check: a meter's kWh counter against the integral of its kW, per hour.

For each meter and complete hour, the query ``crosscheck`` (``detection/queries.sql``)
gives the counter advance and the trapezoid integral of max(P, 0) over the same
consecutive-reading pairs (so a gap in the data never looks like a divergence), the gaps
apart (pairs longer than 5x the median poll interval of the hour), and the single pair
whose counter step differs most from its power (the "step"). :func:`classify` names what the figures show:

* ``counter_reset`` — the counter fell to (near) zero: reset or register rollover;
* ``counter_scale`` — the counter stepped by a power of ten (x1000, /1000: a register
  read with the wrong scale, Wh as kWh) and ran on at that scale; the step back (the
  fix) ends the same event, it is not a reset. The hours between are one event, not
  factor mismatches;
* ``counter_jump`` — the counter stepped up, or down to another non-zero value, with
  no matching power: a meter swap, a counter preset;
* ``counter_mismatch`` — counter and integrated power disagree over the hour by a
  factor (a CT/VT ratio or a register scale set differently for energy and power,
  phase vs line voltage: x2, x√3, x the CT ratio), or the counter is stuck;
* ``counter_lost_data`` — readings missing for 5+ minutes while the counter advanced:
  the counter still has the energy, the kW readings (and what is built on them) do not.

Severity: see :func:`severity`.

Tolerance: ``max(rel_tol x energy, floor_kwh)`` — 5 % covers class 1 counters and
power (IEC 62053-21: ±1 % each) plus the integration error of the trapezoids (below
0.5 % at 1-60 s polling on the simulated plant); the 0.5 kWh floor covers counter
resolution (0.1 kWh at each end of the hour) in low-load hours where a relative error
means nothing, and it is at least two steps of a coarse counter (the smallest advance
seen in the hour: an F32 register holding millions of kWh moves in 0.25-0.5 kWh steps).
An hour compares only when at least half of it is covered by readings.

Pure module except :func:`load` (one query).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from analytics.db import Conn
from analytics.detection.events import Episode, group_runs
from analytics.detection.rulebase import SiteInfo
from contract import sqlfiles

HOUR = timedelta(hours=1)
STUCK_SLACK = timedelta(minutes=2)  # the catch-up step lands just after a stuck span
KINDS = ("counter_reset", "counter_jump", "counter_mismatch", "counter_lost_data", "counter_scale")
# counter steps by these factors (within 3 %) are scale errors, not resets or jumps
SCALE_FACTORS = ("1000", "1/1000")
# Factors a misconfiguration typically produces, for the message (ratio within 3 %):
# line vs phase voltage (√3), one phase vs three (3), a doubled CT ratio (2), W vs kW or
# Wh vs kWh in a register map (1000).
KNOWN_FACTORS = {
    "√3": math.sqrt(3),
    "2": 2.0,
    "3": 3.0,
    "1000": 1000.0,
    "1/√3": 1 / math.sqrt(3),
    "1/2": 0.5,
    "1/3": 1 / 3,
    "1/1000": 0.001,
}


@dataclass(frozen=True)
class CrossCheckLimits:
    rel_tol: float = 0.05
    floor_kwh: float = 0.5
    min_coverage: float = 0.5
    gap_factor: float = 5.0
    min_gap_s: float = 5.0
    lost_after: timedelta = timedelta(minutes=5)
    reset_fraction: float = 0.01
    reach: timedelta = timedelta(days=7)

    def __post_init__(self) -> None:
        if not 0 < self.rel_tol < 1:
            raise ValueError(f"rel_tol must be in (0, 1), got {self.rel_tol}")
        if self.floor_kwh <= 0 or self.gap_factor <= 1 or self.min_gap_s <= 0:
            raise ValueError("floor_kwh and min_gap_s must be > 0 and gap_factor > 1")
        if not 0 < self.min_coverage <= 1 or not 0 <= self.reset_fraction < 1:
            raise ValueError("min_coverage must be in (0, 1], reset_fraction in [0, 1)")

    def tolerance(self, energy_kwh: float, resolution_kwh: float | None = None) -> float:
        """Allowed |counter - integrated|: relative, floored, and at least two counter
        steps (a coarse counter, e.g. F32 at millions of kWh, is off by one step at
        each end of the hour)."""
        return max(self.rel_tol * abs(energy_kwh), self.floor_kwh, 2 * (resolution_kwh or 0.0))


@dataclass(frozen=True)
class HourFigures:
    """One row of the query ``crosscheck``: a meter's hour (energies in kWh, times UTC)."""

    meter_id: int
    hour: datetime
    pairs: int
    interval_s: float
    covered_s: float
    integrated_kwh: float
    counter_kwh: float
    gap_s: float = 0.0
    gap_counter_kwh: float = 0.0
    gap_estimate_kwh: float = 0.0
    gap_from: datetime | None = None
    gap_to: datetime | None = None
    decreases: int = 0
    resolution_kwh: float | None = None
    step_ok: bool = True
    step_from: datetime | None = None
    step_to: datetime | None = None
    step_kwh: float = 0.0
    step_trap_kwh: float = 0.0
    step_before: float | None = None
    step_after: float | None = None

    @property
    def coverage(self) -> float:
        return self.covered_s / 3600


@dataclass(frozen=True)
class Finding:
    """What one meter-hour shows; ``counter_kwh``/``integrated_kwh`` are compared figures."""

    meter_id: int
    kind: str
    hour: datetime
    start: datetime
    end: datetime
    counter_kwh: float
    integrated_kwh: float
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def badness(self) -> float:
        return abs(self.counter_kwh - self.integrated_kwh)


def ratio(counter_kwh: float, integrated_kwh: float) -> float | None:
    return None if integrated_kwh <= 0 else counter_kwh / integrated_kwh


def known_factor(value: float | None) -> str | None:
    """The name of the typical misconfiguration factor ``value`` is within 3 % of."""
    if value is None or value <= 0:
        return None
    for name, f in KNOWN_FACTORS.items():
        if abs(value / f - 1) <= 0.03:
            return name
    return None


def _utc(t: datetime) -> str:
    """An instant of the details, in UTC whatever the database session's zone."""
    return t.astimezone(UTC).isoformat()


def _local(t: datetime, tz: str) -> str:
    """Wall-clock time of the site (for the messages), to the minute."""
    return t.astimezone(ZoneInfo(tz)).replace(tzinfo=None).isoformat(timespec="minutes")


def _common(h: HourFigures, counter: float, integrated: float, tz: str) -> dict[str, Any]:
    r = ratio(counter, integrated)
    return {
        "cause": "",
        "hour": _utc(h.hour),
        "hour_local": _local(h.hour, tz),
        "counter_kwh": round(counter, 3),
        "integrated_kwh": round(integrated, 3),
        "ratio": None if r is None else round(r, 4),
        "coverage": round(h.coverage, 4),
        "interval_s": round(h.interval_s, 3),
    }


def _step(h: HourFigures, limits: CrossCheckLimits) -> str | None:
    """The kind of the hour's step, if the step is a counter discontinuity."""
    if h.step_from is None or h.step_to is None:
        return None
    if (
        abs(h.step_kwh) > limits.floor_kwh
        and h.step_before
        and h.step_after
        and known_factor(h.step_after / h.step_before) in SCALE_FACTORS
    ):
        return "counter_scale"
    if h.step_kwh < -limits.floor_kwh:
        before, after = h.step_before or 0.0, h.step_after or 0.0
        return "counter_reset" if after <= limits.reset_fraction * before else "counter_jump"
    excess = h.step_kwh - h.step_trap_kwh
    if excess <= limits.tolerance(h.integrated_kwh, h.resolution_kwh):
        return None
    if not h.step_ok:  # over a gap the trapezoid is only an estimate: more than twice it
        return "counter_jump" if excess > h.step_trap_kwh + limits.floor_kwh else None
    # one pair explains most of the hour's divergence: a step, not a factor
    return "counter_jump" if excess >= 0.5 * (h.counter_kwh - h.integrated_kwh) else None


def classify(
    h: HourFigures, limits: CrossCheckLimits | None = None, tz: str = "UTC"
) -> list[Finding]:
    """Findings of one meter-hour (a step first, then a factor, then lost data); ``tz``
    gives the local times quoted in the details."""
    limits = limits or CrossCheckLimits()
    out: list[Finding] = []
    counter, integrated = h.counter_kwh, h.integrated_kwh
    gap_counter = h.gap_counter_kwh
    step = _step(h, limits)
    if step is not None and h.step_from is not None and h.step_to is not None:
        if h.step_ok:
            counter -= h.step_kwh
            integrated -= h.step_trap_kwh
        else:
            gap_counter -= h.step_kwh
        details = _common(h, counter, integrated, tz) | {
            "cause": step.removeprefix("counter_"),
            "step_kwh": round(h.step_kwh, 3),
            "counter_before": h.step_before,
            "counter_after": h.step_after,
            "at": _utc(h.step_to),
            "at_local": _local(h.step_to, tz),
            "during_gap": not h.step_ok,
        }
        if step == "counter_scale" and h.step_before and h.step_after:
            details["factor"] = known_factor(h.step_after / h.step_before)
        # the figures the hour shows, step included (over a gap it is not in counter_kwh)
        shown = h.counter_kwh + (0.0 if h.step_ok else h.step_kwh)
        out.append(
            Finding(h.meter_id, step, h.hour, h.step_from, h.step_to, shown,
                    h.integrated_kwh, details)
        )  # fmt: skip
    if h.coverage >= limits.min_coverage and abs(counter - integrated) > limits.tolerance(
        max(abs(counter), integrated), h.resolution_kwh
    ):
        details = _common(h, counter, integrated, tz) | {"cause": "factor"}
        details["factor"] = known_factor(details["ratio"])
        out.append(
            Finding(h.meter_id, "counter_mismatch", h.hour, h.hour, h.hour + HOUR, counter,
                    integrated, details)
        )  # fmt: skip
    if (
        h.gap_s >= limits.lost_after.total_seconds()
        and gap_counter > limits.floor_kwh
        and h.gap_from is not None
        and h.gap_to is not None
    ):
        details = _common(h, counter, integrated, tz) | {
            "cause": "lost_data",
            "gap_counter_kwh": round(gap_counter, 3),
            "gap_estimate_kwh": round(h.gap_estimate_kwh, 3),
            "gap_minutes": round(h.gap_s / 60, 1),
            "gap_from": _utc(h.gap_from),
            "gap_to": _utc(h.gap_to),
            "gap_from_local": _local(h.gap_from, tz),
            "gap_to_local": _local(h.gap_to, tz),
        }
        out.append(
            Finding(h.meter_id, "counter_lost_data", h.hour, h.gap_from, h.gap_to,
                    gap_counter, 0.0, details)
        )  # fmt: skip
    return out


def episodes(
    site_id: str, hours: Iterable[HourFigures], limits: CrossCheckLimits | None = None,
    tz: str = "UTC",
) -> Iterator[Episode]:  # fmt: skip
    """Episodes of the findings: a factor over consecutive hours is one episode (worst
    hour's figures kept; ongoing when it reaches the last evaluated hour); steps and
    outages are one episode each."""
    limits = limits or CrossCheckLimits()
    rows = sorted(hours, key=lambda h: (h.meter_id, h.hour))
    last_hour = {h.meter_id: h.hour for h in rows}
    findings = [f for h in rows for f in classify(h, limits, tz)]
    findings, scaled = _scale_spans(findings, last_hour)
    for worst, run, ongoing in scaled:
        yield _episode(site_id, worst, run, ongoing=ongoing)
    factor: dict[int, list[Finding]] = {}
    for f in findings:
        if f.kind == "counter_mismatch":
            factor.setdefault(f.meter_id, []).append(f)
        else:
            yield _episode(site_id, f, [f], ongoing=False)
    for meter_id, found in factor.items():
        for i, j in group_runs([f.hour for f in found], HOUR, timedelta(0)):
            run = found[i : j + 1]
            worst = max(run, key=lambda f: f.badness)
            ongoing = run[-1].hour >= last_hour[meter_id]
            yield _episode(site_id, worst, run, ongoing=ongoing)


def _scale_spans(
    findings: list[Finding], last_hour: dict[int, datetime]
) -> tuple[list[Finding], list[tuple[Finding, list[Finding], bool]]]:
    """Pair each scale step with the next one back (the fix): one event from the first to
    the fix, the mismatch hours between absorbed; a step with no fix yet is ongoing.
    Returns the other findings and (worst, run, ongoing) per scale event."""
    absorbed_ids: set[int] = set()
    spans: list[tuple[Finding, list[Finding], bool]] = []
    steps: dict[int, list[Finding]] = {}
    for f in findings:
        if f.kind == "counter_scale":
            steps.setdefault(f.meter_id, []).append(f)
    for meter_id, found in steps.items():
        k = 0
        while k < len(found):
            first, fix = found[k], found[k + 1] if k + 1 < len(found) else None
            end = fix.end if fix is not None else last_hour[meter_id] + HOUR
            absorbed = [
                f for f in findings
                if f.meter_id == meter_id and f.kind == "counter_mismatch"
                and f.end > first.start and f.start < end
            ]  # fmt: skip
            run = [first, *absorbed] + ([fix] if fix is not None else [])
            last = replace(run[-1], end=end)
            spans.append((first, [*run[:-1], last], fix is None))
            absorbed_ids.update(id(f) for f in absorbed)
            k += 2
    rest = [f for f in findings if f.kind != "counter_scale" and id(f) not in absorbed_ids]
    return rest, spans


def severity(f: Finding) -> str:
    """critical when every figure built on the counter (or on kW) is wrong while it lasts:
    a factor beyond ±25 % (x√3, x2, a CT ratio), a stuck counter, a counter running with
    no power, a jump up (counted as consumption and demand); a smaller drift, a reset or a
    jump down (read as a rollover by the energy views) warn; lost data informs."""
    if f.kind == "counter_lost_data":
        return "info"
    if f.kind == "counter_scale":
        return "critical"
    if f.kind == "counter_jump":
        return "critical" if f.details["step_kwh"] > 0 else "warning"
    if f.kind == "counter_mismatch":
        r = f.details["ratio"]
        return "critical" if r is None or not 0.8 <= r <= 1.25 else "warning"
    return "warning"


def _episode(site_id: str, worst: Finding, run: list[Finding], *, ongoing: bool) -> Episode:
    return Episode(
        site_id, worst.meter_id, worst.kind, "rule", severity(worst), run[0].start,
        run[-1].end, ongoing, "e_imp_kwh", round(worst.counter_kwh, 3),
        round(worst.integrated_kwh, 3), worst.badness, {**worst.details, "hours": len(run)},
    )  # fmt: skip


# --- database -------------------------------------------------------------------------


def load(
    conn: Conn, site_id: str, start: datetime, end: datetime,
    limits: CrossCheckLimits | None = None,
) -> list[HourFigures]:  # fmt: skip
    """Figures of every complete hour in [start, end) (``start`` on an hour)."""
    limits = limits or CrossCheckLimits()
    params = {
        "site": site_id, "start": start, "end": end, "reach": limits.reach,
        "gap_factor": limits.gap_factor, "min_gap_s": limits.min_gap_s,
    }  # fmt: skip
    rows = conn.execute(sqlfiles.beside(__file__)["crosscheck"], params).fetchall()
    return [HourFigures(**r) for r in rows]


def detect(
    conn: Conn, site: SiteInfo, start: datetime, end: datetime,
    limits: CrossCheckLimits | None = None,
) -> list[Episode]:  # fmt: skip
    """Cross-check episodes of a site's complete hours in [start, end)."""
    hours = load(conn, site.site_id, start, end, limits)
    return list(episodes(site.site_id, hours, limits, site.timezone))


def explained(found: list[Episode], rule_events: list[Episode]) -> list[Episode]:
    """``found`` without the counter episodes a stuck meter (a ``meter_stuck`` rule
    episode) explains: a frozen counter against frozen power makes its hours disagree by
    a factor, and the counter catches up in one step when the meter comes back."""
    stuck: dict[int | None, list[tuple[datetime, datetime]]] = {}
    for e in rule_events:
        if e.kind == "meter_stuck":
            stuck.setdefault(e.meter_id, []).append((e.start, e.end + STUCK_SLACK))
    return [
        e for e in found
        if e.kind not in ("counter_mismatch", "counter_jump")
        or not any(e.start < b and e.end > a for a, b in stuck.get(e.meter_id, []))
    ]  # fmt: skip
