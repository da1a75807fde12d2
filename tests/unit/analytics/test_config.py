"""Settings: environment, flags overriding it, errors naming the variable."""

from __future__ import annotations

from datetime import timedelta

import pytest

from analytics.config import load
from analytics.errors import ConfigError
from analytics.worker.context import Context

pytestmark = pytest.mark.unit
DB = "postgresql://emusa@localhost/emusa"


def test_defaults() -> None:
    s = load(env={"EMUSA_DATABASE_URL": DB})
    assert s.topic_root == "emusa" and s.tz == "America/Sao_Paulo" and s.lang == "pt-BR"
    assert s.llm is None and s.mqtt_url is None and s.detect_every == timedelta(minutes=5)


def test_flags_override_environment() -> None:
    env = {"EMUSA_DATABASE_URL": DB, "EMUSA_TOPIC_ROOT": "a", "EMUSA_LANG": "en"}
    s = load({"topic_root": "b", "lang": None}, env=env)
    assert s.topic_root == "b" and s.lang == "en"


def test_llm_settings() -> None:
    env = {
        "EMUSA_DATABASE_URL": DB,
        "EMUSA_LLM_URL": "http://127.0.0.1:9/v1",
        "EMUSA_LLM_MODEL": "m",
        "EMUSA_LLM_API_KEY": "k",
        "EMUSA_LLM_TIMEOUT": "3.5",
    }
    s = load(env=env)
    assert s.llm is not None and s.llm.timeout == 3.5 and s.llm.api_key == "k"


@pytest.mark.parametrize(
    ("env", "variable"),
    [
        ({}, "EMUSA_DATABASE_URL"),
        ({"EMUSA_DATABASE_URL": "host=x port=notaport =bad"}, "EMUSA_DATABASE_URL"),
        ({"EMUSA_DATABASE_URL": DB, "EMUSA_MQTT_URL": "http://broker"}, "EMUSA_MQTT_URL"),
        ({"EMUSA_DATABASE_URL": DB, "EMUSA_TZ": "Mars/Olympus"}, "EMUSA_TZ"),
        ({"EMUSA_DATABASE_URL": DB, "EMUSA_LANG": "fr"}, "EMUSA_LANG"),
        ({"EMUSA_DATABASE_URL": DB, "EMUSA_SITE": "bad site"}, "EMUSA_SITE"),
        ({"EMUSA_DATABASE_URL": DB, "EMUSA_TOPIC_ROOT": "a//b"}, "EMUSA_TOPIC_ROOT"),
        ({"EMUSA_DATABASE_URL": DB, "EMUSA_LLM_MODEL": "m"}, "EMUSA_LLM_URL"),
        (
            {"EMUSA_DATABASE_URL": DB, "EMUSA_LLM_URL": "ftp://x", "EMUSA_LLM_MODEL": "m"},
            "EMUSA_LLM_URL",
        ),
        ({"EMUSA_DATABASE_URL": DB, "EMUSA_LLM_URL": "http://x"}, "EMUSA_LLM_MODEL"),
        (
            {"EMUSA_DATABASE_URL": DB, "EMUSA_CROSSCHECK_TOLERANCE_PCT": "0"},
            "EMUSA_CROSSCHECK_TOLERANCE_PCT",
        ),
        (
            {"EMUSA_DATABASE_URL": DB, "EMUSA_CROSSCHECK_FLOOR_KWH": "many"},
            "EMUSA_CROSSCHECK_FLOOR_KWH",
        ),
        (
            {
                "EMUSA_DATABASE_URL": DB,
                "EMUSA_LLM_URL": "http://x",
                "EMUSA_LLM_MODEL": "m",
                "EMUSA_LLM_TIMEOUT": "-1",
            },
            "EMUSA_LLM_TIMEOUT",
        ),
    ],
)
def test_errors_name_the_variable(env: dict[str, str], variable: str) -> None:
    with pytest.raises(ConfigError, match=variable):
        load(env=env)


def test_counter_cross_check_tolerances_reach_the_check() -> None:
    default = Context(load(env={"EMUSA_DATABASE_URL": DB})).crosscheck_limits
    assert (default.rel_tol, default.floor_kwh) == (0.05, 0.5)
    env = {
        "EMUSA_DATABASE_URL": DB,
        "EMUSA_CROSSCHECK_TOLERANCE_PCT": "2.5",
        "EMUSA_CROSSCHECK_FLOOR_KWH": "0.1",
    }
    limits = Context(load(env=env)).crosscheck_limits
    assert (limits.rel_tol, limits.floor_kwh) == (0.025, 0.1)
    assert limits.tolerance(100.0) == pytest.approx(2.5)  # 2.5 % of 100 kWh
    assert limits.tolerance(1.0) == 0.1  # the floor in a low-load hour


def test_unknown_flag_is_refused() -> None:
    with pytest.raises(ConfigError, match="--bogus"):
        load({"bogus": 1}, env={"EMUSA_DATABASE_URL": DB})
