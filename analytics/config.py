"""Settings of the analytics worker: environment variables, overridden by flags.

Names are shared with the other services (contract/settings.py, docs/operations-and-security.md). A missing or malformed value
raises :class:`ConfigError` naming the variable.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from datetime import timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, ValidationError

from analytics.errors import ConfigError
from contract import DEFAULT_ROOT
from contract.settings import DatabaseUrl, MqttUrl, Strict, TopicLevel, TopicRoot

ENV: Mapping[str, str] = {
    "database_url": "EMUSA_DATABASE_URL",
    "mqtt_url": "EMUSA_MQTT_URL",
    "topic_root": "EMUSA_TOPIC_ROOT",
    "site": "EMUSA_SITE",
    "tz": "EMUSA_TZ",
    "lang": "EMUSA_LANG",
    "llm_url": "EMUSA_LLM_URL",
    "llm_model": "EMUSA_LLM_MODEL",
    "llm_api_key": "EMUSA_LLM_API_KEY",
    "llm_timeout": "EMUSA_LLM_TIMEOUT",
    "crosscheck_tolerance_pct": "EMUSA_CROSSCHECK_TOLERANCE_PCT",
    "crosscheck_floor_kwh": "EMUSA_CROSSCHECK_FLOOR_KWH",
}


class LlmSettings(Strict):
    """An OpenAI-compatible chat-completions endpoint (optional)."""

    url: str
    model: str
    api_key: str | None = None
    timeout: float = Field(default=20.0, gt=0, le=300)


class Settings(Strict):
    database_url: DatabaseUrl
    mqtt_url: MqttUrl | None = None
    topic_root: TopicRoot = DEFAULT_ROOT
    site: TopicLevel | None = None
    tz: str = "America/Sao_Paulo"
    lang: str = "pt-BR"
    llm: LlmSettings | None = None
    detect_every: timedelta = timedelta(minutes=5)
    refresh_every: timedelta = timedelta(minutes=1)
    summarize_every: timedelta = timedelta(minutes=1)
    publish_every: timedelta = timedelta(seconds=5)
    settle: timedelta = timedelta(minutes=5)
    catch_up: timedelta = timedelta(days=7)
    refit_every: timedelta = timedelta(hours=24)
    # the model (detection/seasonal.py): 3 Saturdays, 3 Sundays
    train_window: timedelta = timedelta(days=21)
    model_enabled: bool = True
    # counter cross-check: allowed |counter - integrated| per hour, the larger of the two
    crosscheck_tolerance_pct: float = Field(default=5.0, gt=0, lt=100)
    crosscheck_floor_kwh: float = Field(default=0.5, gt=0)
    worker: str = Field(default_factory=lambda: f"{os.uname().nodename}:{os.getpid()}")


def _check(name: str, ok: bool, message: str) -> None:
    if not ok:
        raise ConfigError(f"{ENV.get(name, name)}: {message}")


def load(flags: Mapping[str, Any] | None = None, env: Mapping[str, str] | None = None) -> Settings:
    """Settings from ``env`` (default: the process environment), ``flags`` winning."""
    env = os.environ if env is None else env
    flags = {k: v for k, v in (flags or {}).items() if v is not None}
    raw: dict[str, Any] = {}
    for key, var in ENV.items():
        if key in flags:
            raw[key] = flags.pop(key)
        elif env.get(var):
            raw[key] = env[var]
    raw.update(flags)

    _check("database_url", bool(raw.get("database_url")), "is not set (a libpq URL)")
    tz = str(raw.get("tz", "America/Sao_Paulo"))
    try:
        ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigError(f"EMUSA_TZ: unknown time zone {tz!r}") from None
    _check("lang", raw.get("lang", "pt-BR") in ("pt-BR", "en"), "must be pt-BR or en")

    _llm(raw)
    try:
        return Settings(**raw)
    except ValidationError as exc:
        err = exc.errors()[0]
        field = str(err["loc"][0]) if err["loc"] else "?"
        raise ConfigError(
            f"{ENV.get(field, '--' + field.replace('_', '-'))}: {err['msg']}"
        ) from exc


def _llm(raw: dict[str, Any]) -> None:
    llm_keys = ("llm_url", "llm_model", "llm_api_key", "llm_timeout")
    llm = {k.removeprefix("llm_"): raw.pop(k) for k in llm_keys if k in raw}
    if llm:
        _check("llm_url", "url" in llm, "must be set when another EMUSA_LLM_* variable is")
        _check("llm_model", "model" in llm, "must be set together with EMUSA_LLM_URL")
        _check(
            "llm_url",
            str(llm["url"]).startswith(("http://", "https://")),
            "must be an http(s) URL",
        )
        try:
            raw["llm"] = LlmSettings(**llm)
        except ValidationError as exc:
            raise ConfigError(f"EMUSA_LLM_TIMEOUT: {exc.errors()[0]['msg']}") from exc
