"""contract.settings: the shared validators, each naming what is wrong."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from contract.errors import SettingsError
from contract.settings import (
    DatabaseUrl,
    MqttUrl,
    Strict,
    TopicLevel,
    TopicRoot,
    check_database_url,
    database_url,
    utc_database_sessions,
)

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(
    "url",
    [
        "postgresql://emusa@db:5432/emusa",
        "postgres://a@b/c?sslmode=require&connect_timeout=3",
        "postgresql://h1:5432,h2:5433/emusa?target_session_attrs=read-write",
        "host=127.0.0.1 port=5432 dbname=emusa user=postgres",
        "host=x dbname='a b' password='it\\'s'",
        "",
    ],
)
def test_libpq_urls_pass(url: str) -> None:
    assert check_database_url(url) == url


@pytest.mark.parametrize(
    ("url", "why"),
    [
        ("postgresql://a@b/c?nosuchoption=1", "invalid connection option 'nosuchoption'"),
        ("host=x nosuch=1", "invalid connection option 'nosuch'"),
        ("host=x port", "expected key=value at 'port'"),
        ("mysql://a@b/c", "must start with postgresql://"),
        ("host='unterminated", "expected key=value"),
    ],
)
def test_bad_libpq_urls_say_why(url: str, why: str) -> None:
    with pytest.raises(ValueError, match=why):
        check_database_url(url)


def test_database_url_names_the_variable_and_the_flag_wins() -> None:
    with pytest.raises(SettingsError, match="EMUSA_DATABASE_URL is not set"):
        database_url(None, {})
    with pytest.raises(SettingsError, match="EMUSA_DATABASE_URL is not a valid libpq"):
        database_url(None, {"EMUSA_DATABASE_URL": "host=x port"})
    env = {"EMUSA_DATABASE_URL": "postgresql://x@y/z"}
    assert database_url("postgresql://a@b/c", env) == "postgresql://a@b/c"


class _Model(Strict):
    db: DatabaseUrl = "postgresql://a@b/c"
    mqtt: MqttUrl = "mqtt://localhost:1883"
    root: TopicRoot = "emusa"
    site: TopicLevel | None = None


def test_strict_base_rejects_unknown_keys_and_freezes() -> None:
    with pytest.raises(ValidationError, match="Extra inputs are not permitted"):
        _Model(colour="red")  # type: ignore[call-arg]
    m = _Model()
    with pytest.raises(ValidationError, match="frozen"):
        m.root = "other"


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("db", "host=x port", "not a valid libpq connection string"),
        ("mqtt", "http://broker", "mqtt:// or mqtts://"),
        ("root", "a/+/b", "topic root 'a/+/b' must be levels"),
        ("site", "bad site", "'bad site' must be 1-64 characters"),
    ],
)
def test_annotated_validators_name_the_problem(field: str, value: str, message: str) -> None:
    with pytest.raises(ValidationError) as info:
        _Model(**{field: value})
    (err,) = info.value.errors()
    assert err["loc"] == (field,) and message in err["msg"]


def test_database_sessions_default_to_utc_without_overriding_a_choice() -> None:
    env: dict[str, str] = {}
    utc_database_sessions(env)
    assert env == {"PGTZ": "UTC"}
    chosen = {"PGTZ": "America/Sao_Paulo"}
    utc_database_sessions(chosen)
    assert chosen == {"PGTZ": "America/Sao_Paulo"}
