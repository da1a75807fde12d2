"""Simulator history for analytics tests: PlantModel samples as raw rows or as frames
shaped like the rollups (readings_1m / readings_1h / site demand). Pure, no services."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta

import pandas as pd

from analytics.detection.rules import MeterInfo, RuleInput, SiteInfo
from gateway.simulator.model import Event, PlantModel

Mutate = Callable[[float, dict[str, float]], None]
GAUGES = [
    "v_l1n",
    "v_l2n",
    "v_l3n",
    "v_l12",
    "v_l23",
    "v_l31",
    "i_l1",
    "i_l2",
    "i_l3",
    "freq",
    "p_total",
    "q_total",
    "pf_total",
]


def ts(text: str) -> datetime:
    """An instant given in Sao Paulo local time ('2026-11-23 10:00' -> UTC)."""
    return datetime.fromisoformat(text).replace(tzinfo=UTC) + timedelta(hours=3)


def samples(
    seed: int,
    start: datetime,
    end: datetime,
    step: float = 60.0,
    events: tuple[Event, ...] = (),
    mutate: Mutate | None = None,
) -> Iterator[tuple[datetime, dict[str, float]]]:
    """(time, values) every ``step`` seconds; nothing while a ``silent`` event is active."""
    model = PlantModel(seed=seed, events=events)
    t = start.timestamp()
    stop = end.timestamp()
    while t < stop:
        if not model.active("silent", t):
            values = model.values(t)
            if mutate is not None:
                mutate(t, values)
            yield datetime.fromtimestamp(t, UTC), values
        t += step


def minute_frame(meter_id: int, rows: list[tuple[datetime, dict[str, float]]]) -> pd.DataFrame:
    raw = pd.DataFrame([{"bucket": t, **{q: v[q] for q in GAUGES}} for t, v in rows])
    raw["bucket"] = pd.to_datetime(raw["bucket"], utc=True).dt.floor("1min")
    stats = {
        f"{q}_{s}": (q, f)
        for q in GAUGES
        for s, f in (("avg", "mean"), ("min", "min"), ("max", "max"))
    }
    out = raw.groupby("bucket", as_index=False).agg(samples=("p_total", "size"), **stats)
    out.insert(0, "meter_id", meter_id)
    return out


def hourly_frame(minute: pd.DataFrame) -> pd.DataFrame:
    m = minute.assign(bucket=minute["bucket"].dt.floor("1h"))
    return m.groupby(["meter_id", "bucket"], as_index=False)[["p_total_avg", "q_total_avg"]].mean()


def demand_frame(minute: pd.DataFrame, limit_kw: float) -> pd.DataFrame:
    m = minute.assign(bucket=minute["bucket"].dt.floor("15min"))
    per_meter = m.groupby(["meter_id", "bucket"], as_index=False)["p_total_avg"].mean()
    d = per_meter.groupby("bucket", as_index=False)["p_total_avg"].sum()
    d = d.rename(columns={"p_total_avg": "demand_kw"})
    d["limit_kw"] = limit_kw
    d["exceeds_limit"] = d["demand_kw"] > limit_kw
    return d


def rule_input(
    meters: dict[int, tuple[int, tuple[Event, ...], Mutate | None]],
    start: datetime,
    end: datetime,
    step: float = 60.0,
    limit_kw: float = 315.0,
) -> RuleInput:
    """A RuleInput for meters {meter_id: (seed, events, mutate)} over [start, end)."""
    frames = [
        minute_frame(mid, list(samples(seed, start, end, step, ev, mu)))
        for mid, (seed, ev, mu) in meters.items()
    ]
    minute = pd.concat(frames, ignore_index=True)
    return RuleInput(
        site=SiteInfo("plant"),
        meters={mid: MeterInfo(mid, f"m{mid}") for mid in meters},
        start=start,
        end=end,
        minute=minute,
        hourly=hourly_frame(minute),
        demand=demand_frame(minute, limit_kw),
    )
