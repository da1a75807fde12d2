"""The time ranges a batch logs for the rollups: readings far apart are not one range."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from ingestor.ranges import RANGE_GAP, time_ranges

pytestmark = pytest.mark.unit

T = datetime(2026, 11, 20, 14, 58, tzinfo=UTC)


def test_one_range_for_readings_close_together_in_any_order() -> None:
    times = [T + timedelta(seconds=s) for s in (30, 0, 90, 60)]
    assert time_ranges(times) == [(T, T + timedelta(seconds=90))]


def test_an_old_reading_beside_live_ones_is_a_range_of_its_own() -> None:
    old = T - timedelta(days=399)
    times = [T, old, T + timedelta(seconds=1)]
    assert time_ranges(times) == [(old, old), (T, T + timedelta(seconds=1))]


def test_a_gap_of_exactly_the_limit_joins_and_longer_splits() -> None:
    joined = [T, T + RANGE_GAP]
    split = [T, T + RANGE_GAP + timedelta(microseconds=1)]
    assert time_ranges(joined) == [(T, T + RANGE_GAP)]
    assert time_ranges(split) == [(T, T), (split[1], split[1])]


def test_no_readings_no_range() -> None:
    assert time_ranges([]) == []
