"""Size- and age-bounded batching."""

from __future__ import annotations

import pytest

from ingestor.batcher import Batcher

pytestmark = pytest.mark.unit


def test_cut_by_size() -> None:
    b: Batcher[int] = Batcher(max_rows=3, max_age=10)
    assert not b.add(1, now=0.0)
    assert not b.add(2, now=0.1)
    assert b.add(3, now=0.2)
    assert b.due(now=0.2)
    assert b.take() == [1, 2, 3]
    assert len(b) == 0
    assert not b.due(now=100.0)


def test_cut_by_age_of_the_oldest_item() -> None:
    b: Batcher[str] = Batcher(max_rows=100, max_age=0.2)
    assert b.wait_time(now=5.0) is None
    b.add("a", now=5.0)
    b.add("b", now=5.15)
    assert not b.due(now=5.19)
    assert b.wait_time(now=5.1) == pytest.approx(0.1)
    assert b.due(now=5.2)
    assert b.wait_time(now=9.0) == 0.0
    assert b.take() == ["a", "b"]


def test_age_restarts_with_the_next_batch() -> None:
    b: Batcher[int] = Batcher(max_rows=100, max_age=1.0)
    b.add(1, now=0.0)
    b.take()
    b.add(2, now=10.0)
    assert not b.due(now=10.5)
    assert b.due(now=11.0)


@pytest.mark.parametrize(("rows", "age"), [(0, 1.0), (1, 0.0), (5, -1.0)])
def test_refuses_degenerate_limits(rows: int, age: float) -> None:
    with pytest.raises(ValueError, match="max_rows"):
        Batcher(rows, age)
