"""Demand controller: the running 15-minute demand window projected to its end.

Brazilian demand is billed per 15-minute interval aligned on :00/:15/:30/:45 (the
average kW of the interval, i.e. its imported kWh x 4). During the running interval
the controller projects that average from

* the energy already used in the interval, per meter counted in the site total: the
  import-kWh counter delta where the meter has a counter (what the utility bills, and
  what ``demand_15m`` and the ``demand_exceeded`` rule use: the same
  ``emusa_counter_delta`` base rule), else the trapezoidal integral of ``p_total``;
* plus the current kW (mean ``p_total`` of the meter's last ``current_span``) times the
  time left until the end of the interval.

Projected kW = (energy so far + current kW x time left) / 15 min. The limit is the one
of ``demand_exceeded`` and ``bi.site_demand_15m``: contracted demand of the interval's
tariff period (ponta demand on tarifa azul during ponta) x (1 + tolerance), since
ultrapassagem is billed only above the tolerance. The kW to shed is the constant
reduction over the time left that brings the projection down to the limit:
``(projected - limit) x 15 min / time left``.

No alert in the first ``min_elapsed`` of an interval (the projection is mostly the
current kW then, and a start-up transient would raise it), when the newest reading is
older than ``stale_after``, or without a contracted demand. Pure module: plain data in,
plain data out.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Literal
from zoneinfo import ZoneInfo

from analytics.i18n import clock, text_number
from contract import format_ts

WINDOW = timedelta(minutes=15)
KIND = "demand_projection"
_EPOCH = datetime(2000, 1, 1, tzinfo=UTC)

Status = Literal["ok", "no_data", "warming_up", "stale", "no_limit"]
Period = Literal["ponta", "fora_ponta", "intermediario"]


@dataclass(frozen=True)
class DemandParams:
    """When a projection is trusted enough to alert (see the module docstring)."""

    min_elapsed: timedelta = timedelta(minutes=3)
    current_span: timedelta = timedelta(seconds=60)
    stale_after: timedelta = timedelta(minutes=2)
    severity: str = "critical"

    def __post_init__(self) -> None:
        if not timedelta(0) <= self.min_elapsed < WINDOW:
            raise ValueError(f"min_elapsed must be in [0, 15 min): {self.min_elapsed}")
        if self.current_span <= timedelta(0):
            raise ValueError(f"current_span must be > 0: {self.current_span}")
        if self.stale_after <= timedelta(0):
            raise ValueError(f"stale_after must be > 0: {self.stale_after}")
        if self.severity not in ("info", "warning", "critical"):
            raise ValueError(f"severity must be info, warning or critical: {self.severity!r}")


def window_of(t: datetime) -> tuple[datetime, datetime]:
    """The 15-minute demand interval [start, end) holding ``t`` (aligned on :00/:15/:30/:45;
    UTC alignment equals local alignment for every whole or quarter-hour offset)."""
    start = _EPOCH + ((t - _EPOCH) // WINDOW) * WINDOW
    return start, start + WINDOW


@dataclass(frozen=True)
class Limit:
    """The demand limit of an interval: contracted kW of its tariff period and tolerance."""

    period: str
    contracted_kw: float | None
    tolerance: float

    @property
    def limit_kw(self) -> float | None:
        return None if self.contracted_kw is None else self.contracted_kw * (1 + self.tolerance)


@dataclass(frozen=True)
class MeterWindow:
    """One meter's data in the interval, as read from the database.

    ``counter_kwh``: import-counter energy from ``counter_from`` (the meter's last counter
    reading of the previous interval, else its first in this one) to ``counter_to`` (its
    last counter reading); None when the meter has no counter reading in the interval.
    ``times``/``kw``: the ``p_total`` readings of the interval, oldest first.
    """

    meter_id: int
    name: str
    times: Sequence[datetime] = ()
    kw: Sequence[float] = ()
    counter_kwh: float | None = None
    counter_from: datetime | None = None
    counter_to: datetime | None = None

    def __post_init__(self) -> None:
        if len(self.times) != len(self.kw):
            raise ValueError(
                f"meter {self.name}: {len(self.times)} times but {len(self.kw)} kW values"
            )
        if any(b < a for a, b in zip(self.times, self.times[1:], strict=False)):
            raise ValueError(f"meter {self.name}: readings are not in time order")
        if self.counter_kwh is not None and (self.counter_from is None or self.counter_to is None):
            raise ValueError(f"meter {self.name}: counter energy without its time span")


@dataclass(frozen=True)
class MeterEstimate:
    """What one meter contributes: energy measured, filled and extrapolated (kWh)."""

    name: str
    source: Literal["counter", "power"]
    measured_kwh: float
    head_kwh: float  # interval start to the first reading at the first kW (< 0: base before it)
    current_kw: float
    last_reading: datetime
    tail_kwh: float  # from the last reading to the interval end, at the current kW


def trapezoid_kwh(times: Sequence[datetime], kw: Sequence[float]) -> float:
    """Energy (kWh) of a piecewise-linear power curve through the readings."""
    return sum(
        (kw[i] + kw[i + 1]) / 2 * (times[i + 1] - times[i]).total_seconds() / 3600
        for i in range(len(times) - 1)
    )


def current_kw(times: Sequence[datetime], kw: Sequence[float], span: timedelta) -> float | None:
    """Mean of the readings in the last ``span`` before (and at) the newest one."""
    if not times:
        return None
    since = times[-1] - span
    recent = [p for t, p in zip(times, kw, strict=True) if t > since]
    return sum(recent) / len(recent)


def _counter_implausible(m: MeterWindow) -> bool:
    """The counter's average rate is above what the power readings allow (see estimate)."""
    if m.counter_kwh is None or m.counter_from is None or m.counter_to is None or not m.kw:
        return False
    hours = (m.counter_to - m.counter_from).total_seconds() / 3600
    return hours > 0 and m.counter_kwh / hours > 1.5 * max(*m.kw, 0.0) + 1.0


def estimate(
    m: MeterWindow, start: datetime, end: datetime, params: DemandParams
) -> MeterEstimate | None:
    """One meter's energy in the interval [start, end), projected; None without data.
    A counter advancing faster than physics allows (above 1.5 x the highest power read
    plus 1 kW: a counter read x1000, a preset) is ignored for the power readings."""
    if (
        m.counter_kwh is not None
        and m.counter_from is not None
        and m.counter_to is not None
        and not _counter_implausible(m)
    ):
        # a base in the previous interval: its few seconds before ``start`` come off below
        covered_from, covered_to = m.counter_from, m.counter_to
        measured = max(m.counter_kwh, 0.0)
        source: Literal["counter", "power"] = "counter"
    elif m.times:
        covered_from, covered_to = m.times[0], m.times[-1]
        measured = trapezoid_kwh(m.times, m.kw)
        source = "power"
    else:
        return None
    now_kw = current_kw(m.times, m.kw, params.current_span)
    covered_h = (covered_to - covered_from).total_seconds() / 3600
    if now_kw is None:  # a counter without power readings: its average rate
        now_kw = measured / covered_h if covered_h > 0 else 0.0
    first_kw = m.kw[0] if m.kw else now_kw
    last = max(covered_to, m.times[-1]) if m.times else covered_to
    head_h = (covered_from - start).total_seconds() / 3600  # < 0: counted before the start
    tail_h = max((end - covered_to).total_seconds(), 0.0) / 3600
    return MeterEstimate(m.name, source, measured, first_kw * head_h, now_kw, last, now_kw * tail_h)


@dataclass(frozen=True)
class Projection:
    """The running interval of a site at ``at``: what was used and where it is heading."""

    site_id: str
    window_start: datetime
    window_end: datetime
    at: datetime
    period: str
    contracted_kw: float | None
    limit_kw: float | None
    status: Status
    energy_kwh: float | None = None  # measured so far (+ the filled start of the interval)
    current_kw: float | None = None
    projected_kw: float | None = None
    shed_kw: float | None = None  # constant reduction until the end; 0 when under the limit
    headroom_kw: float | None = None  # constant extra load that would still fit; 0 when over
    meters: tuple[MeterEstimate, ...] = field(default=())
    last_reading: datetime | None = None

    @property
    def elapsed(self) -> timedelta:
        return self.at - self.window_start

    @property
    def remaining(self) -> timedelta:
        return max(self.window_end - self.at, timedelta(0))

    @property
    def exceeds(self) -> bool:
        """Projected above the limit (whatever the status)."""
        return (
            self.projected_kw is not None
            and self.limit_kw is not None
            and self.projected_kw > self.limit_kw
        )

    @property
    def alert(self) -> bool:
        """Trusted and above the limit: raise the early alert."""
        return self.status == "ok" and self.exceeds

    @property
    def feasible(self) -> bool | None:
        """Can the shed be done by cutting load (shed below the current kW)?"""
        if self.shed_kw is None or self.current_kw is None:
            return None
        return self.shed_kw <= self.current_kw


def project(
    site_id: str,
    meters: Sequence[MeterWindow],
    at: datetime,
    limit: Limit,
    params: DemandParams | None = None,
    *,
    window_start: datetime | None = None,
) -> Projection:
    """Project the interval holding ``at`` (or the one starting at ``window_start``) from
    the meters' data in it (see the module docstring).

    With ``at`` at or after the interval's end this is the interval's final demand:
    nothing is left to extrapolate but the gap after the last reading.
    """
    params = params or DemandParams()
    start, end = window_of(at if window_start is None else window_start)
    if window_start is not None and window_start != start:
        raise ValueError(f"{window_start.isoformat()} is not the start of a 15-minute interval")
    if at < start:
        raise ValueError(f"{at.isoformat()} is before the interval {start.isoformat()}")
    base = Projection(
        site_id, start, end, at, limit.period, limit.contracted_kw, limit.limit_kw, "no_data"
    )
    estimates = [e for m in meters if (e := estimate(m, start, end, params)) is not None]
    if not estimates:
        return base
    energy = sum(e.measured_kwh + e.head_kwh for e in estimates)
    projected_kwh = energy + sum(e.tail_kwh for e in estimates)
    projected = projected_kwh * (timedelta(hours=1) / WINDOW)
    now_kw = sum(e.current_kw for e in estimates)
    last = max(e.last_reading for e in estimates)
    status: Status = "ok"
    if limit.limit_kw is None:
        status = "no_limit"
    elif at - start < params.min_elapsed:
        status = "warming_up"
    elif at - last > params.stale_after:
        status = "stale"
    shed = headroom = None
    remaining = end - at
    if limit.limit_kw is not None and remaining > timedelta(0):
        # demand moves by dP x remaining / 15 min when the load moves by dP until the end
        excess = (projected - limit.limit_kw) * (WINDOW / remaining)
        shed, headroom = max(excess, 0.0), max(-excess, 0.0)
    return Projection(
        site_id, start, end, at, limit.period, limit.contracted_kw, limit.limit_kw, status,
        energy, now_kw, projected, shed, headroom, tuple(estimates), last,
    )  # fmt: skip


# --- what people and machines read -------------------------------------------------------

_PERIOD_NAMES = {
    "ponta": ("ponta", "peak"),
    "fora_ponta": ("fora de ponta", "off-peak"),
    "intermediario": ("intermediário", "intermediate"),
}


def messages(p: Projection, timezone: str) -> tuple[str, str]:
    """(message_pt, message_en) of an early alert: projection, limit and the kW to shed."""
    end = clock(p.window_end.astimezone(ZoneInfo(timezone)), "pt-BR")
    end_en = clock(p.window_end.astimezone(ZoneInfo(timezone)), "en")
    period_pt, period_en = _PERIOD_NAMES.get(p.period, (p.period, p.period))
    out = []
    for lang in ("pt-BR", "en"):

        def n(v: float | None, lang: str = lang) -> str:
            return "?" if v is None else text_number(v, lang, 1)

        if lang == "pt-BR":
            text = (
                f"site (total): demanda de 15 min projetada em {n(p.projected_kw)} kW, acima do "
                f"limite de {n(p.limit_kw)} kW ({period_pt}, contratada + tolerância) no intervalo "
                f"até {end}; reduzir {n(p.shed_kw)} kW até o fim do intervalo"
            )
        else:
            text = (
                f"site total: 15-min demand projected at {n(p.projected_kw)} kW, above the "
                f"{n(p.limit_kw)} kW limit ({period_en}, contracted + tolerance) in the interval "
                f"ending {end_en}; shed {n(p.shed_kw)} kW until the interval ends"
            )
        if p.feasible is False:
            text += (
                " (mais que a carga atual: a ultrapassagem já não pode ser evitada)"
                if lang == "pt-BR"
                else " (more than the current load: the excess can no longer be avoided)"
            )
        out.append(text)
    return out[0], out[1]


def _r(v: float | None, digits: int = 3) -> float | None:
    return None if v is None else round(v, digits)


def details(p: Projection) -> dict[str, Any]:
    """The figures of a projection, as stored with its event and sent in its payloads."""
    return {
        "window_start": format_ts(p.window_start),
        "window_end": format_ts(p.window_end),
        "at": format_ts(p.at),
        "elapsed_s": round(p.elapsed.total_seconds(), 1),
        "remaining_s": round(p.remaining.total_seconds(), 1),
        "period": p.period,
        "contracted_kw": _r(p.contracted_kw),
        "limit_kw": _r(p.limit_kw),
        "energy_kwh": _r(p.energy_kwh, 4),
        "current_kw": _r(p.current_kw),
        "projected_kw": _r(p.projected_kw),
        "shed_kw": _r(p.shed_kw),
        "headroom_kw": _r(p.headroom_kw),
        "feasible": p.feasible,
        "status": p.status,
        "meters_reporting": len(p.meters),
        "sources": {e.name: e.source for e in p.meters},
        "last_reading": format_ts(p.last_reading) if p.last_reading else None,
    }


def live_payload(p: Projection) -> dict[str, Any]:
    """The retained ``<root>/<site>/demand/projection`` message (JSON)."""
    return {"v": 1, "type": "demand_projection", "site": p.site_id, "alert": p.alert, **details(p)}
