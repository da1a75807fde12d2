"""The health check behind ``emusa-ingestor health``."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from ingestor import health
from ingestor.__main__ import main

pytestmark = pytest.mark.unit

NOW = 1_800_000_000.0


def _doc(**changes: object) -> dict[str, object]:
    doc: dict[str, object] = {
        "heartbeat": NOW - 2,
        "mqtt_connected": True,
        "subscribed": True,
        "db_ok": True,
        "db_error": "",
    }
    doc.update(changes)
    return doc


def test_healthy() -> None:
    assert health.check(_doc(), now=NOW) == []


@pytest.mark.parametrize(
    ("changes", "problem"),
    [
        ({"heartbeat": NOW - 60}, "heartbeat is 60 s old"),
        ({"mqtt_connected": False}, "not connected to the MQTT broker"),
        ({"subscribed": False}, "not subscribed"),
        ({"db_ok": False, "db_error": "connection refused"}, "connection refused"),
    ],
)
def test_problems_are_named(changes: dict[str, object], problem: str) -> None:
    problems = health.check(_doc(**changes), now=NOW)
    assert len(problems) == 1
    assert problem in problems[0]


def test_status_file_round_trip(tmp_path: Path) -> None:
    path = tmp_path / "s.json"
    status = health.Status(NOW, NOW, True, True, True, counters={"written": 5})
    health.write_status(path, status)
    assert health.read_status(path)["counters"] == {"written": 5}
    assert list(tmp_path.iterdir()) == [path]


def test_health_command_exit_codes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "s.json"
    assert main(["health", "--status-file", str(path)]) == 1
    assert "cannot read the status file" in capsys.readouterr().out
    health.write_status(path, health.Status(NOW, 0.0, True, True, False, "down"))
    assert main(["health", "--status-file", str(path)]) == 1
    out = json.loads(capsys.readouterr().out)
    assert out["healthy"] is False
    assert any("database unavailable: down" in p for p in out["problems"])

    health.write_status(path, health.Status(NOW, time.time(), True, True, True))
    assert main(["health", "--status-file", str(path)]) == 0
