"""Ingestor settings: environment, flags over environment, errors naming the variable."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from ingestor.config import default_client_id, load, parse_mqtt_url
from ingestor.errors import ConfigError

pytestmark = pytest.mark.unit

ENV = {"EMUSA_DATABASE_URL": "postgresql://emusa@db/emusa", "EMUSA_MQTT_URL": "mqtt://broker"}


def test_defaults_from_the_environment() -> None:
    c = load(env=ENV)
    assert c.topic_root == "emusa"
    assert (c.batch_rows, c.batch_ms, c.receive_maximum) == (2000, 200, 8000)
    assert c.shared_group is None
    assert c.client_id == "emusa-ingestor"
    assert (c.mqtt.host, c.mqtt.port, c.mqtt.tls) == ("broker", 1883, False)


def test_flags_override_the_environment() -> None:
    env = {**ENV, "EMUSA_TOPIC_ROOT": "plant1", "EMUSA_INGESTOR_BATCH_ROWS": "100"}
    c = load({"topic_root": "plant2", "batch_rows": None, "status_file": "/tmp/x.json"}, env)
    assert (c.topic_root, c.batch_rows, c.status_file) == ("plant2", 100, Path("/tmp/x.json"))


@pytest.mark.parametrize(
    ("env", "variable"),
    [
        ({"EMUSA_MQTT_URL": "mqtt://b"}, "EMUSA_DATABASE_URL is not set"),
        ({"EMUSA_DATABASE_URL": "postgresql://a@b/c"}, "EMUSA_MQTT_URL is not set"),
        ({**ENV, "EMUSA_MQTT_URL": "http://broker"}, "EMUSA_MQTT_URL is invalid"),
        (
            {**ENV, "EMUSA_DATABASE_URL": "postgresql://a@b/c?nosuchoption=1"},
            "EMUSA_DATABASE_URL is invalid",
        ),
        ({**ENV, "EMUSA_TOPIC_ROOT": "a/+/b"}, "EMUSA_TOPIC_ROOT ('a/+/b') is invalid"),
        ({**ENV, "EMUSA_INGESTOR_BATCH_ROWS": "lots"}, "EMUSA_INGESTOR_BATCH_ROWS ('lots')"),
        ({**ENV, "EMUSA_INGESTOR_RECEIVE_MAXIMUM": "70000"}, "EMUSA_INGESTOR_RECEIVE_MAXIMUM"),
        ({**ENV, "EMUSA_INGESTOR_SHARED_GROUP": "a/b"}, "EMUSA_INGESTOR_SHARED_GROUP"),
    ],
)
def test_bad_settings_name_the_variable(env: dict[str, str], variable: str) -> None:
    with pytest.raises(ConfigError, match=re.escape(variable)):
        load(env=env)


def test_secrets_stay_out_of_messages_and_repr() -> None:
    env = {**ENV, "EMUSA_MQTT_URL": "mqtt://u:s3cret@broker", "EMUSA_INGESTOR_BATCH_MS": "0"}
    with pytest.raises(ConfigError) as exc:
        load(env=env)
    assert "s3cret" not in str(exc.value)
    ok = load(env={**ENV, "EMUSA_MQTT_URL": "mqtt://u:s3cret@broker"})
    assert "s3cret" not in repr(ok)


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("mqtt://broker", ("broker", 1883, False, None, None)),
        ("mqtts://u:p%40ss@broker.example", ("broker.example", 8883, True, "u", "p@ss")),
        ("mqtt://u@10.0.0.5:1884", ("10.0.0.5", 1884, False, "u", None)),
    ],
)
def test_mqtt_urls(url: str, expected: tuple[object, ...]) -> None:
    e = parse_mqtt_url(url)
    assert (e.host, e.port, e.tls, e.username, e.password) == expected


@pytest.mark.parametrize("url", ["tcp://b", "mqtt://", "mqtt://b:99999", "mqtt://b/path"])
def test_bad_mqtt_urls(url: str) -> None:
    with pytest.raises(ValueError, match=r"mqtt|port|host|path|URL"):
        parse_mqtt_url(url)


def test_the_client_id_is_the_login_as_the_shipped_broker_makes_it() -> None:
    # use_username_as_clientid: each replica logs in with its own account (ingestor-2 ...)
    env = {**ENV, "EMUSA_MQTT_URL": "mqtt://ingestor-2:pw@broker"}
    assert load(env=env).client_id == "ingestor-2"
    assert load(env={**env, "EMUSA_INGESTOR_SHARED_GROUP": "ing"}).client_id == "ingestor-2"
    assert load({"client_id": "fixed"}, env).client_id == "fixed"


def test_replicas_in_a_shared_group_get_one_client_id_per_host() -> None:
    env = {**ENV, "EMUSA_INGESTOR_SHARED_GROUP": "ingest"}
    c = load(env=env)
    assert c.shared_group == "ingest"
    assert c.client_id.startswith("emusa-ingestor-")
    assert c.client_id != "emusa-ingestor"
    assert load({"client_id": "fixed"}, env).client_id == "fixed"
    assert default_client_id("a1b2c3 x/y") == "emusa-ingestor-a1b2c3-x-y"
    assert len(default_client_id("h" * 100)) == 64
