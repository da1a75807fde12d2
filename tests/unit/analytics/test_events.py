"""Merging episodes into stored events: extend, close, never repeat."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from analytics.detection.events import Episode, StoredEvent, group_runs, merge

pytestmark = pytest.mark.unit

T0 = datetime(2026, 11, 23, 12, tzinfo=UTC)
M = timedelta(minutes=1)
GAPS = {"frequency": timedelta(minutes=5)}


def ep(
    start: int, end: int, *, ongoing: bool = False, severity: str = "warning", badness: float = 1.0
) -> Episode:
    return Episode(
        "plant", 1, "frequency", "rule", severity, T0 + start * M, T0 + end * M, ongoing,
        "freq", 60 - badness, 59.9, badness,
    )  # fmt: skip


def stored(
    start: int, last: int, *, ended: bool = False, anomaly_id: int = 7, badness: float = 1.0
) -> StoredEvent:
    return StoredEvent(
        anomaly_id, "plant", 1, "frequency", "warning", T0 + start * M,
        T0 + last * M if ended else None, T0 + last * M, 60 - badness, badness,
    )  # fmt: skip


def test_group_runs_tolerates_small_gaps() -> None:
    times = [T0 + i * M for i in (0, 1, 2, 5, 20, 21)]
    assert group_runs(times, M, timedelta(minutes=2)) == [(0, 3), (4, 5)]
    assert group_runs([], M, M) == []


def test_new_episode_opens_an_event() -> None:
    (ch,) = merge([ep(0, 10, ongoing=True)], [], GAPS)
    assert ch.anomaly_id is None and ch.opened and not ch.closed and ch.ended_at is None


def test_episode_that_ended_opens_and_closes() -> None:
    (ch,) = merge([ep(0, 10)], [], GAPS)
    assert ch.opened and ch.closed and ch.ended_at == T0 + 10 * M


def test_ongoing_event_is_extended_not_repeated() -> None:
    (ch,) = merge([ep(8, 30, ongoing=True)], [stored(0, 10)], GAPS)
    assert ch.anomaly_id == 7 and not ch.opened and not ch.closed
    assert ch.started_at == T0 and ch.ended_at is None and ch.last_seen == T0 + 30 * M


def test_event_closes_when_condition_clears() -> None:
    (ch,) = merge([ep(8, 25)], [stored(0, 10)], GAPS)
    assert ch.anomaly_id == 7 and ch.closed and ch.ended_at == T0 + 25 * M


def test_worst_value_and_severity_kept() -> None:
    (ch,) = merge([ep(8, 20, ongoing=True, badness=0.1)], [stored(0, 10, badness=0.5)], GAPS)
    assert ch.episode.badness == 0.5 and ch.episode.measured == pytest.approx(59.5)
    (ch,) = merge([ep(8, 20, ongoing=True, severity="critical")], [stored(0, 10)], GAPS)
    assert ch.episode.severity == "critical"


def test_episode_after_the_gap_is_a_new_event() -> None:
    (ch,) = merge([ep(30, 40)], [stored(0, 10, ended=True)], GAPS)
    assert ch.anomaly_id is None and ch.opened


def test_episode_within_the_gap_reopens_nothing_new() -> None:
    (ch,) = merge([ep(13, 20)], [stored(0, 10, ended=True)], GAPS)
    assert ch.anomaly_id == 7 and not ch.opened and not ch.closed  # already closed once


def test_two_episodes_of_one_run_merge_when_close() -> None:
    changes = merge([ep(0, 5), ep(8, 12, ongoing=True)], [], GAPS)
    assert len(changes) == 1
    assert changes[0].opened and changes[0].ended_at is None and changes[0].started_at == T0


def test_untouched_open_event_is_closed_at_its_last_sighting() -> None:
    key = ("plant", 1, "frequency")
    (ch,) = merge([], [stored(0, 10)], GAPS, {key: T0 + 5 * M})
    assert ch.closed and ch.close_only and ch.ended_at == T0 + 10 * M
    assert merge([], [stored(0, 10)], GAPS, {key: T0 + 11 * M}) == []  # nothing evaluated there
