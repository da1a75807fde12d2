"""Which state topics the gateway publishes, and when (gateway.state_topics, pure)."""

from __future__ import annotations

import pytest

from gateway.state_topics import StateTopics

pytestmark = pytest.mark.unit


def test_without_an_interval_every_reading_publishes_every_value() -> None:
    s = StateTopics(None)
    for now in (0.0, 0.1, 0.2):
        s.update("m1", {"p": 1.0, "f": 60})
        assert s.due(now, "m1") == [("m1", "p", "1.0"), ("m1", "f", "60.0")]
    assert s.due(1.0) == []  # nothing held back


def test_interval_bounds_each_meter_and_sends_only_changed_latest_values() -> None:
    s = StateTopics(10.0)
    s.update("m1", {"p": 1.0, "f": 60.0})
    s.update("m2", {"p": 5.0})
    assert s.due(100.0, "m1") == [("m1", "p", "1.0"), ("m1", "f", "60.0")]
    for t, p in ((101.0, 2.0), (105.0, 3.0), (109.9, 4.0)):  # inside m1's window
        s.update("m1", {"p": p, "f": 60.0})
        assert s.due(t, "m1") == []
    assert s.due(109.9) == [("m2", "p", "5.0")]  # m2 has its own window
    assert s.due(110.0) == [("m1", "p", "4.0")]  # latest p; f unchanged: not re-sent
    s.update("m1", {"p": 4.0, "f": 60.0})
    assert s.due(125.0, "m1") == []  # nothing changed
    s.update("m1", {"f": 59.9})  # a change after a quiet window goes out at once
    assert s.due(126.0, "m1") == [("m1", "f", "59.9")]
    s.update("m1", {"f": 60.0})
    assert s.due(135.9) == [] and s.due(136.0) == [("m1", "f", "60.0")]


def test_after_forget_sent_every_quantity_goes_out_again() -> None:
    s = StateTopics(10.0)
    s.update("m1", {"p": 1.0, "f": 60.0})
    assert len(s.due(0.0)) == 2
    s.update("m1", {"p": 1.0, "f": 60.0})
    assert s.due(10.0) == []
    s.update("m1", {"p": 1.0, "f": 60.0})
    s.forget_sent()  # reconnected: the broker may have lost its retained topics
    assert s.due(11.0) == [("m1", "p", "1.0"), ("m1", "f", "60.0")]
