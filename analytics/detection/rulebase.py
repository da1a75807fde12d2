"""The rules' common ground: limits, the site and meters, the rollups in, episodes out.

Shared by the rule modules (``rules``, ``extremes``, ``quality``). Pure: no database or
network.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import pandas as pd  # type: ignore[import-untyped]

from analytics.detection.events import Episode, group_runs

MINUTE = timedelta(minutes=1)
TEN_MIN = timedelta(minutes=10)
HOUR = timedelta(hours=1)
QUARTER = timedelta(minutes=15)
PHASES = ("v_l1n", "v_l2n", "v_l3n")
LINES = ("v_l12", "v_l23", "v_l31")
CURRENTS = ("i_l1", "i_l2", "i_l3")

# PRODIST Módulo 8, steady-state voltage, by nominal line-neutral voltage:
# (adequate low, adequate high, precarious low, precarious high); critical outside.
PRODIST_BANDS: dict[float, tuple[float, float, float, float]] = {
    127.0: (117.0, 133.0, 110.0, 135.0),  # 220/127 V
    220.0: (202.0, 231.0, 191.0, 233.0),  # 380/220 V
}


def voltage_bands(nominal_ln: float) -> tuple[float, float, float, float]:
    """The PRODIST bands for a nominal line-neutral voltage (others: the 220 V ratios)."""
    if nominal_ln in PRODIST_BANDS:
        return PRODIST_BANDS[nominal_ln]
    return tuple(b / 220.0 * nominal_ln for b in PRODIST_BANDS[220.0])  # type: ignore[return-value]


@dataclass(frozen=True)
class Limits:
    freq_low: float = 59.9
    freq_high: float = 60.1
    freq_critical_low: float = 59.5
    freq_critical_high: float = 60.5
    voltage_unbalance_pct: float = 3.0
    current_unbalance_pct: float = 10.0
    min_current_a: float = 5.0
    phase_loss_fraction: float = 0.5
    alive_fraction: float = 0.8  # another phase above this: the supply is there
    phase_loss_min: timedelta = timedelta(seconds=10)  # shorter: a short-duration variation
    silent_after: timedelta = timedelta(minutes=5)
    # a reading outside this range is not a frequency (a register glitch), not judged
    freq_valid: tuple[float, float] = (45.0, 75.0)
    # stuck meter: identical readings over at least this many polls and minutes, with load
    stuck_polls: int = 20
    stuck_minutes: int = 2
    # counter-based 15-min demand above this multiple of the interval's average measured
    # power (plus a tenth of the limit), or above this multiple of the limit, is not a
    # demand but a counter error (physics: energy / time = average power)
    demand_ratio_max: float = 1.5
    demand_limit_multiple_max: float = 20.0
    gaps: dict[str, timedelta] = field(
        default_factory=lambda: {
            "voltage_band": timedelta(minutes=10),
            "frequency": timedelta(minutes=5),
            "voltage_unbalance": timedelta(minutes=10),
            "current_unbalance": timedelta(minutes=10),
            "phase_loss": timedelta(minutes=5),
            "power_factor": timedelta(0),
            "demand_exceeded": timedelta(minutes=15),
            "meter_silent": timedelta(0),
            "model_outlier": timedelta(minutes=5),
            # PRODIST temporal aggregation: variations within a minute are one event
            "voltage_sag": timedelta(minutes=1),
            "voltage_swell": timedelta(minutes=1),
            "voltage_interruption": timedelta(minutes=1),
            "meter_stuck": timedelta(minutes=5),
            "demand_implausible": timedelta(minutes=15),
            "counter_scale": timedelta(hours=1),
        }
    )


@dataclass(frozen=True)
class MeterInfo:
    meter_id: int
    name: str
    nominal_ln: float = 127.0
    nominal_ll: float = 220.0


@dataclass(frozen=True)
class SiteInfo:
    site_id: str
    timezone: str = "America/Sao_Paulo"
    pf_reference: float = 0.92


@dataclass
class RuleInput:
    """Rollups of one site over the evaluated range [start, end).

    ``minute``: readings_1m rows (meter_id, bucket, samples, ``<q>_avg``);
    ``hourly``: readings_1h rows (meter_id, bucket, p_total_avg, q_total_avg);
    ``demand``: bi.site_demand_15m rows (bucket, demand_kw, limit_kw, exceeds_limit);
    ``last_before``: per meter, the last minute bucket with data before ``start``;
    ``raw``: raw readings (meter_id, time, v_l1n, v_l2n, v_l3n) of the short windows
    :func:`analytics.detection.extremes.raw_windows` asks for (empty: judged on the
    minutes alone).
    """

    site: SiteInfo
    meters: dict[int, MeterInfo]
    start: datetime
    end: datetime
    minute: pd.DataFrame
    hourly: pd.DataFrame
    demand: pd.DataFrame
    last_before: dict[int, datetime] = field(default_factory=dict)
    raw: pd.DataFrame = field(default_factory=pd.DataFrame)


def as_datetime(value: Any) -> datetime:
    out: datetime = pd.Timestamp(value).to_pydatetime()
    return out


# What ``describe`` says of a run of violating rows:
# (severity, quantity, worst measured value, limit, details).
Verdict = tuple[str, str | None, float | None, float | None, dict[str, Any]]


def rule_episodes(
    inp: RuleInput,
    kind: str,
    *,
    rows: pd.DataFrame,
    last_bucket: dict[int | None, datetime],
    width: timedelta,
    gap: timedelta,
    describe: Callable[[pd.DataFrame], Verdict],
) -> Iterator[Episode]:
    """Group violating ``rows`` (meter_id, bucket, badness, ...) per meter into episodes.

    ``describe(run_rows)`` gives (severity, quantity, measured, limit, details) of a run.
    """
    if rows.empty:
        return
    for meter_id, group in rows.groupby("meter_id", dropna=False, sort=True):
        g = group.sort_values("bucket")
        times = [as_datetime(t) for t in g["bucket"]]
        mid = None if pd.isna(meter_id) else int(meter_id)
        for i, j in group_runs(times, width, gap):
            run = g.iloc[i : j + 1]
            severity, quantity, measured, limit, details = describe(run)
            end = times[j] + width
            ongoing = last_bucket.get(mid) is not None and times[j] >= last_bucket[mid]
            yield Episode(
                inp.site.site_id, mid, kind, "rule", severity, times[i], end, ongoing,
                quantity, measured, limit, float(run["badness"].max()), details,
            )  # fmt: skip


def worst_row(run: pd.DataFrame) -> pd.Series:
    return run.loc[run["badness"].idxmax()]


def last_buckets(frame: pd.DataFrame, key: str = "meter_id") -> dict[int | None, datetime]:
    if frame.empty:
        return {}
    last = frame.groupby(key)["bucket"].max()
    return {int(k): as_datetime(v) for k, v in last.items()}
