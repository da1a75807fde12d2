"""Settings read from the environment (names shared by all services, see DESIGN.md)."""

from __future__ import annotations

import os
from collections.abc import Mapping

import psycopg.conninfo

from ingestor.errors import ConfigError

DATABASE_URL = "EMUSA_DATABASE_URL"

#: Database roles of the system and the variable holding each one's password.
ROLE_PASSWORD_VARS: Mapping[str, str] = {
    "emusa_ingestor": "EMUSA_INGESTOR_DB_PASSWORD",
    "emusa_analytics": "EMUSA_ANALYTICS_DB_PASSWORD",
    "emusa_grafana": "EMUSA_GRAFANA_DB_PASSWORD",
    "emusa_bi": "EMUSA_BI_DB_PASSWORD",
}


def database_url(value: str | None = None, env: Mapping[str, str] | None = None) -> str:
    """The libpq URL from ``value`` (a flag) or ``EMUSA_DATABASE_URL``, checked for syntax."""
    env = os.environ if env is None else env
    url = value if value is not None else env.get(DATABASE_URL)
    if not url:
        raise ConfigError(f"{DATABASE_URL} is not set (a libpq URL, postgresql://user@host/db)")
    try:
        psycopg.conninfo.conninfo_to_dict(url)
    except psycopg.ProgrammingError as exc:
        raise ConfigError(f"{DATABASE_URL} is not a valid libpq connection string: {exc}") from exc
    return url
