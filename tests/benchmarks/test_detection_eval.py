"""Detection evaluation (issue 18): ``.venv/bin/pytest -m benchmark tests/benchmarks/test_detection_eval.py -s``.

Builds the independent labelled data set of :mod:`tests.evaluation.generator` (12 days
of 1-s readings, 2 meters, every kind injected at several durations and depths, a clean
history week and two clean days), runs the product's detect job over it (rules and the
statistical model, as a worker catching up) and scores what it stored
(:mod:`tests.evaluation.scorer`). Headline: right-kind recall per kind (goal >= 0.95),
false events per meter-week on the clean days (goal <= 1, rules and model together),
precision. Writes ``bench-results/detection_eval.json``; asserts only that no counter
error raised an ultrapassagem. Method and table: docs/detection.md.
"""

from __future__ import annotations

import json
import time

import pytest

from tests.benchmarks import results
from tests.evaluation import generator, scorer

pytestmark = pytest.mark.benchmark


@pytest.mark.timeout(2400)  # builds ~1.7 M rows and detects over 12 days
def test_detection_evaluation(db: str) -> None:
    t = time.perf_counter()
    data = generator.build(db, generator.EvalConfig())
    build_s = time.perf_counter() - t
    t = time.perf_counter()
    scorer.run_detection(db, data, model=True)
    detect_s = time.perf_counter() - t
    events = scorer.read_events(db)
    both = scorer.score_events(events, data)
    rules_only = scorer.score_events([e for e in events if e.detector == "rule"], data)

    headline = []
    for kind, (right, n) in sorted(both.recall.items()):
        headline.append(
            results.Row(f"right-kind recall: {kind} ({n} injected)", round(right / n, 3), "",
                        goal=">= 0.95", met=right / n >= 0.95)
        )  # fmt: skip
    fp = both.false_per_meter_week("clean")
    headline += [
        results.Row("false events per meter-week, clean days (rules + model)", round(fp, 2),
                    "events", goal="<= 1", met=fp <= 1),
        results.Row("false events per meter-week, clean days (rules only)",
                    round(rules_only.false_per_meter_week("clean"), 2), "events"),
        results.Row("false events per meter-week, history week (rules + model)",
                    round(both.false_per_meter_week("history"), 2), "events"),
        results.Row("events in the event days caused by an injection", both.causal[0], "events",
                    baseline="events in the event days", baseline_value=both.causal[1]),
    ]  # fmt: skip
    figures = {
        "rows_written": data.rows, "build_s": round(build_s, 1),
        "detect_all_days_s": round(detect_s, 1), "labels": len(data.labels),
        "rules_and_model": both.as_dict(), "rules_only": rules_only.as_dict(),
        "table_md": scorer.table(both),
    }  # fmt: skip
    results.write("detection_eval", "Detection evaluation on independent data", headline, figures)
    print(scorer.table(both))
    print(json.dumps(figures["rules_and_model"], indent=1, default=str))
    assert data.labels
    assert both.forbidden == []  # a counter error never raises an ultrapassagem
