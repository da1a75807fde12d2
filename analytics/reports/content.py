"""What a report shows, as plain data: filled by ``data.py`` from the database, read by
the pure layout code (``daily.py``, ``fortnightly.py``). Pure module."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from zoneinfo import ZoneInfo


@dataclass(frozen=True)
class Site:
    site_id: str
    name: str
    timezone: str
    tariff_modality: str
    contracted_kw: float | None
    contracted_ponta_kw: float | None
    demand_tolerance: float
    pf_reference: float

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def contract_for(self, period: str) -> float | None:
        """The contracted demand that applies in a tariff period (azul: ponta has its own)."""
        if self.tariff_modality == "azul" and period == "ponta":
            return self.contracted_ponta_kw
        return self.contracted_kw

    def limit_for(self, period: str) -> float | None:
        c = self.contract_for(period)
        return None if c is None else c * (1 + self.demand_tolerance)


@dataclass(frozen=True)
class Stat:
    avg: float | None
    max: float | None
    min: float | None


@dataclass(frozen=True)
class MeterKpis:
    meter: str
    samples: int
    v_ll: Stat
    kw: Stat
    pf: Stat
    hz: Stat
    energy_kwh: float | None


@dataclass(frozen=True)
class PeriodSplit:
    """Energy and maximum 15-min demand in one tariff period (a meter's or the site's)."""

    meter: str | None  # None: site total
    period: str
    energy_kwh: float | None
    max_demand_kw: float | None


@dataclass(frozen=True)
class Point:
    at: datetime  # local, aware
    value: float | None


@dataclass(frozen=True)
class MeterSeries:
    meter: str
    kw: list[Point]
    v_l1n: list[Point]
    v_l2n: list[Point]
    v_l3n: list[Point]
    pf: list[Point]


@dataclass(frozen=True)
class Anomaly:
    started: datetime  # local
    ended: datetime | None
    meter: str | None
    kind: str
    severity: str
    message: str


@dataclass(frozen=True)
class Window:
    start: datetime  # local
    end: datetime
    energy_kwh: float
    avg_kw: float
    period: str


@dataclass(frozen=True)
class ShiftFigures:
    """The site total in one production shift, clipped to the report period."""

    production_date: date
    shift: str
    start: datetime  # local, aware; the part of the shift inside the period
    end: datetime
    energy_kwh: float | None
    max_demand_kw: float | None
    pf_avg: float | None
    intervals: int  # 15-min intervals with data
    intervals_expected: int

    @property
    def completeness(self) -> float | None:
        return self.intervals / self.intervals_expected if self.intervals_expected else None


@dataclass(frozen=True)
class Completeness:
    """Readings of one meter received in the period against those expected.

    ``step_s`` is the meter's poll interval, inferred as the median spacing of its
    readings in the period (or, with fewer than two, of the 7 days before its end).
    """

    meter: str
    received: int
    step_s: float | None
    period_s: float
    longest_gap_s: float | None  # longest span without a reading, period edges included
    longest_gap_from: datetime | None  # local

    @property
    def expected(self) -> int | None:
        if not self.step_s:
            return None
        return max(1, round(self.period_s / self.step_s))

    @property
    def fraction(self) -> float | None:
        exp = self.expected
        return None if exp is None else min(1.0, self.received / exp)

    @property
    def has_gap(self) -> bool:
        """A span without readings longer than two poll intervals."""
        return (
            self.longest_gap_s is not None
            and self.step_s is not None
            and self.longest_gap_s > 2 * self.step_s
        ) or (self.received == 0)


@dataclass(frozen=True)
class DailyData:
    site: Site
    start: datetime  # local, aware
    end: datetime
    meters: list[MeterKpis]
    splits: list[PeriodSplit]
    series: list[MeterSeries]
    anomalies: list[Anomaly]
    windows: list[Window]
    summaries: list[str] = field(default_factory=list)
    site_demand: list[Point] = field(default_factory=list)  # site total, 15-min demand
    shifts: list[ShiftFigures] = field(default_factory=list)
    completeness: list[Completeness] = field(default_factory=list)


@dataclass(frozen=True)
class DayDemand:
    day: date
    max_ponta_kw: float | None
    max_fora_kw: float | None
    energy_ponta_kwh: float | None
    energy_fora_kwh: float | None
    energy_kwh: float | None
    intervals_over: int
    worst_excess_kw: float | None  # largest demand above the contracted (not the limit)


@dataclass(frozen=True)
class HourEnergy:
    start: datetime  # local
    energy_kwh: float | None
    kvarh_ind: float | None  # imported (inductive) reactive energy in the hour
    kvarh_cap: float | None  # exported (capacitive)
    pf_avg: float | None
    kw_avg: float | None


@dataclass(frozen=True)
class FortnightData:
    site: Site
    start: datetime  # local, aware
    end: datetime
    days: list[DayDemand]
    hours: list[HourEnergy]
    max_demand_kw: float | None
    max_demand_ponta_kw: float | None
    max_demand_fora_kw: float | None
    intervals: int  # 15-min intervals with data
    anomalies_by_kind: dict[str, int]
