"""Modbus diagnostics history: the writer and the service against real TimescaleDB and Mosquitto."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest

import contract
from contract import diagnostics as diag
from ingestor import health
from ingestor.writer import Message, Writer
from tests.harness.services import Broker
from tests.integration.ingestor.conftest import (
    count,
    make_config,
    publisher,
    readings,
    running,
    wait_until,
)

pytestmark = pytest.mark.integration

TS = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=5)


def meter_diag(meter: str, ts: datetime = TS, **changes: Any) -> diag.Diagnostics:
    fields: dict[str, Any] = {
        "period_s": 15.0,
        **dict.fromkeys(diag.COUNT_FIELDS, 0),
        "requests": 40,
        "successes": 36,
        "timeouts": 3,
        "retries": 2,
        "exceptions": 1,
        "exception_codes": {"2": 1},
        "latency_last_ms": 12.5,
        "latency_p50_ms": 12.0,
        "latency_p95_ms": 19.0,
        "latency_max_ms": 22.0,
        "unit": 3,
        "status": "online",
        "consecutive_failures": 0,
        "backoff_s": 0.0,
        "next_try_in_s": None,
        "seconds_since_good_read": 0.4,
    }
    fields.update(changes)
    return diag.Diagnostics(ts, "plant", "gw1", "lan", meter, fields)


def bus_diag(ts: datetime = TS) -> diag.Diagnostics:
    meter = meter_diag("x").fields
    fields = {k: v for k, v in meter.items() if k in diag.BUS_FIELDS}
    fields |= {"cycles": 15, "cycle_last_ms": 80.0, "cycle_max_ms": 95.0, "overruns": 1}
    fields |= {"meters": 2, "meters_online": 1}
    return diag.Diagnostics(ts, "plant", "gw1", "lan", None, fields)


def rows(db: str, query: str) -> list[tuple[Any, ...]]:
    with psycopg.connect(db) as conn:
        return conn.execute(query).fetchall()


def test_writer_stores_meter_and_bus_diagnostics_once(db: str) -> None:
    batch = [meter_diag("kron1"), meter_diag("pac1", status="unreachable"), bus_diag()]
    with Writer(db) as writer:
        first = writer.write([], [], batch)
        again = writer.write([], [], batch)
    assert (first.diagnostics, again.diagnostics) == (3, 0), "a redelivery is skipped"
    assert first.new_meters == [("plant", "kron1"), ("plant", "pac1")]
    stored = rows(
        db,
        "SELECT m.name, d.time, d.status, d.requests, d.timeouts, d.exception_codes,"
        " d.latency_p95_ms, d.next_try_in_s FROM modbus_meter_diagnostics d"
        " JOIN meters m USING (meter_id) ORDER BY m.name",
    )
    assert stored == [
        ("kron1", TS, "online", 40, 3, {"2": 1}, 19.0, None),
        ("pac1", TS, "unreachable", 40, 3, {"2": 1}, 19.0, None),
    ]
    bus = rows(
        db,
        "SELECT site_id, gateway, bus, cycles, overruns, meters_online FROM modbus_bus_diagnostics",
    )
    assert bus == [("plant", "gw1", "lan", 15, 1, 1)]
    view = rows(
        db,
        "SELECT meter, status, timeouts, latency_p95_ms FROM bi.modbus_diagnostics ORDER BY meter",
    )
    assert view == [("kron1", "online", 3, 19.0), ("pac1", "unreachable", 3, 19.0)]


def test_isolated_batch_stores_diagnostics_and_dead_letters_only_the_refused_reading(
    db: str,
) -> None:
    with psycopg.connect(db) as conn:
        conn.execute("ALTER TABLE readings ADD CONSTRAINT test_no_seq_3 CHECK (seq <> 3)")
    batch = readings(5, meters=1)  # meter m0, new to the writer
    records: list[contract.Reading | diag.Diagnostics] = [
        *batch[:2], meter_diag("m0"), bus_diag(), *batch[2:], meter_diag("kron9")
    ]  # fmt: skip
    messages = [Message(r, f"t/{i}", f"payload {i}".encode()) for i, r in enumerate(records)]
    with Writer(db) as writer:
        result = writer.write_isolated(messages, [], keep_bytes=4096)
        again = writer.write_isolated(messages, [], keep_bytes=4096)
    assert (result.inserted, result.diagnostics, result.rejected) == (4, 3, 1)
    assert (again.inserted, again.diagnostics) == (0, 0), "redeliveries are skipped"
    assert result.new_meters == [("plant", "kron9"), ("plant", "m0")]
    assert count(db) == 4
    stored = rows(
        db,
        "SELECT m.name FROM modbus_meter_diagnostics d JOIN meters m USING (meter_id)"
        " ORDER BY m.name",
    )
    assert stored == [("kron9",), ("m0",)]
    assert rows(db, "SELECT count(*) FROM modbus_bus_diagnostics") == [(1,)]
    dead = rows(db, "SELECT reason, topic FROM ingest_rejects ORDER BY reject_id")
    assert dead == [("db_refused", "t/5"), ("db_refused", "t/5")]  # seq 3, both times


def test_service_stores_diagnostics_from_mqtt_rejects_bad_ones_and_counts_each_once(
    db: str, mqtt_broker: Broker, topic_root: str, tmp_path: Path
) -> None:
    good = meter_diag("kron1")
    bus = bus_diag()
    bad = diag.encode(meter_diag("kron1", ts=TS + timedelta(seconds=15))).replace(
        b'"timeouts":3', b'"timeouts":-3'
    )
    meter_topic = contract.meter_diagnostics_topic(topic_root, "plant", "kron1")
    bus_topic = contract.bus_diagnostics_topic(topic_root, "plant", "gw1", "lan")
    config = make_config(db, mqtt_broker, topic_root, tmp_path)
    with running(config, status_interval=0.1) as service:
        with publisher(mqtt_broker) as pub:
            pub.publish(meter_topic, diag.encode(good))
            pub.publish(bus_topic, diag.encode(bus))
            pub.publish(meter_topic, bad)
            pub.publish_readings(topic_root, readings(10, meters=2, full=False))
            pub.wait_all(30)
            wait_until(lambda: service.counters.acked == 13, 30, "13 acknowledgements")
            pub.publish(meter_topic, diag.encode(good))  # a redelivery: stored already
            pub.publish_readings(topic_root, readings(4, meters=2, full=False))  # replayed
            pub.wait_all(30)
        wait_until(lambda: service.counters.acked == 18, 30, "18 acknowledgements")
        c = service.counters
        assert (c.received, c.written, c.diagnostics, c.rejected, c.duplicates) == (18, 10, 2, 1, 5)
        wait_until(
            lambda: health.read_status(config.status_file)["counters"]["acked"] == 18,
            10,
            "the status file",
        )
        counted = health.read_status(config.status_file)["counters"]
        parts = ("written", "duplicates", "rejected", "diagnostics")
        assert counted["received"] == sum(counted[k] for k in parts) == 18
        assert counted["diagnostics"] == 2
    assert count(db, "SELECT count(*) FROM modbus_meter_diagnostics") == 1
    assert count(db, "SELECT count(*) FROM modbus_bus_diagnostics") == 1
    rejects = rows(db, "SELECT topic, reason, payload FROM ingest_rejects")
    assert rejects == [(meter_topic, "bad_type", bad)]


def test_grafana_and_bi_read_the_diagnostics_and_only_the_ingestor_writes(db: str) -> None:
    with Writer(db) as writer:
        writer.write([], [], [meter_diag("kron1"), bus_diag()])
    with psycopg.connect(db, autocommit=True) as conn:
        conn.execute("SET ROLE emusa_bi")
        assert conn.execute("SELECT count(*) FROM bi.modbus_diagnostics").fetchone() == (1,)
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("SELECT count(*) FROM public.modbus_meter_diagnostics")
        conn.execute("RESET ROLE")
        conn.execute("SET ROLE emusa_grafana")
        for table in (
            "modbus_meter_diagnostics",
            "modbus_bus_diagnostics",
            "bi.modbus_diagnostics",
        ):
            assert conn.execute(f"SELECT count(*) FROM {table}").fetchone() == (1,)
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("DELETE FROM modbus_meter_diagnostics")
        conn.execute("RESET ROLE")
        conn.execute("SET ROLE emusa_ingestor")
        conn.execute(
            "INSERT INTO modbus_bus_diagnostics SELECT time + interval '1 s', site_id, gateway,"
            " bus, period_s, requests, successes, timeouts, crc_errors, exceptions,"
            " exception_codes, connect_errors, invalid, retries, latency_last_ms, latency_p50_ms,"
            " latency_p95_ms, latency_max_ms, cycles, cycle_last_ms, cycle_max_ms, overruns,"
            " meters, meters_online FROM modbus_bus_diagnostics"
        )
