"""Modbus diagnostics end to end: the gateway process polls two simulated meters on one
Modbus TCP bus, one of them silent, and publishes retained diagnostics to a real Mosquitto;
the ingestor stores them in TimescaleDB; the Grafana panel query reads them as
emusa_grafana; ``emusa-gateway health`` prints the figures. Then the meter answers again.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest

import contract
from contract import diagnostics as diag
from tests.harness.mqtt import Collector
from tests.harness.services import Broker
from tests.harness.simulator import SimulatorThread, write_gateway_yaml
from tests.integration.grafana import dashboards as dash
from tests.integration.grafana.macros import Context, expand
from tests.integration.grafana.runner import connect, run
from tests.integration.ingestor.conftest import make_config, running, wait_until

pytestmark = pytest.mark.integration


@pytest.fixture
def simulator() -> Iterator[SimulatorThread]:
    sim = SimulatorThread()
    sim.meters[2].silent = True  # pac1 is unplugged from the start
    yield sim
    sim.close()


@pytest.fixture
def gateway(
    tmp_path: Path, simulator: SimulatorThread, mqtt_broker: Broker, topic_root: str
) -> Iterator[subprocess.Popen[bytes]]:
    config = write_gateway_yaml(
        tmp_path / "gateway.yaml", simulator, mqtt_broker, topic_root,
        poll_interval=0.5, timeout=0.3, retries=1, diagnostics={"interval": 1},
    )  # fmt: skip
    log = (tmp_path / "gateway.log").open("wb")
    argv = [sys.executable, "-m", "gateway", "run", "--config", str(config)]
    argv += ["--status-file", str(tmp_path / "status.json")]
    proc = subprocess.Popen(
        argv, stdout=log, stderr=subprocess.STDOUT, env={**os.environ, "EMUSA_MQTT_URL": ""}
    )
    yield proc
    if proc.poll() is None:
        proc.kill()
    proc.wait(10)
    log.close()


def _latest(db: str, meter: str) -> dict[str, Any] | None:
    with psycopg.connect(db) as conn, conn.cursor(row_factory=psycopg.rows.dict_row) as cur:
        cur.execute(
            "SELECT d.* FROM modbus_meter_diagnostics d JOIN meters m USING (meter_id)"
            " WHERE m.name = %s ORDER BY d.time DESC LIMIT 1",
            (meter,),
        )
        return cur.fetchone()


def _status_panel(db: str) -> dict[str, str]:
    (q,) = [
        q
        for q in dash.all_queries()
        if q.dashboard == "emusa-diagnostico-modbus" and q.panel and q.panel["title"] == "Status"
    ]
    end = datetime.now(UTC) + timedelta(seconds=5)  # the range holds the newest row
    context = Context(end - timedelta(hours=1), end, {"site": "plant", "meter": ["kron1", "pac1"]})
    with connect(db) as conn:
        return dict(run(conn, expand(q.sql, context)).rows)


def test_silent_meter_diagnostics_reach_mqtt_the_database_and_the_dashboard(
    gateway: subprocess.Popen[bytes],
    simulator: SimulatorThread,
    db: str,
    mqtt_broker: Broker,
    topic_root: str,
    tmp_path: Path,
) -> None:
    (tmp_path / "ingestor").mkdir()
    config = make_config(db, mqtt_broker, topic_root, tmp_path / "ingestor")
    with running(config):

        def silent_seen() -> bool:
            row = _latest(db, "pac1")
            return row is not None and row["status"] == "unreachable" and row["timeouts"] > 0

        wait_until(silent_seen, 30, "pac1 unreachable with timeouts in the database")
        wait_until(lambda: bool(_latest(db, "kron1")), 10, "kron1 diagnostics")
        kron, pac = _latest(db, "kron1"), _latest(db, "pac1")
        assert kron is not None and pac is not None
        assert kron["status"] == "online" and kron["timeouts"] == 0
        assert kron["successes"] > 0 and kron["latency_p95_ms"] > 0
        assert pac["seconds_since_good_read"] is None and pac["successes"] == 0
        assert pac["backoff_s"] > 0 and pac["consecutive_failures"] > 0
        assert pac["retries"] * 2 == pac["timeouts"], "every try is one frame and one retry"
        with psycopg.connect(db) as conn:
            bus = conn.execute(
                "SELECT meters, meters_online, cycles FROM modbus_bus_diagnostics"
                " WHERE gateway = 'gw1' AND bus = 'lan' ORDER BY time DESC LIMIT 1"
            ).fetchone()
        assert bus is not None and bus[:2] == (2, 1) and bus[2] > 0
        assert _status_panel(db) == {"kron1": "online", "pac1": "unreachable"}

        # retained: a client that subscribes now gets the latest diagnostics at once
        topic = contract.meter_diagnostics_topic(topic_root, "plant", "pac1")
        late = Collector(mqtt_broker, topic)
        try:
            (first, *_) = late.wait_for("/pac1/diagnostics", 1, timeout=10)
        finally:
            late.close()
        assert first.retain
        now = datetime.now(UTC)
        retained = diag.decode(first.payload, kind="meter", topic=("plant", "pac1"), now=now)
        assert retained.fields["status"] == "unreachable"

        status_file = tmp_path / "status.json"

        def health() -> subprocess.CompletedProcess[str]:
            return subprocess.run(
                [sys.executable, "-m", "gateway", "health", "--status-file", str(status_file)],
                capture_output=True, text=True, check=False, timeout=30,
            )  # fmt: skip

        # the status file is rewritten every 2 s: wait for one written after the first poll
        wait_until(lambda: health().returncode == 0, 15, "a healthy status file")
        report = health()
        assert "pac1: unreachable, last good read never" in report.stdout, report.stdout
        assert "kron1: online" in report.stdout and "bus lan:" in report.stdout
        figures = json.loads(status_file.read_text())["meters"]["pac1"]["modbus"]
        assert figures["timeouts"] >= 2 and figures["backoff_s"] > 0

        simulator.meters[2].silent = False  # plugged back: found at its next backoff try

        def back() -> bool:
            row = _latest(db, "pac1")
            return row is not None and row["status"] == "online"

        wait_until(back, 45, "pac1 online again in the database")
        pac = _latest(db, "pac1")
        assert pac is not None and pac["backoff_s"] == 0 and pac["consecutive_failures"] == 0
        assert pac["seconds_since_good_read"] is not None
        assert _status_panel(db) == {"kron1": "online", "pac1": "online"}
