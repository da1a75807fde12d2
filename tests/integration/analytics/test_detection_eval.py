"""The detection evaluation in small (tests/evaluation): one day of 1-s readings with a
few injected events and one clean day, rules only; the full one is a benchmark
(tests/benchmarks/test_detection_eval.py)."""

from __future__ import annotations

import pytest

from tests.evaluation import generator, scorer
from tests.evaluation.kinds import CATALOGUE

pytestmark = pytest.mark.integration

FEW = (
    "freq 59.4 Hz 30 s", "freq 60.6 Hz 10 s", "sag 80% L2 10 s", "phase loss L3 20 s",
    "interruption 2 s", "stuck 8 min", "counter x1000 2 h", "demand peak +90 kW 45 min",
)  # fmt: skip


@pytest.mark.timeout(600)
def test_injected_events_found_with_their_kind_and_a_clean_day_quiet(db: str) -> None:
    config = generator.EvalConfig(
        history_days=0, event_days=1, clean_days=1,
        catalogue=tuple(sc for sc in CATALOGUE if sc.name in FEW),
    )  # fmt: skip
    data = generator.build(db, config)
    assert {lb.scenario for lb in data.labels} == set(FEW)
    scorer.run_detection(db, data, model=False)
    score = scorer.score_events(scorer.read_events(db), data)
    assert score.missed == []
    assert all(right == n for right, n in score.recall.values()), score.recall
    assert score.false_clean == {}, [e for e in score.events if e.start >= data.periods["clean"][0]]
    assert score.forbidden == []
    # the counter error is one scale event, neither a reset nor a demand alert
    kinds = {e.kind for e in score.events}
    assert "counter_reset" not in kinds and "demand_exceeded" in kinds
    assert score.causal[0] == score.causal[1]
