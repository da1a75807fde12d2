"""The ingestor service end to end: real Mosquitto, real TimescaleDB."""

from __future__ import annotations

import json
from pathlib import Path

import psycopg
import pytest

import contract
from ingestor import health
from tests.harness.services import Broker
from tests.integration.ingestor.conftest import (
    START,
    count,
    full_values,
    make_config,
    publisher,
    readings,
    running,
    wait_until,
)

pytestmark = pytest.mark.integration


def test_readings_are_stored_with_every_quantity(
    db: str, mqtt_broker: Broker, topic_root: str, tmp_path: Path
) -> None:
    items = readings(300, meters=3)
    with running(make_config(db, mqtt_broker, topic_root, tmp_path)) as service:
        with publisher(mqtt_broker) as pub:
            pub.publish_readings(topic_root, items)
            pub.wait_all(30)
        wait_until(lambda: service.counters.acked == 300, 30, "300 acknowledgements")
        assert service.counters.written == 300
        assert service.counters.received == 300
    with psycopg.connect(db) as conn:
        meters = conn.execute("SELECT site_id, name FROM meters ORDER BY name").fetchall()
        assert meters == [("plant", "m0"), ("plant", "m1"), ("plant", "m2")]
        assert conn.execute("SELECT site_id, name FROM sites").fetchall() == [("plant", "plant")]
        row = conn.execute(
            "SELECT r.* FROM readings r JOIN meters m USING (meter_id)"
            " WHERE m.name = 'm1' AND r.seq = 4"
        ).fetchone()
        assert row is not None
        description = conn.execute("SELECT * FROM readings LIMIT 0").description
    assert description is not None
    columns = [d.name for d in description]
    stored = dict(zip(columns, row, strict=True))
    assert stored.pop("time") == items[13].ts
    stored.pop("meter_id")
    assert stored.pop("seq") == 4
    assert stored == pytest.approx(full_values(4))


def test_redelivered_readings_are_stored_once(
    db: str, mqtt_broker: Broker, topic_root: str, tmp_path: Path
) -> None:
    items = readings(100, meters=2, full=False)
    with running(make_config(db, mqtt_broker, topic_root, tmp_path)) as service:
        with publisher(mqtt_broker) as pub:
            pub.publish_readings(topic_root, items)
            pub.publish_readings(topic_root, items[:40])  # a gateway replaying its buffer
            pub.wait_all(30)
        wait_until(lambda: service.counters.acked == 140, 30, "140 acknowledgements")
        assert (service.counters.written, service.counters.duplicates) == (100, 40)
    assert count(db) == 100


BAD_INPUT = [
    ("malformed_json", b'{"v": 1, "ts": ', "bad_json"),
    ("not_an_object", b"[1, 2, 3]", "bad_json"),
    ("wrong_type_seq", {"seq": "7"}, "bad_type"),
    ("string_for_number", {"values": {"p_total": "45.2"}}, "bad_type"),
    ("nan", b"NaN", "not_finite"),
    ("unknown_version", {"v": 2}, "bad_version"),
    ("missing_field", {"ts": None}, "missing_field"),
    ("bad_timestamp", {"ts": "yesterday"}, "bad_ts"),
    ("future_timestamp", {"ts": "2999-01-01T00:00:00Z"}, "future_ts"),
    ("before_retention", {"ts": "2001-01-01T00:00:00Z"}, "old_ts"),
    ("unknown_quantity", {"values": {"warp_factor": 9.0}}, "unknown_quantity"),
    ("implausible", {"values": {"freq": 5000.0}}, "implausible"),
    ("topic_mismatch", {"meter": "other"}, "topic_mismatch"),
    ("huge_payload", b"x" * 100_000, "too_large"),
    ("not_utf8", b"\xff\xfe\x00garbage", "bad_json"),
]


def _bad_payload(spec: object, seq: int) -> bytes:
    if isinstance(spec, bytes):
        if spec == b"NaN":
            good = contract.encode(contract.Reading("plant", "bad", START, seq, {"p_total": 1.0}))
            return good.replace(b'"p_total":1.0', b'"p_total":NaN')
        return spec
    assert isinstance(spec, dict)
    doc = json.loads(contract.encode(contract.Reading("plant", "bad", START, seq, {"p_total": 1})))
    for key, value in spec.items():
        if value is None:
            del doc[key]
        else:
            doc[key] = value
    return json.dumps(doc).encode()


def test_bad_input_goes_to_rejects_and_good_messages_around_it_are_stored(
    db: str, mqtt_broker: Broker, topic_root: str, tmp_path: Path
) -> None:
    good = readings(len(BAD_INPUT) + 1, meters=1)
    bad_topic = contract.reading_topic(topic_root, "plant", "bad")
    with running(make_config(db, mqtt_broker, topic_root, tmp_path)) as service:
        with publisher(mqtt_broker) as pub:
            for i, (_, spec, _) in enumerate(BAD_INPUT):
                pub.publish_readings(topic_root, [good[i]])
                pub.publish(bad_topic, _bad_payload(spec, i))
            pub.publish_readings(topic_root, [good[-1]])
            pub.publish(f"{topic_root}/plant/bad name/reading", b"{}")
            pub.wait_all(30)
        total = 2 * len(BAD_INPUT) + 2
        wait_until(lambda: service.counters.acked == total, 30, f"{total} acknowledgements")
        assert service.counters.rejected == len(BAD_INPUT) + 1
    with psycopg.connect(db) as conn:
        rows = conn.execute(
            "SELECT topic, reason, payload, payload_bytes, truncated FROM ingest_rejects"
            " ORDER BY reject_id"
        ).fetchall()
        stored = conn.execute("SELECT seq FROM readings ORDER BY seq").fetchall()
    assert [s for (s,) in stored] == [r.seq for r in good]
    assert [r[1] for r in rows] == [reason for _, _, reason in BAD_INPUT] + ["bad_name"]
    by_case = {case: row for (case, _, _), row in zip(BAD_INPUT, rows, strict=False)}
    huge = by_case["huge_payload"]
    assert (len(huge[2]), huge[3], huge[4]) == (4096, 100_000, True)
    malformed = by_case["malformed_json"]
    assert (bytes(malformed[2]), malformed[3], malformed[4]) == (b'{"v": 1, "ts": ', 15, False)
    assert all(r[0] == bad_topic for r in rows[:-1])


def test_status_file_reports_counters_and_health(
    db: str, mqtt_broker: Broker, topic_root: str, tmp_path: Path
) -> None:
    config = make_config(db, mqtt_broker, topic_root, tmp_path)
    with running(config, status_interval=0.1) as service:
        with publisher(mqtt_broker) as pub:
            pub.publish_readings(topic_root, readings(20, meters=2, full=False))
            pub.wait_all(30)
        wait_until(lambda: service.counters.acked == 20, 30, "20 acknowledgements")
        wait_until(
            lambda: health.read_status(config.status_file)["counters"]["written"] == 20,
            10,
            "the status file",
        )
        doc = health.read_status(config.status_file)
        assert health.check(doc) == []
        assert doc["counters"]["received"] == 20
        assert doc["last_commit"] is not None
    stopped = health.read_status(config.status_file)
    assert "not connected to the MQTT broker" in health.check(stopped)


def test_shared_subscription_splits_the_load_without_loss(
    db: str, mqtt_broker: Broker, topic_root: str, tmp_path: Path
) -> None:
    items = readings(400, meters=4, full=False)
    first = make_config(
        db, mqtt_broker, topic_root, tmp_path, shared_group="ingest", client_id=f"a-{topic_root}"
    )
    second = first.model_copy(
        update={"client_id": f"b-{topic_root}", "status_file": tmp_path / "b.json"}
    )
    with running(first) as a, running(second) as b:
        with publisher(mqtt_broker) as pub:
            pub.publish_readings(topic_root, items)
            pub.wait_all(30)
        wait_until(lambda: a.counters.acked + b.counters.acked == 400, 30, "400 acks")
        assert a.counters.written > 0
        assert b.counters.written > 0
        assert a.counters.written + b.counters.written == 400
    assert count(db) == 400
