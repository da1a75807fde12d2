"""scripts/run_native.py end to end: the stack comes up, readings land, Ctrl-C stops it all."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import psycopg
import pytest

from ingestor.localstack import ServiceUnavailable, free_port, pg_bindir
from tests.harness.services import require_services

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
START_TIMEOUT = 180.0
READINGS_TIMEOUT = 90.0
STOP_TIMEOUT = 90.0


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    with contextlib.suppress(OSError):  # a zombie has exited: it only waits to be reaped
        if Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0] == "Z":
            return False
    return True


def _wait_state(proc: subprocess.Popen[bytes], state_file: Path, log: Path) -> dict[str, Any]:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if state_file.exists():
            state: dict[str, Any] = json.loads(state_file.read_text())
            if state.get("ready"):
                return state
        if proc.poll() is not None:
            pytest.fail(f"run_native exited early ({proc.returncode}):\n{log.read_text()[-3000:]}")
        time.sleep(0.5)
    pytest.fail(f"run_native not ready in {START_TIMEOUT:.0f} s:\n{log.read_text()[-3000:]}")


def _readings(dsn: str) -> tuple[int, int]:
    with psycopg.connect(dsn, connect_timeout=5) as conn:
        row = conn.execute("SELECT count(*), count(DISTINCT meter_id) FROM readings").fetchone()
    assert row
    return int(row[0]), int(row[1])


def test_native_runner_starts_the_stack_and_stops_it_on_sigint(tmp_path: Path) -> None:
    try:
        pg_bindir()
    except ServiceUnavailable as exc:
        if require_services():
            pytest.fail(str(exc))
        pytest.skip(str(exc))
    state_file = tmp_path / "state.json"
    log = tmp_path / "run_native.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, str(ROOT / "scripts" / "run_native.py"),
             "--state-file", str(state_file), "--grafana-port", str(free_port())],
            stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, cwd=ROOT,
        )  # fmt: skip
    pids: list[int] = []
    try:
        state = _wait_state(proc, state_file, log)
        pids = [*state["children"].values(), state["postgres_pid"], state["mosquitto_pid"]]
        assert {"simulator", "gateway", "ingestor"} <= set(state["children"])
        assert all(_alive(pid) for pid in pids), state

        deadline = time.monotonic() + READINGS_TIMEOUT
        count = meters = 0
        while time.monotonic() < deadline:
            count, meters = _readings(state["database_url"])
            if count >= 10 and meters == 2:
                break
            time.sleep(1)
        assert count >= 10 and meters == 2, f"readings {count} from {meters} meters"

        proc.send_signal(signal.SIGINT)  # what Ctrl-C does
        assert proc.wait(STOP_TIMEOUT) == 0, log.read_text()[-3000:]
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and any(_alive(pid) for pid in pids):
            time.sleep(0.2)
        assert [pid for pid in pids if _alive(pid)] == [], log.read_text()[-3000:]
        assert not Path(state["run_dir"]).exists()  # the throwaway data is gone
        text = log.read_text()
        for name in state["children"]:
            assert f"{name} stopped" in text
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(30)
        for pid in pids:  # never leave a service behind, even when the test failed
            if _alive(pid):
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
