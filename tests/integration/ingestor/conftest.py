"""Helpers for ingestor tests against the real broker and database."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

import paho.mqtt.client as mqtt
import psycopg
import pytest
from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion

import contract
from contract import Reading
from contract.quantities import QUANTITIES
from ingestor.config import IngestorConfig
from ingestor.service import Service
from tests.harness.ingestor import IngestorProcess, make_config
from tests.harness.services import Broker

__all__ = ["IngestorProcess", "make_config"]  # from tests.harness.ingestor; tests import them here

START = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=1)


def full_values(seq: int) -> dict[str, float]:
    """A plausible value for every canonical quantity."""
    return {
        name: (q.low + q.high) / 2 + (seq % 7) * 1e-3 if q.low < 0 else q.low + 0.5 + seq % 7
        for name, q in QUANTITIES.items()
    }


def reading(site: str, meter: str, seq: int, *, full: bool = True) -> Reading:
    values = full_values(seq) if full else {"p_total": 10.0 + seq % 5, "e_imp_kwh": float(seq)}
    return Reading(site, meter, START + timedelta(seconds=seq), seq, values)


def readings(n: int, meters: int = 5, site: str = "plant", full: bool = True) -> list[Reading]:
    return [reading(site, f"m{i % meters}", i // meters, full=full) for i in range(n)]


def wait_until(predicate: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


def count(db: str, query: str = "SELECT count(*) FROM readings") -> int:
    with psycopg.connect(db, connect_timeout=5) as conn:
        row = conn.execute(query).fetchone()
    assert row is not None
    return int(row[0])


def count_or_none(db: str) -> int | None:
    try:
        return count(db)
    except psycopg.OperationalError:
        return None


def _acked(info: mqtt.MQTTMessageInfo) -> bool:
    """PUBACK received; a message queued while the broker was down counts once resent."""
    try:
        return info.is_published()
    except RuntimeError:  # rc says "not connected" but paho resends it after reconnecting
        return bool(info._published)


class Publisher:
    """A QoS 1 publisher with a persistent session: survives broker restarts."""

    def __init__(self, broker: Broker, client_id: str) -> None:
        self.client = mqtt.Client(
            CallbackAPIVersion.VERSION2, client_id=client_id, protocol=MQTTProtocolVersion.MQTTv5
        )
        self.client.max_queued_messages_set(0)
        self.client.reconnect_delay_set(1, 2)  # 0 spins: a loopback self-connect can steal the port
        self.client.connect(broker.host, broker.port, clean_start=False)
        self.client.loop_start()
        self.infos: list[mqtt.MQTTMessageInfo] = []

    def publish(self, topic: str, payload: bytes) -> None:
        self.infos.append(self.client.publish(topic, payload, qos=1))

    def publish_readings(self, root: str, items: Sequence[Reading], rate: float = 0.0) -> None:
        for i, r in enumerate(items):
            self.publish(contract.reading_topic(root, r.site, r.meter), contract.encode(r))
            if rate and i % 10 == 9:
                time.sleep(10 / rate)

    def wait_all(self, timeout: float) -> None:
        wait_until(lambda: all(_acked(i) for i in self.infos), timeout, "publishes")

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


@contextmanager
def publisher(broker: Broker, client_id: str = "test-publisher") -> Iterator[Publisher]:
    p = Publisher(broker, f"{client_id}-{os.getpid()}-{time.monotonic_ns()}")
    try:
        yield p
    finally:
        p.close()


@contextmanager
def running(config: IngestorConfig, **kwargs: object) -> Iterator[Service]:
    service = Service(config, **kwargs)  # type: ignore[arg-type]
    service.start()
    try:
        wait_until(service.subscriber.subscribed.is_set, 15, "the subscription")
        yield service
    finally:
        service.stop()


@pytest.fixture
def ingestor_process(tmp_path: Path) -> Iterator[Callable[[IngestorConfig], IngestorProcess]]:
    made: list[IngestorProcess] = []

    def make(config: IngestorConfig) -> IngestorProcess:
        p = IngestorProcess(config, tmp_path / f"ingestor-{len(made)}.log")
        made.append(p)
        return p

    yield make
    for p in made:
        p.kill()


class Background:
    """Run a function in a thread that the test joins (with a timeout)."""

    def __init__(self, fn: Callable[[], None]) -> None:
        self.error: BaseException | None = None

        def target() -> None:
            try:
                fn()
            except BaseException as exc:
                self.error = exc

        self.thread = threading.Thread(target=target, daemon=True)
        self.thread.start()

    def join(self, timeout: float) -> None:
        self.thread.join(timeout)
        assert not self.thread.is_alive(), "background work did not finish in time"
        if self.error is not None:
            raise self.error
