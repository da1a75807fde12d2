"""``emusa-ingestor run``: settings errors stop it at start; JSON logs carry the extras."""

from __future__ import annotations

import json
import logging

import pytest

from ingestor.__main__ import JsonFormatter, main

pytestmark = pytest.mark.unit


def test_run_without_settings_names_the_variable(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("EMUSA_DATABASE_URL", raising=False)
    monkeypatch.delenv("EMUSA_MQTT_URL", raising=False)
    assert main(["run", "--database-url", "postgresql://emusa@db/emusa"]) == 2
    assert "EMUSA_MQTT_URL is not set" in capsys.readouterr().err


def test_run_flag_errors_name_the_variable(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("EMUSA_DATABASE_URL", "postgresql://emusa@db/emusa")
    monkeypatch.setenv("EMUSA_MQTT_URL", "mqtt://broker")
    assert main(["run", "--batch-rows", "0"]) == 2
    assert "EMUSA_INGESTOR_BATCH_ROWS ('0') is invalid" in capsys.readouterr().err


def test_json_log_lines_keep_the_extra_fields() -> None:
    record = logging.getLogger("ingestor.service").makeRecord(
        "ingestor.service",
        logging.WARNING,
        __file__,
        1,
        "rejected a message on %s",
        ("emusa/p/m/reading",),
        None,
        extra={"action": "reject", "reason": "bad_json"},
    )
    doc = json.loads(JsonFormatter().format(record))
    assert doc["msg"] == "rejected a message on emusa/p/m/reading"
    assert (doc["level"], doc["logger"]) == ("WARNING", "ingestor.service")
    assert (doc["action"], doc["reason"]) == ("reject", "bad_json")
    assert doc["ts"].endswith("Z")
    assert "args" not in doc
