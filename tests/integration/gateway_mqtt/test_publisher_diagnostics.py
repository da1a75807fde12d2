"""Retained, latest-wins diagnostics through the gateway publisher and a real Mosquitto."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

import contract
from contract.mqtt_url import parse
from gateway.publisher import Publisher, PublisherSettings
from gateway.queue import DiskQueue
from tests.harness.mqtt import Collector
from tests.harness.services import Broker

pytestmark = pytest.mark.integration


def _wait(predicate: object, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():  # type: ignore[operator]
            return True
        time.sleep(0.05)
    return False


def test_diagnostics_are_retained_latest_wins_and_never_queued_to_disk(
    mqtt_broker: Broker, topic_root: str, tmp_path: Path
) -> None:
    if mqtt_broker.local is None:
        pytest.skip("needs a broker this session can restart")
    topic = contract.meter_diagnostics_topic(topic_root, "plant", "kron1")
    queue = DiskQueue(tmp_path / "queue.sqlite", max_messages=1000)
    settings = PublisherSettings(
        endpoint=parse(mqtt_broker.url),
        root=topic_root,
        site="plant",
        gateway_id="gw1",
        client_id=f"gw-{topic_root}",
    )
    pub = Publisher(settings, queue)
    try:
        pub.start()
        assert pub.connected.wait(10)
        live = Collector(mqtt_broker, topic)
        try:
            pub.publish_latest(topic, b'{"n":1}')
            (first,) = live.wait_for("/kron1/diagnostics", 1, timeout=10)
        finally:
            live.close()
        assert first.payload == b'{"n":1}'
        # a subscriber arriving after it gets the broker's retained copy (the live one
        # above carries retain=0: whether a subscriber that raced the publish saw it live
        # or retained depended on timing)
        later = Collector(mqtt_broker, topic)
        try:
            (kept,) = later.wait_for("/kron1/diagnostics", 1, timeout=10)
        finally:
            later.close()
        assert (kept.payload, kept.retain) == (b'{"n":1}', True)
        mqtt_broker.local.stop()  # broker away: only the newest waits, in memory
        assert _wait(lambda: not pub.connected.is_set(), 15)
        for n in (2, 3, 4):
            pub.publish_latest(topic, b'{"n":%d}' % n)
        assert len(queue) == 0 and pub.stats.queued == 0, "nothing goes to the disk queue"
        mqtt_broker.local.start()
        assert pub.connected.wait(20)
        late = Collector(mqtt_broker, topic)
        try:
            got = late.wait_for("/kron1/diagnostics", 1, timeout=10)
        finally:
            late.close()
        assert [(m.payload, m.retain) for m in got] == [(b'{"n":4}', True)]
    finally:
        pub.stop()
        queue.close()
