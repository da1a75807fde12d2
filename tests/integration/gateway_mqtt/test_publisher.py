"""The gateway's store-and-forward publisher against a real Mosquitto."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

import contract
from contract.mqtt_url import parse
from gateway.publisher import Publisher, PublisherSettings
from gateway.queue import DiskQueue
from tests.harness.mqtt import Collector
from tests.harness.services import Broker

pytestmark = pytest.mark.integration

T0 = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


def _settings(broker: Broker, root: str, **kw: object) -> PublisherSettings:
    return PublisherSettings(
        endpoint=parse(broker.url),
        root=root,
        site="plant",
        gateway_id="gw1",
        client_id=f"gw-{root}",
        **kw,  # type: ignore[arg-type]
    )


def _reading(queue: DiskQueue, i: int, meter: str = "kron1") -> contract.Reading:
    return contract.Reading(
        "plant",
        meter,
        T0 + timedelta(seconds=i),
        queue.next_seq(meter),
        {"p_total": float(i), "freq": 60.0},
    )


@pytest.fixture
def queue(tmp_path: Path) -> Iterator[DiskQueue]:
    q = DiskQueue(tmp_path / "queue.sqlite", max_messages=100_000)
    yield q
    q.close()


def _seqs(messages: list[object]) -> list[int]:
    return [json.loads(m.payload)["seq"] for m in messages]  # type: ignore[attr-defined]


def test_readings_arrive_in_order_and_leave_the_queue(
    mqtt_broker: Broker, topic_root: str, queue: DiskQueue
) -> None:
    collector = Collector(mqtt_broker, f"{topic_root}/#")
    pub = Publisher(_settings(mqtt_broker, topic_root), queue)
    try:
        pub.start()
        assert pub.connected.wait(10)
        for i in range(500):
            pub.submit(_reading(queue, i))
        got = collector.wait_for("/kron1/reading", 500, timeout=30)
        assert _seqs(got) == list(range(1, 501))
        assert pub.wait_idle(10)
        assert len(queue) == 0
        first = contract.decode(
            got[0].payload, topic=("plant", "kron1"), now=T0 + timedelta(days=1)
        )
        assert first.values == {"p_total": 0.0, "freq": 60.0}
        status = collector.wait_for("/gateway/gw1/status", 1, timeout=10)
        assert status[0].payload == b"online"
        state = collector.wait_for("/kron1/state/p_total", 500, timeout=10)
        assert state[-1].payload == b"499.0"
    finally:
        pub.stop()
        collector.close()
    offline = collector.matching("/gateway/gw1/status")
    assert offline[-1].payload in {b"online", b"offline"}


def test_broker_outage_loses_nothing_and_keeps_order(
    mqtt_broker: Broker, topic_root: str, queue: DiskQueue
) -> None:
    if mqtt_broker.local is None:
        pytest.skip("needs a broker this session can restart")
    collector = Collector(mqtt_broker, f"{topic_root}/+/+/reading")
    pub = Publisher(_settings(mqtt_broker, topic_root, state_topics=False), queue)
    try:
        pub.start()
        assert pub.connected.wait(10)
        for i in range(100):
            pub.submit(_reading(queue, i))
        mqtt_broker.local.stop()
        for i in range(100, 400):  # while the broker is down: all go to disk
            pub.submit(_reading(queue, i))
        assert not pub.connected.is_set()
        assert len(queue) >= 300
        mqtt_broker.local.start()
        for i in range(400, 500):
            pub.submit(_reading(queue, i))
        got = collector.wait_until(
            lambda ms: len({json.loads(m.payload)["seq"] for m in ms}) >= 500, 60
        )
        # QoS 1 is at-least-once: a message in flight when the broker stopped may arrive
        # twice (the broker redelivers it flagged DUP, or the gateway re-sends one whose
        # PUBACK was lost). Consumers keep the first copy per (meter, seq), as the ingestor
        # does through its unique key. Nothing is lost and the first copies are in order.
        first: list[int] = []
        repeats = []
        for m in got:
            seq = json.loads(m.payload)["seq"]
            (repeats.append(m) if seq in first else first.append(seq))
        assert first == list(range(1, 501)), "every reading, in order"
        assert {json.loads(m.payload)["seq"] for m in repeats} <= set(range(1, 101)), (
            "only what the broker had sent before it stopped"
        )
        assert pub.wait_idle(10)
        assert len(queue) == 0
    finally:
        pub.stop()
        collector.close()


def test_gateway_restart_replays_the_queue(
    mqtt_broker: Broker, topic_root: str, tmp_path: Path
) -> None:
    if mqtt_broker.local is None:
        pytest.skip("needs a broker this session can restart")
    path = tmp_path / "q.sqlite"
    collector = Collector(mqtt_broker, f"{topic_root}/+/+/reading")
    try:
        mqtt_broker.local.stop()
        q1 = DiskQueue(path, 1000)
        pub1 = Publisher(_settings(mqtt_broker, topic_root), q1)
        pub1.start()
        for i in range(50):
            pub1.submit(_reading(q1, i))
        assert pub1.stop(flush_timeout=0.5) is False  # nothing could be flushed
        q1.close()
        mqtt_broker.local.start()
        q2 = DiskQueue(path, 1000)
        assert len(q2) == 50
        pub2 = Publisher(_settings(mqtt_broker, topic_root), q2)
        pub2.start()
        try:
            pub2.submit(_reading(q2, 50))  # the sequence continues across the restart
            got = collector.wait_for("/kron1/reading", 51, timeout=30)
            assert _seqs(got) == list(range(1, 52))
            assert pub2.wait_idle(10)
        finally:
            pub2.stop()
            q2.close()
    finally:
        collector.close()


def test_meter_status_is_retained_and_republished(
    mqtt_broker: Broker, topic_root: str, queue: DiskQueue
) -> None:
    pub = Publisher(_settings(mqtt_broker, topic_root), queue)
    pub.set_meter_status("kron1", contract.STATUS_UNREACHABLE)  # before connecting
    early = Collector(mqtt_broker, f"{topic_root}/plant/kron1/status")
    try:
        pub.start()
        assert pub.connected.wait(10)
        # once a subscriber has it live, the broker holds it retained for a late one
        assert early.wait_for("/kron1/status", 1, timeout=10)[0].payload == b"unreachable"
        late = Collector(mqtt_broker, f"{topic_root}/plant/kron1/status")  # joins after: retained
        try:
            got = late.wait_for("/kron1/status", 1, timeout=10)
            assert got[0].payload == b"unreachable"
            assert got[0].retain
            pub.set_meter_status("kron1", contract.STATUS_ONLINE)
            got = late.wait_for("/kron1/status", 2, timeout=10)
            assert got[1].payload == b"online"
        finally:
            late.close()
    finally:
        pub.stop()
        early.close()


def test_bad_credentials_are_reported_not_retried_silently(
    mqtt_broker: Broker, topic_root: str, queue: DiskQueue, caplog: pytest.LogCaptureFixture
) -> None:
    if mqtt_broker.auth_port is None:
        pytest.skip("needs the password listener of the local broker")
    settings = PublisherSettings(
        endpoint=parse(
            f"mqtt://{mqtt_broker.username}:wrong@{mqtt_broker.host}:{mqtt_broker.auth_port}"
        ),
        root=topic_root,
        site="plant",
        gateway_id="gw1",
        client_id=f"gw-{topic_root}",
    )
    pub = Publisher(settings, queue)
    with caplog.at_level("ERROR", logger="gateway.publisher"):
        pub.start()
        pub.submit(_reading(queue, 0))
        for _ in range(100):
            if any("refused the connection" in r.getMessage() for r in caplog.records):
                break
            pub.connected.wait(0.1)
        pub.stop(flush_timeout=0.2)
    assert any("refused the connection" in r.getMessage() for r in caplog.records)
    assert "wrong" not in caplog.text, "the password is never logged"
    assert len(queue) == 1, "the reading waits on disk"


def test_a_clean_stop_does_not_warn_that_readings_wait(
    mqtt_broker: Broker, topic_root: str, queue: DiskQueue, caplog: pytest.LogCaptureFixture
) -> None:
    pub = Publisher(_settings(mqtt_broker, topic_root), queue)
    with caplog.at_level("INFO", logger="gateway.publisher"):
        pub.start()
        assert pub.connected.wait(10)
        pub.submit(_reading(queue, 0))
        assert pub.stop(flush_timeout=10), "the queue was flushed before the stop"
    assert len(queue) == 0
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING], caplog.text
