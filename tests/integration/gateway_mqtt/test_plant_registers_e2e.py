"""The plant's names and descriptions, end to end: the simulator serves the plant's file
(both channels, frozen values), ``emusa-gateway run`` publishes each channel's retained
info message and its readings to a real broker, the real ingestor stores them, and
Grafana's "Registros monitorados" query, run as emusa_grafana, shows every register of
both channels with the file's description, the exact latest value, the identifier read
from the meter and the serial port."""

from __future__ import annotations

import json
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest
import yaml

from contract import meterinfo
from gateway.registers import load_map
from tests.harness.ingestor import IngestorProcess, make_config
from tests.harness.mqtt import Collector
from tests.harness.processes import ServiceProcess, SimulatorProcess
from tests.harness.services import Broker
from tests.integration.gateway_mqtt.test_plant_file import METERS, PLANT, expected, simulator
from tests.integration.grafana import dashboards as dash
from tests.integration.grafana.macros import Context, expand
from tests.integration.grafana.runner import connect, run

pytestmark = pytest.mark.integration

__all__ = ["simulator"]  # the module fixture of test_plant_file: the simulator of the file
TITLE = "Registros monitorados (últimas leituras)"


def _gateway_config(tmp_path: Path, broker: Broker, root: str, pty: str) -> Path:
    config = tmp_path / "gateway.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "site": "plant",
                "gateway_id": "pc-planta",
                "poll_interval": 0.5,
                "mqtt": {"url": broker.url, "topic_root": root, "keepalive": 5},
                "queue": {"path": "queue.sqlite"},
                "diagnostics": {"interval": 1},
                "buses": [{"name": "rs485", "type": "rtu", "port": pty, "map_file": str(PLANT)}],
            }
        )
    )
    return config


def _stored(db: str) -> dict[str, tuple[Any, ...]]:
    with psycopg.connect(db) as conn:
        rows = conn.execute(
            "SELECT m.name, m.identifier, m.port, count(g.quantity),"
            " (SELECT count(*) FROM readings r WHERE r.meter_id = m.meter_id)"
            " FROM meters m LEFT JOIN meter_registers g USING (meter_id) GROUP BY m.meter_id"
        ).fetchall()
    return {str(r[0]): r[1:] for r in rows}


def test_operators_see_the_plant_descriptions_with_the_exact_latest_values(
    simulator: SimulatorProcess, mqtt_broker: Broker, topic_root: str, db: str, tmp_path: Path
) -> None:
    assert simulator.pty is not None
    port = f"{simulator.pty} 9600 8N2"
    infos = Collector(mqtt_broker, f"{topic_root}/plant/+/info")
    ingestor = IngestorProcess(
        make_config(db, mqtt_broker, topic_root, tmp_path), tmp_path / "ingestor.log"
    )
    config = _gateway_config(tmp_path, mqtt_broker, topic_root, simulator.pty)
    gateway = ServiceProcess(
        "gateway", "gateway", ["run", "--config", str(config), "--status-file", str(tmp_path / "status.json")],
        tmp_path / "gateway.log", env={"EMUSA_MQTT_URL": ""},
    )  # fmt: skip
    ingestor.start()
    gateway.start()
    try:
        deadline = time.monotonic() + 60
        want = {m: (f"CH30-00{u}", port, 11) for u, m in METERS.items()}
        while time.monotonic() < deadline:
            stored = _stored(db)
            if {m: s[:3] for m, s in stored.items()} == want and all(
                s[3] >= 3 for s in stored.values()
            ):
                break
            time.sleep(0.3)
        else:
            raise AssertionError(f"stored {_stored(db)}\n{gateway.tail()}")
        # published at start (no identifier yet, unless the detection read came before the
        # connection) and once more when identified; never again while nothing changes
        by_meter: dict[str, list[meterinfo.MeterInfo]] = {}
        for m in infos.messages:
            info = meterinfo.decode(m.payload, topic=("plant", m.topic.split("/")[-2]))
            by_meter.setdefault(info.meter, []).append(info)
        for unit, meter in METERS.items():
            identifiers = [i.identifier for i in by_meter[meter]]
            assert identifiers in ([None, f"CH30-00{unit}"], [f"CH30-00{unit}"]), identifiers
            last = by_meter[meter][-1]
            assert (last.gateway, last.unit, last.port, last.map) == (
                "pc-planta", unit, port, "kron03_real.json",
            )  # fmt: skip
        with psycopg.connect(db) as conn:
            newest = conn.execute("SELECT max(time) FROM readings").fetchone()
            diag = conn.execute(
                "SELECT DISTINCT m.name, d.channel, d.port, d.identifier FROM"
                " modbus_meter_diagnostics d JOIN meters m USING (meter_id)"
                " WHERE d.identifier IS NOT NULL ORDER BY 1"
            ).fetchall()
            rejects = conn.execute("SELECT count(*) FROM ingest_rejects").fetchone()
        assert diag == [(m, f"CH30 canal {u}", port, f"CH30-00{u}") for u, m in METERS.items()]
        assert rejects == (0,)
    finally:
        gateway.terminate()
        ingestor.terminate()
        infos.close()
    retained = Collector(mqtt_broker, f"{topic_root}/plant/+/info")  # after the gateway left
    try:
        kept = retained.wait_until(lambda ms: len(ms) >= 2, 10)
    finally:
        retained.close()
    assert all(m.retain for m in kept)
    assert sorted(meterinfo.decode(m.payload).identifier or "" for m in kept) == [
        "CH30-001", "CH30-002",
    ]  # fmt: skip

    assert newest is not None
    (q,) = [q for q in dash.all_queries() if q.panel and q.panel["title"] == TITLE]
    meters = list(METERS.values())
    ctx = Context(newest[0] - timedelta(hours=1), newest[0], {"site": "plant", "meter": meters})
    with connect(db) as conn:
        res = run(conn, expand(q.sql, ctx))
    measurements = json.loads(PLANT.read_text(encoding="utf-8"))["measurements"]
    names = load_map(PLANT).names
    for unit, meter in METERS.items():
        rows = [dict(zip(res.columns, r, strict=True)) for r in res.rows if r[0] == meter]
        assert [(r["Registro"], r["Descrição"], r["IA"]) for r in rows] == [
            (m["name"], m["description"], m["ai"]) for m in measurements
        ]
        assert rows[0]["Descrição"] == "Tensão fase-neutro L1"
        assert rows[3]["Descrição"] == "Tensão linha-linha R-S"
        assert [r["Valor"] for r in rows] == [expected(unit)[n] for n in names]  # exact
        assert {(r["Identificador"], r["Porta"]) for r in rows} == {(f"CH30-00{unit}", port)}
