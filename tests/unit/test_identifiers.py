"""Identifiers checked by a regular expression match all of the text (issue 13, item 5).

``re.match`` with ``$`` also accepts a trailing newline: ``check-config`` passed a meter
named ``"bad1\\n"``, and the broker then dropped the gateway on every publish (a control
character in a topic). Each check below refuses the newline and still accepts the name.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest
from pydantic import ValidationError

from analytics import config as analytics_config
from analytics.delivery.config import Recipients
from analytics.errors import ConfigError as AnalyticsConfigError
from analytics.shifts.config import Shift
from contract import ContractError, check_name, check_root
from gateway import config as gateway_config
from gateway.__main__ import _host_port
from gateway.__main__ import main as gateway_main
from ingestor.config import IngestorConfig
from ingestor.errors import MigrationError
from ingestor.migrate import discover

pytestmark = pytest.mark.unit

DB = "postgresql://emusa@localhost/emusa"


@pytest.mark.parametrize("bad", ["bad1\n", "bad1\r\n", "bad1\n\n", "\nbad1", "bad1 "])
def test_names_refuse_a_trailing_newline(bad: str) -> None:
    assert check_name("meter", "bad1") == "bad1"
    with pytest.raises(ContractError, match="bad_name") as err:
        check_name("meter", bad)
    assert repr(bad) in str(err.value)


def test_topic_roots_refuse_a_trailing_newline() -> None:
    assert check_root("plant/emusa") == "plant/emusa"
    for bad in ("emusa\n", "plant/emusa\n", "plant\n/emusa"):
        with pytest.raises(ContractError, match="bad_name"):
            check_root(bad)


def test_check_config_refuses_a_meter_named_with_a_newline(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "gateway.yaml"
    path.write_text(
        "site: plant\nbuses:\n  - {name: lan, type: tcp, host: 127.0.0.1,"
        ' meters: [{name: "bad1\\n", model: kron_konect, unit: 1}]}\n'
    )
    assert gateway_main(["check-config", "--config", str(path)]) == 2
    err = capsys.readouterr().err
    assert "gateway.yaml: buses.0.tcp.meters.0.name" in err
    assert "'bad1\\n'" in err
    path.write_text(path.read_text().replace("bad1\\n", "bad1"))
    assert gateway_main(["check-config", "--config", str(path)]) == 0


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("site", "plant\n"),
        ("gateway_id", "gw1\n"),
        ("mqtt", {"topic_root": "emusa\n"}),
        ("mqtt", {"homeassistant_prefix": "homeassistant\n"}),
    ],
)
def test_gateway_config_refuses_names_with_a_newline(key: str, value: object) -> None:
    raw = {"site": "plant", "buses": [{"name": "lan", "type": "tcp", "host": "h", "meters": [
        {"name": "m1", "model": "kron_konect"}]}]}  # fmt: skip
    gateway_config.GatewayConfig.model_validate(raw)
    with pytest.raises(ValidationError, match=r"\\n"):
        gateway_config.GatewayConfig.model_validate({**raw, key: value})


@pytest.mark.parametrize(
    ("key", "value"),
    [("topic_root", "emusa\n"), ("shared_group", "ingest\n")],
)
def test_ingestor_config_refuses_names_with_a_newline(key: str, value: str) -> None:
    base = {"database_url": DB, "mqtt_url": "mqtt://localhost:1883"}
    IngestorConfig.model_validate({**base, key: value.strip()})
    with pytest.raises(ValidationError, match=key):
        IngestorConfig.model_validate({**base, key: value})


@pytest.mark.parametrize(
    ("var", "value"), [("EMUSA_TOPIC_ROOT", "emusa\n"), ("EMUSA_SITE", "plant\n")]
)
def test_analytics_settings_refuse_names_with_a_newline(var: str, value: str) -> None:
    analytics_config.load(env={"EMUSA_DATABASE_URL": DB, var: value.strip()})
    with pytest.raises(AnalyticsConfigError, match=var):
        analytics_config.load(env={"EMUSA_DATABASE_URL": DB, var: value})


def test_shift_times_and_names_refuse_a_trailing_newline() -> None:
    good = {"name": "A", "days": ["working"], "start": "06:00", "end": "14:00"}
    assert Shift.model_validate(good).start == "06:00"
    for bad in ({"start": "06:00\n"}, {"end": "14:00\n"}, {"name": "A\n"}):
        with pytest.raises(ValidationError):
            Shift.model_validate({**good, **bad})


def test_email_recipients_refuse_a_trailing_newline() -> None:
    assert Recipients(daily=["ops@plant.example"]).daily == ["ops@plant.example"]
    with pytest.raises(ValidationError, match="not an e-mail address"):
        Recipients(daily=["ops@plant.example\n"])


def test_migration_file_names_take_ascii_digits_only(tmp_path: Path) -> None:
    (tmp_path / "0001_core.sql").write_text("SELECT 1;\n")
    assert [m.version for m in discover(tmp_path, "apache")] == [1]
    (tmp_path / "\u0660\u0660\u0660\u0662_more.sql").write_text("SELECT 2;\n")
    with pytest.raises(MigrationError, match="not a migration name"):
        discover(tmp_path, "apache")


def test_host_port_takes_ascii_digits_only() -> None:
    assert _host_port("10.0.0.5:502") == ("10.0.0.5", 502)
    for bad in ("10.0.0.5:5\u00b202", "10.0.0.5:\u0665\u0660\u0662", "10.0.0.5:502\n"):
        with pytest.raises(argparse.ArgumentTypeError):
            _host_port(bad)
