"""Poison messages between good ones: the ingestor dead-letters each and never stops (issue 13).

One message whose validation raised a Python error (OverflowError, ValueError) used to stop
``emusa-ingestor run``; the broker then redelivered it after every restart, so the service
never came back and the readings behind it waited. Here each known trigger is published
between good readings to the real ``python -m ingestor run`` process on a real broker.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

import psycopg
import pytest

import contract
import ingestor.service
from contract import diagnostics as diag
from ingestor import health
from ingestor.validate import Policy
from tests.harness.services import Broker
from tests.integration.ingestor.conftest import (
    START,
    IngestorProcess,
    count,
    make_config,
    publisher,
    readings,
    running,
    wait_until,
)
from tests.integration.ingestor.test_diagnostics import bus_diag, meter_diag

pytestmark = pytest.mark.integration

HUGE_LITERAL = "9" * 5000  # more digits than json converts to an int (4,300)


def _reading(number: int, **raw: str) -> bytes:
    """A reading of meter ``bad`` with some fields given as raw JSON text."""
    fields = {
        "v": "1",
        "ts": json.dumps(contract.format_ts(START)),
        "site": '"plant"',
        "meter": '"bad"',
        "seq": str(number),
        "values": '{"p_total":1.0}',
    }
    fields |= raw
    return ("{" + ",".join(f'"{k}":{v}' for k, v in fields.items()) + "}").encode()


def _poison(root: str) -> list[tuple[str, bytes, str]]:
    """(topic, payload, reject reason) of each known trigger."""
    reading = contract.reading_topic(root, "plant", "bad")
    meter = contract.meter_diagnostics_topic(root, "plant", "kron1")
    bus = contract.bus_diagnostics_topic(root, "plant", "gw1", "lan")
    good_meter = diag.encode(meter_diag("kron1"))
    good_bus = diag.encode(bus_diag())
    return [
        (reading, _reading(1, values='{"p_total":1' + "0" * 400 + "}"), "implausible"),
        (reading, _reading(2, values='{"p_total":' + HUGE_LITERAL + "}"), "bad_json"),
        (reading, _reading(3, seq=HUGE_LITERAL), "bad_json"),
        (reading, _reading(4, ts='"0001-01-01T00:00:00+01:00"'), "bad_ts"),
        (reading, _reading(5, ts='"9999-12-31T23:59:59-00:01"'), "bad_ts"),
        (reading, _reading(6, values='{"p_total":NaN}'), "not_finite"),
        (reading, _reading(7, values='{"p_total":-Infinity}'), "not_finite"),
        (reading, _reading(8, meter='"bad","meter":"other"'), "duplicate_key"),
        (reading, _reading(9, values='{"p_total":1.0,"p_total":2.0}'), "duplicate_key"),
        (reading, _reading(10, meter='"bad\\n"'), "bad_name"),  # (Mosquitto refuses it in a topic)
        (meter, good_meter.replace(b'{"2":1}', '{"²":1}'.encode()), "bad_type"),
        (meter, good_meter.replace(b'"period_s":15.0', b'"period_s":1' + b"0" * 400), "bad_type"),
        (meter, good_meter.replace(b'"unit":3', b'"unit":' + HUGE_LITERAL.encode()), "bad_json"),
        (bus, good_bus.replace(b'"cycles":15', b'"cycles":15,"cycles":16'), "duplicate_key"),
        (
            bus,
            good_bus.replace(
                json.dumps(contract.format_ts(bus_diag().ts)).encode(),
                b'"9999-12-31T23:30:00-01:00"',
            ),
            "bad_ts",
        ),
    ]


def test_poison_between_good_readings_is_dead_lettered_and_the_process_keeps_running(
    db: str,
    mqtt_broker: Broker,
    topic_root: str,
    tmp_path: Path,
    ingestor_process: Callable[..., IngestorProcess],
) -> None:
    poison = _poison(topic_root)
    good = readings(len(poison) + 1, meters=1)
    config = make_config(db, mqtt_broker, topic_root, tmp_path)
    proc = ingestor_process(config)
    proc.start()
    assert proc.proc is not None
    wait_until(lambda: _subscribed(config.status_file), 30, "the ingestor to subscribe")
    started = health.read_status(config.status_file)
    with publisher(mqtt_broker) as pub:
        for i, (topic, payload, _) in enumerate(poison):
            pub.publish_readings(topic_root, [good[i]])
            pub.publish(topic, payload)
        pub.publish_readings(topic_root, [good[-1]])
        pub.wait_all(30)
    total = len(good) + len(poison)
    wait_until(
        lambda: (
            proc.proc.poll() is not None
            or health.read_status(config.status_file)["counters"]["acked"] == total
        ),
        60,
        f"{total} acknowledgements",
    )
    status = health.read_status(config.status_file)
    assert proc.proc.poll() is None, proc.log_path.read_text()
    assert (status["pid"], status["pid_started"]) == (proc.proc.pid, started["pid_started"])
    assert status["counters"]["rejected"] == len(poison)
    assert status["counters"]["written"] == len(good)
    with psycopg.connect(db) as conn:
        stored = conn.execute("SELECT seq FROM readings ORDER BY seq").fetchall()
        rejects = conn.execute(
            "SELECT topic, reason, payload FROM ingest_rejects ORDER BY reject_id"
        ).fetchall()
    assert [s for (s,) in stored] == [r.seq for r in good]
    assert [(t, r) for t, r, _ in rejects] == [(t, r) for t, _, r in poison]
    assert [bytes(p) for _, _, p in rejects] == [
        p[: config.reject_keep_bytes] for _, p, _ in poison
    ]
    assert proc.terminate() == 0
    assert "fatal" not in proc.log_path.read_text()


def _subscribed(path: Path) -> bool:
    try:
        return bool(health.read_status(path)["subscribed"])
    except (OSError, ValueError):
        return False


def test_a_message_whose_handling_raises_is_dead_lettered_and_the_service_goes_on(
    db: str,
    mqtt_broker: Broker,
    topic_root: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The service's own guard, under validation's: a bug hit by one message (injected here,
    as no known payload makes ``validate`` raise) costs that message only."""
    real_validate = ingestor.service.validate

    def buggy(topic: str, payload: bytes, policy: Policy, now: datetime) -> object:
        if b'"seq":1,' in payload:
            raise RuntimeError("a bug hit by this message")
        return real_validate(topic, payload, policy, now)

    monkeypatch.setattr(ingestor.service, "validate", buggy)
    good = readings(3, meters=1)
    with running(make_config(db, mqtt_broker, topic_root, tmp_path)) as service:
        with publisher(mqtt_broker) as pub:
            pub.publish_readings(topic_root, good)
            pub.wait_all(30)
        wait_until(lambda: service.counters.acked == 3, 30, "3 acknowledgements")
        assert service.fatal is None
        assert (service.counters.written, service.counters.rejected) == (2, 1)
    with psycopg.connect(db) as conn:
        rejects = conn.execute("SELECT topic, reason FROM ingest_rejects").fetchall()
    assert rejects == [(contract.reading_topic(topic_root, "plant", "m0"), "unparseable")]
    assert count(db, "SELECT count(*) FROM readings WHERE seq <> 1") == 2
