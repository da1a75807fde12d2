"""Faults mid-stream: every published reading ends up stored exactly once.

Each test publishes a known set of readings while something breaks (the ingestor is
SIGKILLed, PostgreSQL or Mosquitto restarts), then compares published and stored rows
exactly: same count, same (meter, seq) set, no duplicates.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import psycopg
import pytest

from contract import Reading
from ingestor import health
from tests.conftest import PgServer
from tests.harness.services import Broker
from tests.integration.ingestor.conftest import (
    Background,
    IngestorProcess,
    count,
    count_or_none,
    make_config,
    publisher,
    readings,
    running,
    wait_until,
)

pytestmark = pytest.mark.integration

RATE = 1000.0  # readings/s published during the faults


def _assert_exactly_once(db: str, published: list[Reading]) -> None:
    with psycopg.connect(db) as conn:
        rows = conn.execute(
            "SELECT m.name, r.seq FROM readings r JOIN meters m USING (meter_id)"
        ).fetchall()
    expected = sorted((r.meter, r.seq) for r in published)
    assert len(rows) == len(published)
    assert sorted(rows) == expected


def _status_ok(path: Path) -> bool:
    try:
        return health.check(health.read_status(path)) == []
    except (OSError, ValueError):
        return False


def test_sigkill_mid_stream_then_restart(
    db: str,
    mqtt_broker: Broker,
    topic_root: str,
    tmp_path: Path,
    ingestor_process: Callable[..., IngestorProcess],
) -> None:
    items = readings(4000, meters=8)
    config = make_config(db, mqtt_broker, topic_root, tmp_path)
    proc = ingestor_process(config)
    proc.start()
    wait_until(lambda: _status_ok(config.status_file), 30, "the ingestor to be healthy")
    with publisher(mqtt_broker) as pub:
        sending = Background(lambda: pub.publish_readings(topic_root, items, rate=RATE))
        wait_until(lambda: count(db) >= 500, 30, "the first readings")
        proc.kill()
        stored_at_kill = count(db)
        still_publishing = sending.thread.is_alive()
        config.status_file.unlink()
        time.sleep(0.5)
        proc.start()
        wait_until(lambda: _status_ok(config.status_file), 30, "the restarted ingestor")
        sending.join(60)
        pub.wait_all(30)
    assert still_publishing
    assert stored_at_kill < len(items)
    wait_until(lambda: count(db) == len(items), 60, "every reading to be stored")
    assert proc.terminate() == 0
    _assert_exactly_once(db, items)


def test_postgres_restart_mid_stream(
    db: str, pg_server: PgServer, mqtt_broker: Broker, topic_root: str, tmp_path: Path
) -> None:
    if pg_server.local is None:
        pytest.skip("PostgreSQL is not a local cluster of this session (TEST_DSN/container)")
    items = readings(3000, meters=6)
    config = make_config(db, mqtt_broker, topic_root, tmp_path)
    with running(config) as service, publisher(mqtt_broker) as pub:
        sending = Background(lambda: pub.publish_readings(topic_root, items, rate=RATE))
        wait_until(lambda: service.counters.written >= 300, 30, "the first readings")
        try:
            pg_server.local.stop()
            time.sleep(2.0)
            acked_while_down = service.counters.acked
            time.sleep(0.5)
            assert service.counters.acked == acked_while_down  # nothing acked without a DB
            assert not service.status().db_ok
        finally:
            pg_server.local.start()
        sending.join(60)
        pub.wait_all(30)
        wait_until(lambda: count_or_none(db) == len(items), 60, "every reading to be stored")
        assert service.counters.retries > 0
        wait_until(lambda: service.status().db_ok, 10, "the database state to recover")
    _assert_exactly_once(db, items)


def test_broker_restart_mid_stream(
    db: str, mqtt_broker: Broker, topic_root: str, tmp_path: Path
) -> None:
    if mqtt_broker.local is None:
        pytest.skip("Mosquitto is not a local broker of this session (TEST_MQTT_URL/container)")
    items = readings(3000, meters=6)
    config = make_config(db, mqtt_broker, topic_root, tmp_path)
    with running(config) as service, publisher(mqtt_broker) as pub:
        sending = Background(lambda: pub.publish_readings(topic_root, items, rate=RATE))
        wait_until(lambda: service.counters.written >= 300, 30, "the first readings")
        mqtt_broker.local.restart(down_for=1.0)
        sending.join(60)
        pub.wait_all(60)
        wait_until(lambda: count(db) == len(items), 60, "every reading to be stored")
        assert service.subscriber.connects >= 2
    _assert_exactly_once(db, items)


def test_database_unreachable_holds_at_most_receive_maximum_then_catches_up(
    db: str, mqtt_broker: Broker, topic_root: str, tmp_path: Path
) -> None:
    items = readings(1000, meters=4, full=False)
    window = 100
    down = make_config(
        db,
        mqtt_broker,
        topic_root,
        tmp_path,
        database_url="postgresql://nobody@127.0.0.1:1/none?connect_timeout=1",
        receive_maximum=window,
    )
    with running(down) as service:
        with publisher(mqtt_broker) as pub:
            pub.publish_readings(topic_root, items)
            pub.wait_all(30)
        wait_until(lambda: service.counters.received == window, 15, "the receive window to fill")
        wait_until(lambda: service.counters.retries >= 2, 15, "two failed attempts")
        assert service.counters.received == window  # the broker keeps the other 900
        assert service.counters.acked == 0
        assert not service.status().db_ok
    up = down.model_copy(update={"database_url": db})
    with running(up) as service:
        wait_until(lambda: count(db) == len(items), 60, "the backlog to be stored")
        wait_until(lambda: service.counters.acked >= len(items), 30, "every acknowledgement")
    _assert_exactly_once(db, items)


def test_memory_stays_bounded_draining_a_backlog_while_the_database_is_down(
    db: str, mqtt_broker: Broker, topic_root: str, tmp_path: Path
) -> None:
    # Mosquitto 2.0.11 overshoots the client's Receive Maximum when it drains a session's
    # offline backlog; the ingestor then stops reading at 2 x receive_maximum + batch_rows.
    items = readings(2000, meters=4, full=False)
    config = make_config(
        db,
        mqtt_broker,
        topic_root,
        tmp_path,
        database_url="postgresql://nobody@127.0.0.1:1/none?connect_timeout=1",
        receive_maximum=20,
        batch_rows=50,
    )
    with running(config):
        pass  # creates the persistent session and its subscription
    with publisher(mqtt_broker) as pub:
        pub.publish_readings(topic_root, items)
        pub.wait_all(30)
    with running(config) as service:
        wait_until(lambda: service.counters.received >= 20, 15, "the backlog to start")
        time.sleep(2.0)
        assert service.counters.received <= 2 * 20 + 50 + 1
        assert service.counters.acked == 0
    with running(config.model_copy(update={"database_url": db})):
        wait_until(lambda: count(db) == len(items), 60, "the backlog to be stored")
    _assert_exactly_once(db, items)
