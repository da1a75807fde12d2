"""Ingest benchmark: run with ``.venv/bin/pytest -m benchmark tests/benchmarks -s``.

All figures come from one run on the same machine (see
/work/shared/reference/measured-here.md for why both ceilings are measured here):

* database: direct binary COPY into ``readings`` of prebuilt rows (ceiling), our writer
  fed from memory with decoded readings (rows built, binary COPY in a savepoint, rollup
  invalidation logged, one transaction per 2,000-row batch), and a naive
  one-autocommit-INSERT-per-message baseline;
* MQTT: a subscriber that only receives and parses (ceiling) against the whole ingestor
  (MQTT -> validation -> batches -> database -> acks), both draining the same backlog of
  full contract payloads (every canonical quantity) queued in the broker for their
  persistent session, so the publisher does not compete for the two cores meanwhile;
* latency: publish -> committed at 100 meters x 1 reading/s.

Prints the figures and writes ``bench-results/ingest.json`` (tests/benchmarks/results.py).
Asserts only that every reading arrived, never a speed.
"""

from __future__ import annotations

import os
import socket
import statistics
import threading
import time
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import psycopg
import pytest
from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.subscribeoptions import SubscribeOptions

import contract
from contract import Reading
from contract.quantities import QUANTITIES
from ingestor.config import IngestorConfig
from ingestor.service import Service
from ingestor.writer import Writer, copy_into_readings, queries, reading_row
from tests.benchmarks import results
from tests.harness.services import Broker

pytestmark = pytest.mark.benchmark

METERS = 100
N = int(os.environ.get("EMUSA_BENCH_READINGS", "50000"))
NAIVE_N = 3000
BATCH_ROWS = 2000
BATCH_MS = 200
RECEIVE_MAXIMUM = 8000
# No sweep of receive windows: Mosquitto 2.0.11 does not hold to the client's Receive
# Maximum while draining an offline backlog (tests/integration/ingestor/test_faults.py),
# so the window would not be what is measured here.
ROUNDS = 2
DB_ROUNDS = 3
LATENCY_SECONDS = 20


def _values(i: int) -> dict[str, float]:
    return {
        name: round(q.low + (q.high - q.low) * (0.3 + (i % 97) / 1000), 3)
        for name, q in QUANTITIES.items()
    }


def _readings(n: int, start: datetime) -> list[Reading]:
    return [
        Reading(
            "plant", f"meter{i % METERS:03d}", start + timedelta(seconds=i // METERS), i, _values(i)
        )
        for i in range(n)
    ]


def _client(client_id: str, receive_maximum: int | None = None) -> mqtt.Client:
    c = mqtt.Client(
        CallbackAPIVersion.VERSION2, client_id=client_id, protocol=MQTTProtocolVersion.MQTTv5
    )
    c.on_socket_open = lambda client, userdata, sock: sock.setsockopt(  # type: ignore[attr-defined]
        socket.IPPROTO_TCP, socket.TCP_NODELAY, 1
    )
    return c


def _connect_props(receive_maximum: int) -> Properties:
    props = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
    props.SessionExpiryInterval = 3600
    props.ReceiveMaximum = receive_maximum
    return props


def _create_session(broker: Broker, client_id: str, topic_filter: str) -> None:
    """A persistent session subscribed to the readings, left offline to collect a backlog."""
    c = _client(client_id)
    done = threading.Event()
    c.on_subscribe = lambda *a: done.set()
    c.connect(broker.host, broker.port, clean_start=True, properties=_connect_props(100))
    c.loop_start()
    c.subscribe(topic_filter, options=SubscribeOptions(qos=1))
    assert done.wait(10)
    c.disconnect()
    c.loop_stop()


def _publish(broker: Broker, root: str, payloads: Sequence[tuple[str, bytes]]) -> float:
    """Publish at QoS 1 and wait for every PUBACK; returns messages/s.

    paho's publisher window (max_inflight_messages) stays small: its _update_inflight()
    rescans the whole window from the start on every PUBACK, so a window of 1000 costs
    O(window) per message (the ~550 msg/s "pathological" figure of measured-here.md).
    """
    c = _client(f"bench-pub-{root}")
    c.max_inflight_messages_set(20)
    c.max_queued_messages_set(0)
    c.connect(broker.host, broker.port)
    c.loop_start()
    start = time.perf_counter()
    infos = [c.publish(t, p, qos=1) for t, p in payloads]
    for info in infos:
        info.wait_for_publish(60)
    rate = len(payloads) / (time.perf_counter() - start)
    c.disconnect()
    c.loop_stop()
    return rate


def _messages(root: str, items: Sequence[Reading]) -> list[tuple[str, bytes]]:
    return [(contract.reading_topic(root, r.site, r.meter), contract.encode(r)) for r in items]


def _config(db: str, broker: Broker, root: str, tmp: Path, **kw: object) -> IngestorConfig:
    values: dict[str, object] = {
        "database_url": db,
        "mqtt_url": broker.url,
        "topic_root": root,
        "client_id": f"bench-ingestor-{root}",
        "batch_rows": BATCH_ROWS,
        "batch_ms": BATCH_MS,
        "receive_maximum": RECEIVE_MAXIMUM,
        "status_file": tmp / f"status-{root}.json",
        "retention_days": 3650,
    }
    values.update(kw)
    return IngestorConfig.model_validate(values)


def _truncate(db: str) -> None:
    with psycopg.connect(db, autocommit=True) as conn:
        conn.execute("TRUNCATE readings")


def _count(db: str) -> int:
    with psycopg.connect(db) as conn:
        row = conn.execute("SELECT count(*) FROM readings").fetchone()
    assert row is not None
    return int(row[0])


# --- database paths -------------------------------------------------------------------


def _bench_direct_copy(db: str, items: Sequence[Reading], ids: dict[str, int]) -> float:
    rows = [reading_row(r, ids[r.meter]) for r in items]
    with psycopg.connect(db) as conn:
        start = time.perf_counter()
        copy_into_readings(conn, rows)
        conn.commit()
        seconds = time.perf_counter() - start
    assert _count(db) == len(items)
    return len(items) / seconds


def _bench_writer(db: str, items: Sequence[Reading]) -> float:
    with Writer(db) as w:
        w.connect()
        start = time.perf_counter()
        for i in range(0, len(items), BATCH_ROWS):
            w.write(items[i : i + BATCH_ROWS])
        seconds = time.perf_counter() - start
    assert _count(db) == len(items)
    return len(items) / seconds


def _bench_naive(db: str, items: Sequence[Reading], ids: dict[str, int]) -> float:
    query = queries()["insert_reading"]
    with psycopg.connect(db, autocommit=True) as conn:
        start = time.perf_counter()
        for r in items:
            conn.execute(query, reading_row(r, ids[r.meter]))
        seconds = time.perf_counter() - start
    assert _count(db) == len(items)
    return len(items) / seconds


# --- MQTT paths ---------------------------------------------------------------------------


def _bench_parse_only(broker: Broker, root: str, n: int, receive_maximum: int) -> float:
    client_id = f"bench-parse-{root}"
    got = 0
    first: list[float] = []
    done = threading.Event()

    def on_message(client: mqtt.Client, userdata: Any, msg: mqtt.MQTTMessage) -> None:
        nonlocal got
        if not first:
            first.append(time.perf_counter())
        contract.decode(bytes(msg.payload), topic=contract.parse_reading_topic(msg.topic, root))
        got += 1
        if got == n:
            done.set()

    c = _client(client_id)
    c.on_message = on_message
    start = time.perf_counter()
    c.connect(
        broker.host, broker.port, clean_start=False, properties=_connect_props(receive_maximum)
    )
    c.loop_start()
    assert done.wait(300), f"parse-only subscriber got {got} of {n}"
    seconds = time.perf_counter() - start
    c.disconnect()
    c.loop_stop()
    return n / seconds


def _bench_ingestor(config: IngestorConfig, n: int) -> tuple[float, dict[str, Any]]:
    done = threading.Event()
    stored = 0

    def on_committed(readings: Sequence[Reading], at: float) -> None:
        nonlocal stored
        stored += len(readings)
        if stored >= n:
            done.set()

    service = Service(config, on_committed=on_committed)
    start = time.perf_counter()
    service.start()
    try:
        assert done.wait(300), f"ingestor stored {stored} of {n}"
        seconds = time.perf_counter() - start
    finally:
        service.stop()
    return n / seconds, service.counters.snapshot()


def _bench_latency(db: str, broker: Broker, root: str, tmp: Path) -> dict[str, float]:
    sent: dict[tuple[str, int], float] = {}
    latencies: list[float] = []

    def on_committed(readings: Sequence[Reading], at: float) -> None:
        latencies.extend(at - sent[(r.meter, r.seq)] for r in readings)

    config = _config(db, broker, root, tmp, client_id=f"bench-latency-{root}")
    service = Service(config, on_committed=on_committed)
    service.start()
    pub = _client(f"bench-latency-pub-{root}")
    pub.connect(broker.host, broker.port)
    pub.loop_start()
    try:
        deadline = time.monotonic() + 15
        while not service.subscriber.subscribed.is_set():
            assert time.monotonic() < deadline
            time.sleep(0.05)
        tick = time.monotonic()
        for second in range(LATENCY_SECONDS):
            for m in range(METERS):
                now = datetime.now(UTC)
                r = Reading("plant", f"lat{m:03d}", now, second, _values(m))
                sent[(r.meter, r.seq)] = time.time()
                pub.publish(
                    contract.reading_topic(root, r.site, r.meter), contract.encode(r), qos=1
                )
                time.sleep(1.0 / METERS / 2)  # spread the meters over the second
            tick += 1.0
            time.sleep(max(0.0, tick - time.monotonic()))
        expected = LATENCY_SECONDS * METERS
        deadline = time.monotonic() + 30
        while len(latencies) < expected:
            assert time.monotonic() < deadline, f"{len(latencies)} of {expected} committed"
            time.sleep(0.05)
    finally:
        pub.disconnect()
        pub.loop_stop()
        service.stop()
    q = statistics.quantiles(latencies, n=100)
    return {
        "readings": len(latencies),
        "p50_ms": round(q[49] * 1000, 1),
        "p99_ms": round(q[98] * 1000, 1),
        "max_ms": round(max(latencies) * 1000, 1),
    }


def test_ingest_benchmark(db: str, mqtt_broker: Broker, topic_root: str, tmp_path: Path) -> None:
    start = datetime.now(UTC).replace(microsecond=0) - timedelta(days=2)
    items = _readings(N, start)
    payload_bytes = statistics.mean(len(contract.encode(r)) for r in items[:1000])

    # Meters registered once (the writer's cache is warm, as in a running service).
    with Writer(db) as w:
        w.write(items[:METERS])
    with psycopg.connect(db) as conn:
        ids = {name: int(i) for name, i in conn.execute("SELECT name, meter_id FROM meters")}

    # --- database: ceiling, ours from memory, naive
    # Interleaved rounds, best of each: the machine is shared and noisy.
    direct_rounds: list[float] = []
    writer_rounds: list[float] = []
    for _ in range(DB_ROUNDS):
        _truncate(db)
        direct_rounds.append(_bench_direct_copy(db, items, ids))
        _truncate(db)
        writer_rounds.append(_bench_writer(db, items))
    direct, writer = max(direct_rounds), max(writer_rounds)
    _truncate(db)
    naive = _bench_naive(db, items[:NAIVE_N], ids)
    _truncate(db)

    # --- MQTT: parse-only ceiling vs the whole ingestor, same backlog, interleaved rounds
    # (the machine is shared and noisy: each path keeps its best round).
    parse_only_rounds: list[float] = []
    whole: dict[int, list[float]] = {RECEIVE_MAXIMUM: []}
    counters: dict[str, Any] = {}
    publish_rates: list[float] = []
    plan = [("parse", RECEIVE_MAXIMUM), ("whole", RECEIVE_MAXIMUM)] * ROUNDS
    for i, (path, window) in enumerate(plan):
        root = f"{topic_root}-{i}"
        if path == "parse":
            client_id = f"bench-parse-{root}"
            _create_session(mqtt_broker, client_id, contract.reading_subscription(root))
            publish_rates.append(_publish(mqtt_broker, root, _messages(root, items)))
            parse_only_rounds.append(_bench_parse_only(mqtt_broker, root, N, window))
            continue
        _truncate(db)
        config = _config(db, mqtt_broker, root, tmp_path, receive_maximum=window)
        _create_session(mqtt_broker, config.client_id, contract.reading_subscription(root))
        publish_rates.append(_publish(mqtt_broker, root, _messages(root, items)))
        rate, snapshot = _bench_ingestor(config, N)
        whole[window].append(rate)
        if window == RECEIVE_MAXIMUM:
            counters = snapshot
        assert _count(db) == N
    parse_only = max(parse_only_rounds)
    publish_rate = statistics.median(publish_rates)

    latency = _bench_latency(db, mqtt_broker, f"{topic_root}-lat", tmp_path)

    best = max(whole[RECEIVE_MAXIMUM])
    figures: dict[str, Any] = {
        "readings": N,
        "meters": METERS,
        "payload_bytes_mean": round(payload_bytes),
        "quantities_per_reading": len(QUANTITIES),
        "settings": {
            "batch_rows": BATCH_ROWS,
            "batch_ms": BATCH_MS,
            "receive_maximum": RECEIVE_MAXIMUM,
            "publisher_max_inflight": 20,
            "tcp_nodelay_clients": True,
            "qos": 1,
            "mqtt": "5",
        },
        "rows_per_s": {
            "db_direct_copy_ceiling": round(direct),
            "db_writer_from_memory": round(writer),
            "db_naive_insert_per_message": round(naive),
            "mqtt_parse_only_ceiling": round(parse_only),
            "mqtt_whole_ingestor": round(best),
            "mqtt_publisher_backlog_fill": round(publish_rate),
        },
        "rounds": {
            "db_direct_copy": [round(x) for x in direct_rounds],
            "db_writer": [round(x) for x in writer_rounds],
            "mqtt_parse_only": [round(x) for x in parse_only_rounds],
            "mqtt_whole_ingestor": [round(x) for x in whole[RECEIVE_MAXIMUM]],
        },
        "ratios": {
            "writer_vs_direct_copy": round(writer / direct, 3),
            "whole_path_vs_parse_only": round(best / parse_only, 3),
            "ours_vs_naive_x": round(best / naive, 1),
            "writer_vs_naive_x": round(writer / naive, 1),
        },
        "latency_100_meters_1hz": latency,
        "ingestor_counters": counters,
    }
    r = figures["rows_per_s"]
    ceiling, parse = r["db_direct_copy_ceiling"], r["mqtt_parse_only_ceiling"]
    naive_rate = r["db_naive_insert_per_message"]
    headline = [
        results.Row("database writer fed from memory", r["db_writer_from_memory"],
                    "readings/s", "direct binary COPY (ceiling)", ceiling,
                    goal=">= 0.5 of the ceiling",
                    met=r["db_writer_from_memory"] >= 0.5 * ceiling),
        results.Row("whole ingestor, MQTT -> TimescaleDB", r["mqtt_whole_ingestor"],
                    "readings/s", "subscriber that only receives and parses", parse,
                    goal=">= 0.8 of the baseline", met=r["mqtt_whole_ingestor"] >= 0.8 * parse),
        results.Row("whole ingestor, MQTT -> TimescaleDB", r["mqtt_whole_ingestor"],
                    "readings/s", "naive one INSERT per message", naive_rate),
        results.Row("database writer fed from memory", r["db_writer_from_memory"],
                    "readings/s", "naive one INSERT per message", naive_rate),
        results.Row("latency publish -> committed, p50 (100 meters x 1 Hz)",
                    latency["p50_ms"], "ms"),
        results.Row("latency publish -> committed, p99", latency["p99_ms"], "ms"),
    ]  # fmt: skip
    out = results.write("ingest", "Ingest throughput and latency", headline, figures)
    print("\n=== ingest benchmark (readings/s) ===")
    print(
        f"payload {payload_bytes:.0f} B, {len(QUANTITIES)} quantities, {N} readings, {METERS} meters"
    )
    print(f"direct binary COPY (ceiling)        {r['db_direct_copy_ceiling']:>9,}")
    print(f"writer from memory                  {r['db_writer_from_memory']:>9,}")
    print(f"naive INSERT per message            {r['db_naive_insert_per_message']:>9,}")
    print(f"MQTT parse-only subscriber (ceiling){r['mqtt_parse_only_ceiling']:>9,}")
    print(f"whole ingestor MQTT -> DB           {r['mqtt_whole_ingestor']:>9,}")
    print(f"  rounds: {figures['rounds']}")
    print(f"publisher filling the backlog       {r['mqtt_publisher_backlog_fill']:>9,}")
    print(f"ratios: {figures['ratios']}")
    print(f"latency 100 meters x 1/s: {latency}")
    print(f"written to {out}")
