"""Settings of ``emusa-ingestor run``: environment variables, overridden by flags.

Shared names come from contract/settings.py (``EMUSA_DATABASE_URL``, ``EMUSA_MQTT_URL``,
``EMUSA_TOPIC_ROOT``); the ingestor's own knobs are ``EMUSA_INGESTOR_*``. A missing or
malformed value raises ``ConfigError`` naming the variable, so the service stops at start.
"""

from __future__ import annotations

import os
import re
import socket
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Final

from pydantic import Field, ValidationError, field_validator

from contract import DEFAULT_ROOT, ContractError, check_name, mqtt_url
from contract.mqtt_url import MqttEndpoint
from contract.settings import (
    DATABASE_URL,
    MQTT_URL,
    TOPIC_ROOT,
    DatabaseUrl,
    MqttUrl,
    Strict,
    TopicRoot,
)
from ingestor.bounds import (
    DEFAULT_MAX_METERS,
    DEFAULT_MAX_SITES,
    DEFAULT_REJECTS_PER_REASON,
    MAX_METERS_VAR,
    MAX_SITES_VAR,
    Limits,
)
from ingestor.errors import ConfigError

#: field name -> environment variable (and the flag is ``--field-name``).
ENV: Final[Mapping[str, str]] = {
    "database_url": DATABASE_URL,
    "mqtt_url": MQTT_URL,
    "topic_root": TOPIC_ROOT,
    "client_id": "EMUSA_INGESTOR_CLIENT_ID",  # default: the login, else emusa-ingestor(-<host>)
    "shared_group": "EMUSA_INGESTOR_SHARED_GROUP",
    "session_expiry": "EMUSA_INGESTOR_SESSION_EXPIRY",
    "receive_maximum": "EMUSA_INGESTOR_RECEIVE_MAXIMUM",
    "batch_rows": "EMUSA_INGESTOR_BATCH_ROWS",
    "batch_ms": "EMUSA_INGESTOR_BATCH_MS",
    "retention_days": "EMUSA_INGESTOR_RETENTION_DAYS",
    "max_future_s": "EMUSA_INGESTOR_MAX_FUTURE_S",
    "reject_keep_bytes": "EMUSA_INGESTOR_REJECT_KEEP_BYTES",
    "status_file": "EMUSA_INGESTOR_STATUS_FILE",
    "retry_max_s": "EMUSA_INGESTOR_RETRY_MAX_S",
    "max_sites": MAX_SITES_VAR,
    "max_meters": MAX_METERS_VAR,
    "rejects_per_reason": "EMUSA_INGESTOR_REJECTS_PER_REASON",
}

DEFAULT_STATUS_FILE: Final = Path(tempfile.gettempdir()) / "emusa-ingestor.status.json"


def parse_mqtt_url(url: str) -> MqttEndpoint:
    """``mqtt://user:pass@host:1883`` or ``mqtts://…`` (TLS, default port 8883)."""
    return mqtt_url.parse(url, variable=None)


class IngestorConfig(Strict):
    """Everything ``run`` needs; built by :func:`load` from flags and the environment."""

    database_url: DatabaseUrl = Field(repr=False)
    mqtt_url: MqttUrl = Field(repr=False)
    topic_root: TopicRoot = DEFAULT_ROOT
    client_id: str = Field(default="emusa-ingestor", min_length=1, max_length=64)
    shared_group: str | None = None
    session_expiry: int = Field(default=86_400, ge=0, le=2**32 - 1)
    receive_maximum: int = Field(default=8_000, ge=1, le=65_535)
    batch_rows: int = Field(default=2_000, ge=1, le=50_000)
    batch_ms: int = Field(default=200, ge=1, le=60_000)
    retention_days: int = Field(default=400, ge=1)
    max_future_s: int = Field(default=300, ge=0)
    reject_keep_bytes: int = Field(default=4096, ge=0, le=1_048_576)
    status_file: Path = DEFAULT_STATUS_FILE
    retry_max_s: float = Field(default=30.0, gt=0, le=3600)
    # Registered on first sight at most (ingestor/bounds.py explains the defaults).
    max_sites: int = Field(default=DEFAULT_MAX_SITES, ge=1, le=100_000)
    max_meters: int = Field(default=DEFAULT_MAX_METERS, ge=1, le=1_000_000)
    rejects_per_reason: int = Field(default=DEFAULT_REJECTS_PER_REASON, ge=1, le=10_000_000)

    @field_validator("shared_group")
    @classmethod
    def _group(cls, v: str | None) -> str | None:
        if not v:
            return None
        try:
            return check_name("shared group", v)
        except ContractError as exc:
            raise ValueError(exc.detail) from None

    @property
    def mqtt(self) -> MqttEndpoint:
        return parse_mqtt_url(self.mqtt_url)

    @property
    def limits(self) -> Limits:
        return Limits(
            max_sites=self.max_sites,
            max_meters=self.max_meters,
            rejects_per_reason=self.rejects_per_reason,
        )


def _login(url: object, fallback: str) -> str:
    """The client id a service logging in with ``url`` uses (its login, else ``fallback``)."""
    try:
        return parse_mqtt_url(str(url)).client_id(fallback) if url else fallback
    except ValueError:
        return fallback  # the URL's own validator names the variable


def default_client_id(host: str) -> str:
    """``emusa-ingestor-<host>``, limited to characters every broker accepts."""
    clean = re.sub(r"[^A-Za-z0-9_.-]", "-", host) or "host"
    return f"emusa-ingestor-{clean}"[:64]


def load(
    flags: Mapping[str, object | None] | None = None, env: Mapping[str, str] | None = None
) -> IngestorConfig:
    """Settings from ``flags`` (field name -> value, ``None`` = not given) over ``env``."""
    env = os.environ if env is None else env
    raw: dict[str, Any] = {}
    for name, var in ENV.items():
        value = (flags or {}).get(name)
        if value is None:
            value = env.get(var) or None
        if value is not None:
            raw[name] = value
    if "client_id" not in raw:
        # The login names the session (the shipped broker forces it); without one, replicas
        # sharing the load need distinct session names (the same client id would make them
        # take each other's connection over): default to one per host.
        group = raw.get("shared_group")
        fallback = default_client_id(socket.gethostname()) if group else "emusa-ingestor"
        raw["client_id"] = _login(raw.get("mqtt_url"), fallback)
    for required in ("database_url", "mqtt_url"):
        if required not in raw:
            raise ConfigError(f"{ENV[required]} is not set")
    try:
        return IngestorConfig(**raw)
    except ValidationError as exc:
        err = exc.errors()[0]
        field = str(err["loc"][0]) if err["loc"] else "?"
        var = ENV.get(field, field)
        shown = "" if field in {"database_url", "mqtt_url"} else f" ({raw.get(field)!r})"
        raise ConfigError(f"{var}{shown} is invalid: {err['msg']}") from None
