"""``mqtt.state_interval``: retained state topics at most every N seconds, against a real
Mosquitto.

The publisher runs on a fake monotonic clock (one reading per fake second, interval 10 s),
so "at most one update per interval" is counted, never timed. Readings (QoS 1, through the
queue) and state topics (QoS 0) leave the same connection in order, so once a subscriber
has a reading, the state messages published with it have arrived too.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

import contract
from contract.mqtt_url import parse
from gateway.publisher import Publisher, PublisherSettings
from gateway.queue import DiskQueue
from tests.harness.clock import FakeClock
from tests.harness.mqtt import Collector, Received
from tests.harness.services import Broker

pytestmark = pytest.mark.integration

T0 = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
INTERVAL = 10.0


@pytest.fixture
def queue(tmp_path: Path) -> Iterator[DiskQueue]:
    q = DiskQueue(tmp_path / "queue.sqlite", max_messages=10_000)
    yield q
    q.close()


def _publisher(broker: Broker, root: str, queue: DiskQueue, clock: FakeClock) -> Publisher:
    settings = PublisherSettings(
        endpoint=parse(broker.url),
        root=root,
        site="plant",
        gateway_id="gw1",
        client_id=f"gw-{root}",
        state_interval=INTERVAL,
    )
    return Publisher(settings, queue, monotonic=clock)


def _submit(pub: Publisher, queue: DiskQueue, i: int, p_total: float) -> None:
    pub.submit(
        contract.Reading(
            "plant",
            "kron1",
            T0 + timedelta(seconds=i),
            queue.next_seq("kron1"),
            {"p_total": p_total, "freq": 60.0},
        )
    )


def _wait(done: Callable[[], bool], what: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not done():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


def _payloads(messages: list[Received]) -> list[bytes]:
    return [m.payload for m in messages]


def _states(messages: list[Received]) -> list[Received]:
    """Live state messages (retained copies, sent on (re)subscribing, left out)."""
    return [m for m in messages if "/state/" in m.topic and not m.retain]


def test_state_topics_at_most_once_per_interval_latest_value_changed_only(
    mqtt_broker: Broker, topic_root: str, queue: DiskQueue
) -> None:
    clock = FakeClock(5000.0)
    live = Collector(mqtt_broker, f"{topic_root}/plant/kron1/#")
    pub = _publisher(mqtt_broker, topic_root, queue, clock)
    try:
        pub.start()
        assert pub.connected.wait(10)
        for i in range(10):  # fake seconds 0..9, one window: only the first is published
            clock.t = 5000.0 + i
            _submit(pub, queue, i, float(i))
        live.wait_for("/kron1/reading", 10, timeout=30)
        live.wait_for("/state/freq", 1, timeout=10)
        assert _payloads(live.matching("/state/p_total")) == [b"0.0"]
        # the window closes (fake second 10) and the meter said nothing more: the pump
        # publishes the latest reading's value; freq did not change, so it is not re-sent
        clock.t = 5010.0
        got = live.wait_for("/state/p_total", 2, timeout=10)
        assert _payloads(got) == [b"0.0", b"9.0"]
        late = Collector(mqtt_broker, f"{topic_root}/plant/kron1/state/+")  # retained only
        try:
            retained = late.wait_until(lambda ms: len(ms) >= 2, timeout=10)
            assert {m.topic.rsplit("/", 1)[1]: m.payload for m in retained} == {
                "p_total": b"9.0",
                "freq": b"60.0",
            }
            assert all(m.retain for m in retained)
        finally:
            late.close()
        # the next window opened at 5010 with a publish, so it closes at 5020. Second 21
        # (window closed): published at once; 22 and 25 are held back, then only the latest
        # (25.0) is published when the next window closes at 5031.
        clock.t = 5021.0
        _submit(pub, queue, 21, 21.0)
        got = live.wait_for("/state/p_total", 3, timeout=10)
        assert _payloads(got) == [b"0.0", b"9.0", b"21.0"]
        clock.t = 5022.0
        _submit(pub, queue, 22, 22.0)
        clock.t = 5025.0
        _submit(pub, queue, 25, 25.0)
        live.wait_for("/kron1/reading", 13, timeout=30)
        assert _payloads(live.matching("/state/p_total")) == [b"0.0", b"9.0", b"21.0"]
        clock.t = 5031.0
        got = live.wait_for("/state/p_total", 4, timeout=10)
        assert _payloads(got) == [b"0.0", b"9.0", b"21.0", b"25.0"]
        assert _payloads(live.matching("/state/freq")) == [b"60.0"]
        assert len(_states(live.messages)) == 5
    finally:
        pub.stop()
        live.close()


def test_after_a_reconnect_every_quantity_is_published_again(
    mqtt_broker: Broker, topic_root: str, queue: DiskQueue
) -> None:
    if mqtt_broker.local is None:
        pytest.skip("needs a broker this session can restart")
    clock = FakeClock(5000.0)
    live = Collector(mqtt_broker, f"{topic_root}/plant/kron1/state/+")
    pub = _publisher(mqtt_broker, topic_root, queue, clock)
    try:
        pub.start()
        assert pub.connected.wait(10)
        _submit(pub, queue, 0, 1.0)
        live.wait_until(lambda ms: len(_states(ms)) >= 2, timeout=10)
        # The gateway cannot tell whether a restarted broker kept its retained topics (this
        # one saves them; one without persistence forgets them), so it sends them all again.
        mqtt_broker.local.stop()
        mqtt_broker.local.start()
        _wait(lambda: pub.stats.connects == 2 and pub.connected.is_set(), "the reconnect")
        # subscribed again: the broker hands the subscriber its saved retained copies
        _wait(lambda: sum(m.retain for m in live.messages) >= 2, "the re-subscription")
        clock.t += INTERVAL
        _submit(pub, queue, 10, 1.0)  # nothing changed, yet both are sent again
        got = _states(live.wait_until(lambda ms: len(_states(ms)) >= 4, timeout=30))
        assert sorted(_payloads(got[2:])) == [b"1.0", b"60.0"]
    finally:
        pub.stop()
        live.close()
