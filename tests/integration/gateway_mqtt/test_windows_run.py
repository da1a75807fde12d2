"""`emusa-gateway run` as on the plant's Windows PC, emulated: the process's event loops
cannot take signal handlers (as Windows' cannot), no queue or status path is configured
(the per-user data folder is used), and Ctrl-C or Ctrl-Break stops it cleanly: last
readings flushed, `offline` published, exit code 0."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from tests.harness.mqtt import Collector
from tests.harness.services import Broker
from tests.harness.simulator import SimulatorThread, write_gateway_yaml

pytestmark = pytest.mark.integration

# Runs the real entry point in a process whose event loops behave like Windows' ones
# (no add_signal_handler) and, for Ctrl-Break, where SIGBREAK exists (SIGUSR1 stands in).
LAUNCHER = """
import asyncio, signal, sys

class WindowsLikeLoop(asyncio.SelectorEventLoop):
    def add_signal_handler(self, *args):
        raise NotImplementedError
    def remove_signal_handler(self, *args):
        raise NotImplementedError

class Policy(asyncio.DefaultEventLoopPolicy):
    def new_event_loop(self):
        return WindowsLikeLoop()

asyncio.set_event_loop_policy(Policy())
signal.SIGBREAK = signal.SIGUSR1
from gateway.__main__ import main
raise SystemExit(main(sys.argv[1:]))
"""


@pytest.fixture
def simulator() -> Iterator[SimulatorThread]:
    sim = SimulatorThread()
    yield sim
    sim.close()


def _wait(predicate: object, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():  # type: ignore[operator]
            return True
        time.sleep(0.1)
    return False


@pytest.mark.parametrize("key", [signal.SIGINT, signal.SIGUSR1], ids=["ctrl-c", "ctrl-break"])
def test_runs_and_stops_cleanly_without_loop_signal_handlers(
    tmp_path: Path, simulator: SimulatorThread, mqtt_broker: Broker, topic_root: str, key: int
) -> None:
    config = write_gateway_yaml(
        tmp_path / "gateway.yaml", simulator, mqtt_broker, topic_root,
        poll_interval=0.5, timeout=0.5, retries=0,
    )  # fmt: skip
    doc = yaml.safe_load(config.read_text())
    del doc["queue"]  # as a new user would: no file paths in the configuration
    config.write_text(yaml.safe_dump(doc))
    data = tmp_path / "AppData" / "Local" / "EMUSA" / "emusa-gateway"
    env = {**os.environ, "EMUSA_MQTT_URL": "", "EMUSA_GATEWAY_DATA_DIR": str(data)}
    env.pop("EMUSA_GATEWAY_STATUS_FILE", None)
    collector = Collector(mqtt_broker, f"{topic_root}/#")
    log = (tmp_path / "gateway.log").open("wb")
    proc = subprocess.Popen(
        [sys.executable, "-c", LAUNCHER, "run", "--config", str(config)],
        stdout=log, stderr=subprocess.STDOUT, env=env,
    )  # fmt: skip
    try:
        assert collector.wait_for("/kron1/reading", 2, timeout=30), "no reading published"
        status_file = data / "gateway-status.json"
        assert _wait(status_file.exists, 15), "no status file in the data folder"
        assert (data / "gateway-queue.sqlite").exists()

        def healthy() -> subprocess.CompletedProcess[str]:
            return subprocess.run(
                [sys.executable, "-m", "gateway", "health", "--max-age", "30"],
                capture_output=True, text=True, env=env, timeout=30, check=False,
            )  # fmt: skip

        # `health` finds the same default status file as `run`
        assert _wait(lambda: healthy().returncode == 0, 20), healthy().stdout
        assert "2 of 2 meters read" in healthy().stdout
        proc.send_signal(key)
        assert proc.wait(20) == 0
        assert _wait(
            lambda: (
                [m.payload for m in collector.matching("/gateway/gw1/status")][-1:] == [b"offline"]
            ),
            10,
        )
        status = json.loads(status_file.read_text())
        assert status["meters"]
    finally:
        collector.close()
        if proc.poll() is None:
            proc.kill()
        proc.wait(10)
        log.close()
    assert "Traceback" not in (tmp_path / "gateway.log").read_text()
