"""The harness reaches real services: a TimescaleDB server and a Mosquitto broker."""

from __future__ import annotations

import threading

import paho.mqtt.client as mqtt
import psycopg
import pytest

from tests.conftest import PgServer
from tests.harness.services import Broker

pytestmark = pytest.mark.integration


def test_timescaledb_is_real_and_preloaded(db: str) -> None:
    with psycopg.connect(db) as conn:
        version = conn.execute(
            "SELECT extversion FROM pg_extension WHERE extname = 'timescaledb'"
        ).fetchone()
        license_ = conn.execute("SHOW timescaledb.license").fetchone()
        hypertables = conn.execute(
            "SELECT hypertable_name FROM timescaledb_information.hypertables"
        ).fetchall()
    assert version is not None and version[0].startswith("2.")
    assert license_ is not None and license_[0] in {"apache", "timescale"}
    assert ("readings",) in hypertables


def test_each_test_gets_its_own_database(pg_server: PgServer, db: str) -> None:
    with psycopg.connect(db) as conn:
        conn.execute("INSERT INTO sites (site_id, name) VALUES ('isolation', 'x')")
    other = pg_server.create_database(template=db.rsplit("dbname=", 1)[-1].split(maxsplit=1)[0])
    try:
        with psycopg.connect(pg_server.dsn(other)) as conn:
            # the copy has the row of its template: copies are real, independent databases
            assert conn.execute("SELECT count(*) FROM sites").fetchone() == (1,)
            conn.execute("DELETE FROM tariff_windows; DELETE FROM sites")
        with psycopg.connect(db) as conn:
            assert conn.execute("SELECT count(*) FROM sites").fetchone() == (1,)
    finally:
        pg_server.drop_database(other)


def _client(broker: Broker, port: int, **creds: str) -> mqtt.Client:
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5)
    if creds:
        client.username_pw_set(creds["username"], creds["password"])
    return client


def test_mosquitto_round_trip(mqtt_broker: Broker, topic_root: str) -> None:
    got: list[bytes] = []
    received = threading.Event()
    sub = _client(mqtt_broker, mqtt_broker.port)

    def on_message(_c: mqtt.Client, _u: object, msg: mqtt.MQTTMessage) -> None:
        got.append(msg.payload)
        received.set()

    subscribed = threading.Event()
    sub.on_message = on_message
    sub.on_subscribe = lambda *_a: subscribed.set()
    sub.connect(mqtt_broker.host, mqtt_broker.port)
    sub.loop_start()
    try:
        sub.subscribe(f"{topic_root}/#", qos=1)
        assert subscribed.wait(10)
        pub = _client(mqtt_broker, mqtt_broker.port)
        pub.connect(mqtt_broker.host, mqtt_broker.port)
        pub.loop_start()
        pub.publish(f"{topic_root}/x", b"hello", qos=1).wait_for_publish(10)
        pub.loop_stop()
        pub.disconnect()
        assert received.wait(10)
        assert got == [b"hello"]
    finally:
        sub.loop_stop()
        sub.disconnect()


def test_password_listener_refuses_bad_credentials(mqtt_broker: Broker) -> None:
    if (
        mqtt_broker.auth_port is None
        or mqtt_broker.username is None
        or mqtt_broker.password is None
    ):
        pytest.skip("the broker of this session has no password listener")
    good = _client(
        mqtt_broker,
        mqtt_broker.auth_port,
        username=mqtt_broker.username,
        password=mqtt_broker.password,
    )
    assert good.connect(mqtt_broker.host, mqtt_broker.auth_port) == mqtt.MQTT_ERR_SUCCESS
    rc: list[object] = []
    bad = _client(
        mqtt_broker, mqtt_broker.auth_port, username=mqtt_broker.username, password="wrong"
    )
    bad.on_connect = lambda _c, _u, _f, reason, _p: rc.append(reason)
    bad.connect(mqtt_broker.host, mqtt_broker.auth_port)
    for _ in range(100):
        bad.loop(timeout=0.1)
        if rc:
            break
    good.on_connect = lambda _c, _u, _f, reason, _p: rc.append(reason)
    for _ in range(100):
        good.loop(timeout=0.1)
        if len(rc) == 2:
            break
    assert len(rc) == 2
    assert rc[0].is_failure  # type: ignore[attr-defined]
    assert not rc[1].is_failure  # type: ignore[attr-defined]
    good.disconnect()
