"""Day one at the plant: with only its register file (registers_kron03_real.json) and the
simulator serving its layout on a serial pty and over TCP, ``scan-ports`` finds both
channels, ``read`` gives their exact values, ``port: auto`` finds the port, and ``run``
publishes both channels to a real broker where the ingestor stores them as two meters."""

from __future__ import annotations

import asyncio
import json
import struct
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
import yaml

from gateway.buses import open_bus
from gateway.config import MeterConfig, RtuBusConfig
from gateway.meter import read_meter
from gateway.planner import plan
from gateway.registers import MAPS_DIR, load_map
from gateway.scan import SerialSettings, find_port
from gateway.simulator.model import plant_values
from tests.harness.ingestor import IngestorProcess, make_config
from tests.harness.mqtt import Collector
from tests.harness.processes import REPO, ServiceProcess, SimulatorProcess
from tests.harness.services import Broker

pytestmark = pytest.mark.integration

PLANT = MAPS_DIR / "kron03_real.json"  # the plant's file, byte for byte
T0 = 1_764_000_000.0  # the simulator's frozen instant
METERS = {1: "ch30_canal_1", 2: "ch30_canal_2"}


def expected(unit: int) -> dict[str, float]:
    """What the plant's reader reads from the simulated channel: float32 of the model."""
    regmap = load_map(PLANT)
    values = plant_values(T0, seed=unit - 1)  # simulate: seed + index of the unit
    return {
        r.name: struct.unpack(">f", struct.pack(">f", values[r.name]))[0] for r in regmap.registers
    }


@pytest.fixture(scope="module")
def simulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SimulatorProcess]:
    log = tmp_path_factory.mktemp("plant") / "simulator.log"
    sim = SimulatorProcess(
        "plant", ["--map", str(PLANT), "--pty", "--tcp", "127.0.0.1:0", "--at", str(T0)], log
    )
    sim.start()
    yield sim
    sim.terminate()


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "gateway", *args],
        cwd=REPO, capture_output=True, text=True, check=False, timeout=60,
    )  # fmt: skip


def test_scan_ports_finds_both_channels_with_their_identifiers(simulator: SimulatorProcess) -> None:
    assert simulator.pty is not None
    out = _cli("scan-ports", "/dev/null", simulator.pty, "--map", str(PLANT), "--timeout", "0.5")
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert lines[0] == "procurando os canais de kron03_real em 9600 8N2"  # the file's settings
    found = [ln.split() for ln in lines if "ENCONTRADO" in ln]
    assert [(f[0], f[2], " ".join(f[3:6]), f[-1]) for f in found] == [
        (simulator.pty, "1", "CH30 canal 1", "CH30-001"),
        (simulator.pty, "2", "CH30 canal 2", "CH30-002"),
    ]
    silent = [ln for ln in lines if ln.startswith("/dev/null")]
    assert len(silent) == 2 and all("não respondeu" in ln for ln in silent)


@pytest.mark.parametrize("where", ["serial", "tcp"])
def test_read_gives_both_channels_exactly(simulator: SimulatorProcess, where: str) -> None:
    assert simulator.pty is not None and simulator.tcp is not None
    target = (
        ["--serial", simulator.pty]
        if where == "serial"
        else ["--tcp", f"{simulator.tcp[0]}:{simulator.tcp[1]}"]
    )
    out = _cli("read", "--map", str(PLANT), *target, "--format", "json")
    assert out.returncode == 0, out.stderr
    doc = json.loads(out.stdout)
    assert [c["channel"] for c in doc["channels"]] == ["CH30 canal 1", "CH30 canal 2"]
    for unit, channel in zip((1, 2), doc["channels"], strict=True):
        assert channel["identifier"] == f"CH30-00{unit}"
        assert channel["values"] == expected(unit)  # exact: same float32 the meter sends
        assert channel["dropped"] == {}
        rows = {r["name"]: r for r in channel["registers"]}
        assert rows["energia_kwh_b"]["quantity"] == "e_b_kwh"
        assert rows["energia_kwh_b"]["description"] == "Energia canal B acumulada"
        assert rows["energia_kwh_b"]["ai"] is False and rows["fp_avg"]["ai"] is True
    table = _cli("read", "--map", str(PLANT), *target)
    assert f"Porta {target[1]}" in table.stdout and "identificador CH30-002" in table.stdout
    assert "Registros monitorados" in table.stdout
    assert "Tensão linha-linha R-S" in table.stdout


def test_port_auto_finds_the_serial_port_of_the_channels(simulator: SimulatorProcess) -> None:
    assert simulator.pty is not None
    regmap = load_map(PLANT)
    settings = SerialSettings.for_map(regmap, 0.5)
    port = asyncio.run(find_port(settings, None, regmap, ["/dev/null", simulator.pty]))
    assert port == simulator.pty
    config = RtuBusConfig(
        type="rtu", name="rs485", port="auto", timeout=0.5, retries=0,
        meters=[MeterConfig(name="ch30_canal_2", map_file=PLANT, unit=2)],
    )  # fmt: skip

    async def read_auto() -> dict[str, float]:
        bus = open_bus(config, candidates=["/dev/null", simulator.pty or ""])
        try:
            return (await read_meter(bus, 2, regmap, plan(regmap))).values
        finally:
            await bus.close()

    assert asyncio.run(read_auto()) == expected(2)


def _stored(db: str) -> dict[str, tuple[int, dict[str, float]]]:
    names = list(expected(1))
    with psycopg.connect(db) as conn:
        rows = conn.execute(
            f"SELECT m.name, count(*), {', '.join(f'min(r.{n})' for n in names)}"
            " FROM readings r JOIN meters m USING (meter_id) GROUP BY m.name"
        ).fetchall()
    return {str(r[0]): (int(r[1]), dict(zip(names, r[2:], strict=True))) for r in rows}


def test_run_publishes_both_channels_and_the_ingestor_stores_them(
    simulator: SimulatorProcess, mqtt_broker: Broker, topic_root: str, db: str, tmp_path: Path
) -> None:
    assert simulator.pty is not None
    config = tmp_path / "gateway.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "site": "plant",
                "poll_interval": 0.5,
                "mqtt": {"url": mqtt_broker.url, "topic_root": topic_root, "keepalive": 5},
                "queue": {"path": "queue.sqlite"},
                "diagnostics": {"interval": 1},
                "buses": [{"name": "rs485", "type": "rtu", "port": simulator.pty, "map_file": str(PLANT)}],
            }
        )
    )  # fmt: skip
    check = _cli("check-config", "--config", str(config))
    assert check.returncode == 0, check.stderr
    assert "ch30_canal_1: kron03_real unit 1" in check.stdout
    assert (
        "ch30_canal_2: kron03_real unit 2, 11 quantities in 5 reads (channel 'CH30 canal 2')"
        in check.stdout
    )

    collector = Collector(mqtt_broker, f"{topic_root}/plant/+/diagnostics")
    statuses = Collector(mqtt_broker, f"{topic_root}/plant/+/status")
    ingestor = IngestorProcess(
        make_config(db, mqtt_broker, topic_root, tmp_path), tmp_path / "ingestor.log"
    )
    gateway = ServiceProcess(
        "gateway", "gateway", ["run", "--config", str(config), "--status-file", str(tmp_path / "gateway-status.json")],
        tmp_path / "gateway.log", env={"EMUSA_MQTT_URL": ""},
    )  # fmt: skip
    ingestor.start()
    gateway.start()
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            stored = _stored(db)
            if all(stored.get(m, (0, {}))[0] >= 3 for m in METERS.values()):
                break
            time.sleep(0.3)
        else:
            raise AssertionError(f"not stored: {_stored(db)}\n{gateway.tail()}")
        for unit, meter in METERS.items():
            assert stored[meter][1] == expected(unit), meter  # exactly what the meter sent
        diags = collector.wait_until(
            lambda msgs: (
                {json.loads(m.payload).get("identifier") for m in msgs} >= {"CH30-001", "CH30-002"}
            ),
            30,
        )
        by_meter = {json.loads(m.payload)["meter"]: json.loads(m.payload) for m in diags}
        for unit, meter in METERS.items():
            d = by_meter[meter]
            assert (d["channel"], d["identifier"]) == (f"CH30 canal {unit}", f"CH30-00{unit}")
            assert d["port"] == f"{simulator.pty} 9600 8N2"  # the old app's connection banner
        for unit, meter in METERS.items():  # the status topic: payload and v5 properties
            status = statuses.wait_for(f"/{meter}/status", 1, 10)[-1]
            assert status.payload == b"online"
            assert dict(status.user_properties) == {
                "channel": f"CH30 canal {unit}",
                "identifier": f"CH30-00{unit}",
                "port": f"{simulator.pty} 9600 8N2",
            }
        with psycopg.connect(db) as conn:  # the ingestor took the diagnostics with them
            deadline = time.monotonic() + 20
            while time.monotonic() < deadline:
                row = conn.execute("SELECT count(*) FROM modbus_meter_diagnostics").fetchone()
                if row is not None and row[0] >= 2:
                    break
                time.sleep(0.3)
            assert row is not None and row[0] >= 2
            rejects = conn.execute("SELECT count(*) FROM ingest_rejects").fetchone()
            assert rejects == (0,)
        deadline = time.monotonic() + 10  # the status file is rewritten every 2 s
        while time.monotonic() < deadline:
            status_file = json.loads((tmp_path / "gateway-status.json").read_text())["meters"]
            if status_file["ch30_canal_2"].get("identifier"):
                break
            time.sleep(0.3)
        assert status_file["ch30_canal_2"]["identifier"] == "CH30-002"
        assert status_file["ch30_canal_2"]["port"] == f"{simulator.pty} 9600 8N2"
        health = _cli("health", "--status-file", str(tmp_path / "gateway-status.json"))
        assert (
            f"channel 'CH30 canal 1' on {simulator.pty} 9600 8N2 says 'CH30-001'" in health.stdout
        )
        log = (tmp_path / "gateway.log").read_text()
        assert "channel 'CH30 canal 1', slave 1 on" in log and "answers 'CH30-001'" in log
    finally:
        gateway.terminate()
        ingestor.terminate()
        collector.close()
        statuses.close()
