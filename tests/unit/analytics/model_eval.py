"""Precision and recall of the statistical detector on simulator data with injected
scenarios (used by test_model.py, which holds a floor, and printable by hand:
``.venv/bin/python -m tests.unit.analytics.model_eval``)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import pandas as pd

from analytics.detection import seasonal
from analytics.detection.rules import MeterInfo
from gateway.simulator.model import Event
from tests.unit.analytics.simframes import Mutate, minute_frame, samples, ts

TZ = "America/Sao_Paulo"
METERS = {1: MeterInfo(1, "m1")}
TRAIN_START = ts("2026-11-09 00:00")  # a Monday: 7 clean days of training
TEST_DAY = ts("2026-11-17 00:00")  # a Tuesday
# local hours at which each scenario is injected on the test day (night, morning, evening)
INJECT_AT = (3, 10, 19)


def _night_load(start: float, end: float) -> Mutate:
    """Production-level load in the middle of the night (a machine left running)."""

    def mutate(t: float, values: dict[str, float]) -> None:
        if start <= t < end:
            for q in ("p_total", "q_total", "p_l1", "p_l2", "p_l3", "i_l1", "i_l2", "i_l3"):
                values[q] *= 3.0

    return mutate


SCENARIOS: dict[str, int] = {  # name -> duration in minutes
    "sag": 30,
    "swell": 30,
    "pf_drop": 60,
    "demand_peak": 45,
    "phase_loss": 20,
    "night_load": 60,
}


@dataclass
class Score:
    scenario: str
    injected: int
    detected_events: int
    true_events: int
    found: int

    @property
    def precision(self) -> float:
        return self.true_events / self.detected_events if self.detected_events else 1.0

    @property
    def recall(self) -> float:
        return self.found / self.injected if self.injected else 1.0


def _history(
    seed: int,
    start: datetime,
    end: datetime,
    events: tuple[Event, ...] = (),
    mutate: Mutate | None = None,
) -> pd.DataFrame:
    return minute_frame(1, list(samples(seed, start, end, 60.0, events, mutate)))


def train(seed: int, params: seasonal.ModelParams | None = None) -> seasonal.MeterModel:
    feats = seasonal.features(_history(seed, TRAIN_START, TEST_DAY - timedelta(days=1)), METERS, TZ)
    return seasonal.fit(feats, 1, TEST_DAY, params)


def evaluate(seed: int, scenario: str, fitted: seasonal.MeterModel) -> Score:
    minutes = SCENARIOS[scenario]
    spans = [
        (TEST_DAY + timedelta(hours=h), TEST_DAY + timedelta(hours=h, minutes=minutes))
        for h in INJECT_AT
    ]
    events: tuple[Event, ...] = ()
    mutate = None
    if scenario == "night_load":
        spans = spans[:1]  # only the night one is anomalous by definition
        mutate = _night_load(spans[0][0].timestamp(), spans[0][1].timestamp())
    else:
        events = tuple(Event(scenario, a.timestamp(), minutes * 60) for a, _ in spans)
    frame = _history(seed, TEST_DAY, TEST_DAY + timedelta(days=1), events, mutate)
    feats = seasonal.features(frame, METERS, TZ)
    found_eps = seasonal.episodes(
        "plant", fitted, feats, seasonal.score(fitted, feats), last_bucket=None
    )
    slack = timedelta(minutes=5)

    def hits(ep_start: datetime, ep_end: datetime, a: datetime, b: datetime) -> bool:
        return ep_start < b + slack and ep_end > a - slack

    true_events = sum(any(hits(e.start, e.end, a, b) for a, b in spans) for e in found_eps)
    found = sum(any(hits(e.start, e.end, a, b) for e in found_eps) for a, b in spans)
    return Score(scenario, len(spans), len(found_eps), true_events, found)


def run(
    seeds: tuple[int, ...] = (1, 4), params: seasonal.ModelParams | None = None
) -> dict[str, dict[str, float]]:
    totals: dict[str, list[Score]] = {s: [] for s in SCENARIOS}
    clean_false = 0
    for seed in seeds:
        fitted = train(seed, params)
        for scenario in SCENARIOS:
            totals[scenario].append(evaluate(seed, scenario, fitted))
        clean = _history(seed, TEST_DAY, TEST_DAY + timedelta(days=1))
        feats = seasonal.features(clean, METERS, TZ)
        clean_false += len(
            seasonal.episodes(
                "plant", fitted, feats, seasonal.score(fitted, feats), last_bucket=None
            )
        )
    out: dict[str, dict[str, float]] = {}
    for scenario, scores in totals.items():
        det = sum(s.detected_events for s in scores)
        tru = sum(s.true_events for s in scores)
        inj = sum(s.injected for s in scores)
        fnd = sum(s.found for s in scores)
        out[scenario] = {
            "precision": tru / det if det else 1.0,
            "recall": fnd / inj,
            "injected": inj,
            "detected_events": det,
        }
    out["clean_day"] = {"false_events": clean_false, "days": len(seeds)}
    return out


if __name__ == "__main__":
    import json

    for method in ("baseline", "isolation_forest"):
        print(method, json.dumps(run(params=seasonal.ModelParams(method=method))))
