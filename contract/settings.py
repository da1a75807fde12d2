"""Settings every service reads the same way (docs/operations-and-security.md).

The environment variable names shared by the services, the compose file and the docs;
the strict base of every configuration model (unknown keys are errors); and the
validators more than one service applies (topic root, MQTT URL, database URL). Errors are
:class:`~contract.errors.SettingsError` naming the variable. No database import: the
database URL is checked for libpq syntax here, and the driver reports the rest when it
connects.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from typing import Annotated, Final
from urllib.parse import parse_qsl, urlsplit

from pydantic import AfterValidator, BaseModel, ConfigDict

from contract import mqtt_url
from contract.errors import ContractError, SettingsError
from contract.messages import check_name, check_root

DATABASE_URL: Final = "EMUSA_DATABASE_URL"
MQTT_URL: Final = "EMUSA_MQTT_URL"
TOPIC_ROOT: Final = "EMUSA_TOPIC_ROOT"
SITE: Final = "EMUSA_SITE"
TZ: Final = "EMUSA_TZ"
LANG: Final = "EMUSA_LANG"

#: Database roles of the system and the variable holding each one's password.
ROLE_PASSWORD_VARS: Mapping[str, str] = {
    "emusa_ingestor": "EMUSA_INGESTOR_DB_PASSWORD",
    "emusa_analytics": "EMUSA_ANALYTICS_DB_PASSWORD",
    "emusa_grafana": "EMUSA_GRAFANA_DB_PASSWORD",
    "emusa_bi": "EMUSA_BI_DB_PASSWORD",
}


class Strict(BaseModel):
    """Base of every configuration model: unknown keys are errors, values are frozen."""

    model_config = ConfigDict(extra="forbid", frozen=True)


def _topic_root(value: str) -> str:
    try:
        return check_root(value)
    except ContractError as exc:
        raise ValueError(exc.detail) from None


def _mqtt_url(value: str) -> str:
    mqtt_url.parse(value, variable=None)  # ValueError says what is wrong, without the password
    return value


def _topic_level(value: str) -> str:
    try:
        return check_name("name", value)
    except ContractError as exc:
        raise ValueError(exc.detail.removeprefix("name ")) from None


#: A topic root (``emusa``, ``plant/a``): levels of ``[A-Za-z0-9_.-]``.
TopicRoot = Annotated[str, AfterValidator(_topic_root)]
#: ``mqtt://user:pass@host:1883`` or ``mqtts://…``.
MqttUrl = Annotated[str, AfterValidator(_mqtt_url)]
#: A site, meter or gateway id: one topic level (and a database name).
TopicLevel = Annotated[str, AfterValidator(_topic_level)]

# libpq's keyword/value form: key = value pairs, values bare or single-quoted.
_PAIR = re.compile(r"\s*(\w+)\s*=\s*(?:'(?:[^'\\]|\\.)*'|[^\s']+)\s*")
#: The connection keywords libpq accepts (PostgreSQL 15-17, "Parameter Key Words"); a URI's
#: query parameters are the same keywords. Data, so a typo is refused at start.
LIBPQ_KEYWORDS: Final = frozenset(
    [
        "host",
        "hostaddr",
        "port",
        "dbname",
        "user",
        "password",
        "passfile",
        "require_auth",
        "channel_binding",
        "connect_timeout",
        "client_encoding",
        "options",
        "application_name",
        "fallback_application_name",
        "keepalives",
        "keepalives_idle",
        "keepalives_interval",
        "keepalives_count",
        "tcp_user_timeout",
        "replication",
        "gssencmode",
        "sslmode",
        "requiressl",
        "sslcompression",
        "sslcert",
        "sslkey",
        "sslpassword",
        "sslcertmode",
        "sslrootcert",
        "sslcrl",
        "sslcrldir",
        "sslsni",
        "requirepeer",
        "ssl_min_protocol_version",
        "ssl_max_protocol_version",
        "krbsrvname",
        "gsslib",
        "gssdelegation",
        "service",
        "target_session_attrs",
        "load_balance_hosts",
        "sslnegotiation",
    ]
)


def check_database_url(url: str) -> str:
    """``url`` when it has libpq's syntax (a ``postgresql://`` URI or ``key=value`` pairs);
    ValueError saying why not."""
    if url.startswith(("postgresql://", "postgres://")):
        try:
            parts = urlsplit(url)
            keys = [k for k, _ in parse_qsl(parts.query, keep_blank_values=True)]
        except ValueError as exc:
            raise ValueError(f"bad URI: {exc}") from None
    elif "://" in url:
        raise ValueError("a URI must start with postgresql:// or postgres://")
    else:
        pos, keys = 0, []
        while pos < len(url):
            pair = _PAIR.match(url, pos)
            if pair is None or pair.end() == pos:
                raise ValueError(f"expected key=value at {url[pos : pos + 20]!r}")
            keys.append(pair.group(1))
            pos = pair.end()
    unknown = sorted(set(keys) - LIBPQ_KEYWORDS)
    if unknown:
        raise ValueError(f"invalid connection option {', '.join(map(repr, unknown))}")
    return url


def _database_url(value: str) -> str:
    try:
        return check_database_url(value)
    except ValueError as exc:
        raise ValueError(f"not a valid libpq connection string: {exc}") from None


#: A libpq connection string (URI or key=value pairs).
DatabaseUrl = Annotated[str, AfterValidator(_database_url)]


def utc_database_sessions(env: dict[str, str] | None = None) -> None:
    """Make every database session of this process run in UTC (libpq's ``PGTZ``), whatever
    the server's zone: times read back are UTC, as the contract writes them. A ``PGTZ``
    already set wins."""
    (os.environ if env is None else env).setdefault("PGTZ", "UTC")


def database_url(value: str | None = None, env: Mapping[str, str] | None = None) -> str:
    """The libpq URL from ``value`` (a flag) or ``EMUSA_DATABASE_URL``, checked for syntax."""
    env = os.environ if env is None else env
    url = value if value is not None else env.get(DATABASE_URL)
    if not url:
        raise SettingsError(f"{DATABASE_URL} is not set (a libpq URL, postgresql://user@host/db)")
    try:
        return check_database_url(url)
    except ValueError as exc:
        raise SettingsError(
            f"{DATABASE_URL} is not a valid libpq connection string: {exc}"
        ) from None
