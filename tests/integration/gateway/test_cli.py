"""``emusa-gateway simulate`` as a real process; ``read`` and ``scan-ports`` talk to it."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from gateway.__main__ import main
from gateway.registers import builtin_map
from gateway.simulator.ptypair import PtyPair

pytestmark = pytest.mark.integration


@contextmanager
def simulator(*args: str) -> Iterator[list[str]]:
    """Start ``python -m gateway simulate ARGS``; yield its output lines up to 'ready'."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "gateway", "simulate", "--duration", "60", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    lines: list[str] = []
    ready = threading.Event()

    def pump() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.append(line.rstrip("\n"))
            if line.startswith("ready"):
                ready.set()

    reader = threading.Thread(target=pump, daemon=True)
    reader.start()
    try:
        assert ready.wait(20), f"simulator did not start: {lines}"
        yield lines
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            rc = proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)
            raise
        reader.join(timeout=5)
        assert proc.stdout is not None
        proc.stdout.close()
        assert rc == 0, lines


def _find(lines: list[str], pattern: str) -> str:
    for line in lines:
        if m := re.fullmatch(pattern, line):
            return m.group(1)
    raise AssertionError(f"{pattern!r} not in {lines}")


def test_read_command_against_a_simulated_pac3200(capsys: pytest.CaptureFixture[str]) -> None:
    with simulator("--model", "siemens_pac3200", "--tcp", "127.0.0.1:0", "--seed", "4") as lines:
        port = _find(lines, r"tcp 127\.0\.0\.1:(\d+)")
        rc = main(
            ["read", "--model", "siemens_pac3200", "--tcp", f"127.0.0.1:{port}", "--format", "json"]
        )
    assert rc == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["model"] == "siemens_pac3200"
    assert set(doc["values"]) == set(builtin_map("siemens_pac3200").names)
    assert 90 < doc["values"]["v_l1n"] < 140
    assert doc["dropped"] == {}


def test_scenario_silent_makes_read_fail_with_the_unit_named(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with simulator("--tcp", "127.0.0.1:0", "--unit", "5", "--scenario", "silent@0+120") as lines:
        port = _find(lines, r"tcp 127\.0\.0\.1:(\d+)")
        assert any(line.startswith("scenario silent") for line in lines)
        rc = main(["read", "--tcp", f"127.0.0.1:{port}", "--unit", "5", "--timeout", "0.3"])
    assert rc == 1
    assert "unit 5 FC04 address 4" in capsys.readouterr().err


def test_scan_ports_finds_the_simulator_pty(capsys: pytest.CaptureFixture[str]) -> None:
    with PtyPair() as nobody, simulator("--pty", "--unit", "1") as lines:
        path = _find(lines, r"pty (/dev/\S+)")
        rc = main(["scan-ports", nobody.b, path, "--timeout", "0.3"])
        out = capsys.readouterr().out
        assert rc == 0
        rows = {line.split()[0]: line for line in out.splitlines()[2:]}
        assert " ANSWERED " in rows[path]
        assert " silent " in rows[nobody.b]
        assert main(["read", "--serial", path, "--format", "json"]) == 0
        assert json.loads(capsys.readouterr().out)["values"]["freq"] == pytest.approx(60, abs=0.1)


def test_scan_ports_with_nothing_answering_exits_1(capsys: pytest.CaptureFixture[str]) -> None:
    with PtyPair() as nobody:
        assert main(["scan-ports", nobody.b, "--timeout", "0.2"]) == 1
    assert "silent" in capsys.readouterr().out


def test_bad_scenario_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["simulate", "--scenario", "fire"]) == 2
    assert "scenario 'fire' unknown" in capsys.readouterr().err
