"""The whole gateway process (`emusa-gateway run`) against simulated meters over Modbus
TCP and a real Mosquitto: readings, statuses, broker outage, meter unplugged, crashes."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from gateway.registers import builtin_map, builtin_models
from gateway.simulator.model import PlantModel
from gateway.simulator.server import MeterSimulator, SimulatedMeter
from tests.harness.mqtt import Collector, Received
from tests.harness.services import Broker
from tests.harness.simulator import SimulatorThread, write_gateway_yaml
from tests.integration.gateway.simhelpers import T0, expected_reading

pytestmark = pytest.mark.integration


@pytest.fixture
def simulator() -> Iterator[SimulatorThread]:
    sim = SimulatorThread()
    yield sim
    sim.close()


@pytest.fixture
def gateway_config(
    tmp_path: Path, simulator: SimulatorThread, mqtt_broker: Broker, topic_root: str
) -> Path:
    return write_gateway_yaml(
        tmp_path / "gateway.yaml", simulator, mqtt_broker, topic_root,
        poll_interval=1.0, timeout=0.5, retries=0,
    )  # fmt: skip


@pytest.fixture
def gateway(gateway_config: Path) -> Iterator[subprocess.Popen[bytes]]:
    log = (gateway_config.parent / "gateway.log").open("wb")
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gateway",
            "run",
            "--config",
            str(gateway_config),
            "--status-file",
            str(gateway_config.parent / "status.json"),
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
        env={**os.environ, "EMUSA_MQTT_URL": ""},
    )
    yield proc
    if proc.poll() is None:
        proc.kill()
    proc.wait(10)
    log.close()


def _health(gateway: subprocess.Popen[bytes], *extra: str) -> subprocess.CompletedProcess[str]:
    status = Path(gateway.args[gateway.args.index("--status-file") + 1])  # type: ignore[union-attr,index]
    return subprocess.run(
        [sys.executable, "-m", "gateway", "health", "--status-file", str(status), *extra],
        capture_output=True, text=True, check=False, timeout=30,
    )  # fmt: skip


def _first_copies(messages: list[Received], meter: str) -> list[int]:
    seqs: list[int] = []
    for m in messages:
        if m.topic.endswith(f"/{meter}/reading"):
            seq = json.loads(m.payload)["seq"]
            if seq not in seqs:
                seqs.append(seq)
    return seqs


def _status(collector: Collector, suffix: str) -> bytes | None:
    found = collector.matching(suffix)
    return found[-1].payload if found else None


def _wait(predicate: object, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():  # type: ignore[operator]
            return True
        time.sleep(0.1)
    return False


def test_readings_and_statuses(
    gateway: subprocess.Popen[bytes], mqtt_broker: Broker, topic_root: str
) -> None:
    collector = Collector(mqtt_broker, f"{topic_root}/#")
    try:
        got = collector.wait_for("/pac1/reading", 3, timeout=20)
        assert len(got) >= 3
        reading = json.loads(got[0].payload)
        pac_map = builtin_map("siemens_pac3200")
        assert set(reading["values"]) == set(pac_map.names)
        assert reading["site"] == "plant"
        assert 40 < reading["values"]["freq"] < 70
        kron = json.loads(collector.wait_for("/kron1/reading", 1, timeout=10)[0].payload)
        assert set(kron["values"]) == set(builtin_map("kron_konect").names)
        assert _wait(lambda: _status(collector, "/gateway/gw1/status") == b"online", 10)
        assert _status(collector, "/kron1/status") == b"online"
        assert collector.wait_for("/pac1/state/p_total", 1, timeout=10)
        ok = _health(gateway, "--max-age", "30")
        assert ok.returncode == 0, ok.stdout
        assert "2 of 2 meters read" in ok.stdout
        gateway.send_signal(signal.SIGTERM)
        assert gateway.wait(20) == 0
        assert _wait(lambda: _status(collector, "/gateway/gw1/status") == b"offline", 10)
    finally:
        collector.close()


def test_broker_down_30s_at_1hz_loses_nothing(
    gateway: subprocess.Popen[bytes], mqtt_broker: Broker, topic_root: str
) -> None:
    if mqtt_broker.local is None:
        pytest.skip("needs a broker this session can restart")
    collector = Collector(mqtt_broker, f"{topic_root}/+/+/reading")
    try:
        collector.wait_for("/kron1/reading", 3, timeout=20)
        mqtt_broker.local.stop()
        time.sleep(30)
        mqtt_broker.local.start()
        time.sleep(5)
        gateway.send_signal(signal.SIGTERM)
        assert gateway.wait(30) == 0
        messages = collector.wait_until(lambda _m: False, timeout=3)
    finally:
        collector.close()
    for meter in ("kron1", "pac1"):
        seqs = _first_copies(messages, meter)
        assert seqs == list(range(1, len(seqs) + 1)), f"{meter}: every reading once, in order"
        assert len(seqs) >= 36, f"{meter}: about one reading per second for 38 s, got {len(seqs)}"


def test_meter_unplugged_and_back(
    gateway: subprocess.Popen[bytes],
    simulator: SimulatorThread,
    mqtt_broker: Broker,
    topic_root: str,
) -> None:
    collector = Collector(mqtt_broker, f"{topic_root}/#")
    try:
        collector.wait_for("/pac1/reading", 2, timeout=20)
        simulator.meters[2].silent = True  # unplugged
        assert _wait(lambda: _status(collector, "/pac1/status") == b"unreachable", 10)
        assert _wait(
            lambda: "not read recently: pac1" in _health(gateway, "--max-age", "3").stdout, 15
        )
        before = len(collector.matching("/kron1/reading"))
        time.sleep(4)
        assert len(collector.matching("/kron1/reading")) >= before + 3, (
            "the other meter keeps going"
        )
        simulator.meters[2].silent = False  # plugged back
        assert _wait(lambda: _status(collector, "/pac1/status") == b"online", 15)
        n = len(collector.matching("/pac1/reading"))
        collector.wait_for("/pac1/reading", n + 2, timeout=10)
    finally:
        collector.close()
    seqs = _first_copies(collector.messages, "pac1")
    assert seqs == list(range(1, len(seqs) + 1)), "no reading invented or skipped while silent"


def test_crash_leaves_the_last_will(
    gateway: subprocess.Popen[bytes], mqtt_broker: Broker, topic_root: str
) -> None:
    collector = Collector(mqtt_broker, f"{topic_root}/plant/gateway/gw1/status")
    try:
        assert _wait(lambda: _status(collector, "/gw1/status") == b"online", 20)
        gateway.kill()  # SIGKILL: no goodbye, the broker publishes the will
        gateway.wait(10)
        assert _wait(lambda: _status(collector, "/gw1/status") == b"offline", 15)
    finally:
        collector.close()


def test_check_config_reports_errors_and_budget(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "site: plant\nbuses:\n  - {name: b, type: rtu, port: /dev/x, baudrate: 9600,"
        " meters: [{name: m, model: kron_konect, unit: 300}]}\n"
    )
    out = subprocess.run(
        [sys.executable, "-m", "gateway", "check-config", "--config", str(bad)],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert out.returncode == 2
    assert "bad.yaml: buses.0.rtu.meters.0.unit" in out.stderr
    busy = tmp_path / "busy.yaml"
    meters = ", ".join(f"{{name: m{u}, model: kron_konect, unit: {u}}}" for u in range(1, 11))
    busy.write_text(
        f"site: plant\nbuses:\n  - {{name: b, type: rtu, port: /dev/x, meters: [{meters}]}}\n"
    )
    out = subprocess.run(
        [sys.executable, "-m", "gateway", "check-config", "--config", str(busy)],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert out.returncode == 1
    assert "DOES NOT FIT in 1 s" in out.stdout


def test_every_shipped_map_reaches_mqtt_with_the_exact_values(
    tmp_path: Path, mqtt_broker: Broker, topic_root: str
) -> None:
    """Each shipped map served by the simulator (frozen clock), polled by the gateway
    process, arrives on MQTT with exactly the values the map encodes and decodes."""
    models = builtin_models()
    plants = {unit: PlantModel(seed=unit) for unit in range(1, len(models) + 1)}
    meters = [
        SimulatedMeter(unit, builtin_map(model), plants[unit])
        for unit, model in zip(plants, models, strict=True)
    ]
    sim = MeterSimulator(meters, clock=lambda: T0)
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    host, port = asyncio.run_coroutine_threadsafe(sim.start_tcp(), loop).result(10)
    config = tmp_path / "gateway.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "site": "plant",
                "poll_interval": 1.0,
                "mqtt": {"url": mqtt_broker.url, "topic_root": topic_root},
                "queue": {"path": "queue.sqlite"},
                "buses": [
                    {
                        "name": "lan", "type": "tcp", "host": host, "port": port, "timeout": 1.0,
                        "meters": [
                            {"name": model.replace("_", "-"), "model": model, "unit": unit}
                            for unit, model in zip(plants, models, strict=True)
                        ],
                    }
                ],
            }
        )
    )  # fmt: skip
    collector = Collector(mqtt_broker, f"{topic_root}/+/+/reading")
    proc = subprocess.Popen(
        [sys.executable, "-m", "gateway", "run", "--config", str(config)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env={**os.environ, "EMUSA_MQTT_URL": ""},
    )  # fmt: skip
    try:
        for unit, model in zip(plants, models, strict=True):
            got = collector.wait_for(f"/{model.replace('_', '-')}/reading", 1, timeout=20)
            assert got, f"no reading from {model}"
            values = json.loads(got[0].payload)["values"]
            regmap = builtin_map(model)
            assert values == expected_reading(regmap, plants[unit].values(T0)), model
            assert set(values) == set(regmap.names), model
    finally:
        proc.terminate()
        proc.wait(20)
        collector.close()
        asyncio.run_coroutine_threadsafe(sim.stop(), loop).result(10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
        loop.close()
