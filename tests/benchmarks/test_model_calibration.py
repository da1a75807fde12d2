"""The statistical model alone on the independent evaluation data (issue 18, deliverable 2):
``.venv/bin/pytest -m benchmark tests/benchmarks/test_model_calibration.py -s``.

Builds :mod:`tests.evaluation.generator`'s data set (7 or 14 days of clean history, three
days with every kind injected, two clean days; the history polled every 5 s, the rest
every second), runs the product's detect job over it with the model on, and reports the model's
own events: false events per meter-week on the clean days and in the learning week (goal
<= 0.3, the model's share of the <= 1 budget), and for each injected disturbance whether a
model event overlaps it and which quantity labels it (right when it is a quantity the
injection moves). Writes ``bench-results/model_calibration.json``; asserts nothing about
the figures (the goals are in the headline), only that the run scored something.
"""

from __future__ import annotations

import json
import time
from datetime import date, timedelta
from typing import Any

import psycopg
import pytest
from psycopg.rows import dict_row

from tests.benchmarks import results
from tests.evaluation import generator, scorer

pytestmark = pytest.mark.benchmark

# the model's quantities an injection moves (a model event labelled otherwise is mislabelled)
MOVES: dict[str, set[str]] = {
    "frequency": {"freq"},
    "sag": {"v_pct", "v_unb"},
    "swell": {"v_pct", "v_unb"},
    "interruption": {"v_pct", "p_kw", "q_kvar"},
    "phase_loss": {"v_pct", "v_unb", "i_unb", "p_kw", "q_kvar"},
    "pf_drift": {"pf", "q_kvar"},
    "i_unbalance": {"i_unb"},
    "v_drift": {"v_pct"},
    "demand_peak": {"p_kw", "q_kvar"},
    "night_load": {"p_kw", "q_kvar"},
}
SLACK = timedelta(minutes=2)


def _model_events(dsn: str) -> list[dict[str, Any]]:
    with psycopg.connect(dsn, row_factory=dict_row) as conn:
        return conn.execute(
            "SELECT m.name AS meter, a.severity, a.quantity, a.started_at,"
            " coalesce(a.ended_at, a.started_at) AS ended_at, a.details"
            " FROM anomalies a JOIN meters m USING (meter_id)"
            " WHERE a.detector = 'model' ORDER BY a.started_at"
        ).fetchall()


def measure(dsn: str, config: generator.EvalConfig) -> dict[str, Any]:
    t = time.perf_counter()
    data = generator.build(dsn, config)
    build_s = time.perf_counter() - t
    t = time.perf_counter()
    scorer.run_detection(dsn, data, model=True)
    detect_s = time.perf_counter() - t
    events = _model_events(dsn)
    meters = len(data.meter_ids)
    out: dict[str, Any] = {"build_s": round(build_s, 1), "detect_s": round(detect_s, 1)}
    for period in ("history", "clean"):
        a, b = data.periods[period]
        false = [e for e in events if a <= e["started_at"] < b]
        n = len(false)
        out[f"false_{period}"] = n
        out[f"false_{period}_events"] = [
            {"meter": e["meter"], "start": e["started_at"].isoformat(), "quantity": e["quantity"],
             "minutes": e["details"].get("minutes"), "drivers": e["details"].get("drivers"),
             "threshold_z": e["details"].get("threshold_z")}
            for e in false
        ]  # fmt: skip
        out[f"false_per_meter_week_{period}"] = round(n / (meters * (b - a) / timedelta(days=7)), 2)
    caught: dict[str, dict[str, Any]] = {}
    for sc, at in data.placed:
        end = at + sc.duration
        where = set(data.meter_ids) if sc.site_level else set(sc.meters)
        hits = [
            e for e in events
            if e["meter"] in where and e["started_at"] <= end + SLACK
            and e["ended_at"] >= at - SLACK
        ]  # fmt: skip
        caught[sc.name] = {
            "caught": bool(hits),
            "quantities": sorted({str(e["quantity"]) for e in hits}),
            "right_label": bool(hits)
            and all(e["quantity"] in MOVES.get(sc.what, set()) for e in hits),
        }
    ev_a, ev_b = data.periods["events"]
    in_events = [e for e in events if ev_a <= e["started_at"] < ev_b]
    causal = sum(
        any(
            e["started_at"] <= at + sc.duration + SLACK and e["ended_at"] >= at - SLACK
            for sc, at in data.placed
        )
        for e in in_events
    )
    both = scorer.score_events(scorer.read_events(dsn), data)  # rules and model together
    out |= {"events_in_event_days": len(in_events), "causal_in_event_days": causal,
            "scenarios": caught, "rules_and_model": both.as_dict()}  # fmt: skip
    return out


CASES = {
    # the evaluation's own timeline (history polled every 5 s)
    "7d": generator.EvalConfig(first_event_day=date(2026, 11, 12), history_days=7),
    # a fortnight of history without holidays (the generator's plant works through
    # Finados, which the model rightly calls a holiday)
    "14d": generator.EvalConfig(
        first_event_day=date(2026, 3, 12), history_days=14, history_poll_s=5.0
    ),
    # nothing injected: a fortnight of history, then a fortnight of clean days (4
    # meter-weeks, enough to see a rate of 0.3 a week), polled every 5 s
    "clean": generator.EvalConfig(
        first_event_day=date(2026, 3, 12), history_days=14, event_days=0, clean_days=14,
        poll_s=5.0, history_poll_s=5.0, catalogue=(),
    ),
}  # fmt: skip


@pytest.mark.timeout(2400)
@pytest.mark.parametrize("case", sorted(CASES))
def test_model_calibration(db: str, case: str) -> None:
    figures = measure(db, CASES[case])
    caught = figures["scenarios"]
    n_caught = sum(c["caught"] for c in caught.values())
    n_right = sum(c["right_label"] for c in caught.values())
    headline = [
        results.Row("model false events per meter-week, clean days",
                    figures["false_per_meter_week_clean"], "events", goal="<= 0.3",
                    met=figures["false_per_meter_week_clean"] <= 0.3),
        results.Row("model false events per meter-week, learning week",
                    figures["false_per_meter_week_history"], "events", goal="<= 0.3",
                    met=figures["false_per_meter_week_history"] <= 0.3),
        results.Row("injected disturbances with a model event", n_caught, "scenarios",
                    baseline="scenarios", baseline_value=len(caught)),
        results.Row("... labelled by a quantity the injection moves", n_right, "scenarios",
                    baseline="caught", baseline_value=n_caught),
        results.Row("model events in the event days overlapping an injection",
                    figures["causal_in_event_days"], "events", baseline="model events there",
                    baseline_value=figures["events_in_event_days"]),
    ]  # fmt: skip
    results.write(
        f"model_calibration_{case}",
        f"Statistical model on independent data ({case})",
        headline, figures,
    )  # fmt: skip
    print(json.dumps(figures, indent=1, default=str))
    assert caught or case == "clean"
