"""Real TimescaleDB and Mosquitto for the tests.

Each service is reached, in order: from an environment variable (``TEST_DSN``,
``TEST_MQTT_URL``); else in a Docker container through testcontainers when a Docker
engine answers; else from local binaries (PostgreSQL 15 + the TimescaleDB extension,
``mosquitto``) started on free ports in a temporary directory and stopped at the end:
``ingestor/localstack.py``'s ``LocalPostgres`` and ``LocalMosquitto``, which
``make run-native`` uses too. ``scripts/setup-services.sh`` installs the local binaries
on Debian.

Nothing here depends on, or touches, the services a machine may already run on the
standard ports.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from ingestor.localstack import (
    MQTT_PASSWORD,
    MQTT_USER,
    LocalMosquitto,
    LocalPostgres,
    wait_for_port,
)

TIMESCALEDB_IMAGE = "timescale/timescaledb:2.19.3-pg15"
MOSQUITTO_IMAGE = "eclipse-mosquitto:2.0.20"


def require_services() -> bool:
    """In CI (or when asked), a missing service fails the run instead of skipping tests."""
    ci = os.environ.get("CI", "").lower() in {"1", "true", "yes"}
    return ci or os.environ.get("EMUSA_REQUIRE_SERVICES") == "1"


def docker_available() -> bool:
    """True when a Docker engine answers (testcontainers can then start services)."""
    if not os.environ.get("DOCKER_HOST") and not Path("/var/run/docker.sock").exists():
        return False
    try:
        import docker

        client = docker.from_env(timeout=3)
    except Exception:
        return False
    try:
        client.ping()
    except Exception:
        return False
    finally:
        client.close()
    return True


@contextlib.contextmanager
def timescaledb() -> Iterator[tuple[str, LocalPostgres | None]]:
    """Yield (admin DSN, local cluster or None) of a TimescaleDB server for the session."""
    if dsn := os.environ.get("TEST_DSN"):
        yield dsn, None
        return
    if docker_available():
        from testcontainers.postgres import PostgresContainer

        container = PostgresContainer(TIMESCALEDB_IMAGE, username="postgres", password="postgres")
        container.with_command("postgres -c timescaledb.max_background_workers=0")
        with container:
            url = container.get_connection_url(driver=None)
            yield url, None
        return
    local = LocalPostgres()
    try:
        local.start()
        yield local.dsn, local
    finally:
        local.cleanup()


@dataclass(frozen=True)
class Broker:
    """How tests reach the broker. ``local`` is set when the session started it."""

    host: str
    port: int
    auth_port: int | None
    username: str | None
    password: str | None
    local: LocalMosquitto | None = None

    @property
    def url(self) -> str:
        return f"mqtt://{self.host}:{self.port}"


@contextlib.contextmanager
def mosquitto() -> Iterator[Broker]:
    if url := os.environ.get("TEST_MQTT_URL"):
        parts = urlsplit(url)
        yield Broker(
            parts.hostname or "127.0.0.1", parts.port or 1883, None, parts.username, parts.password
        )
        return
    if docker_available():
        from testcontainers.core.container import DockerContainer

        container = DockerContainer(MOSQUITTO_IMAGE).with_exposed_ports(1883)
        container.with_command("mosquitto -c /mosquitto-no-auth.conf")
        with container:
            host = container.get_container_host_ip()
            port = int(container.get_exposed_port(1883))
            wait_for_port(host, port, 30, "Mosquitto container")
            yield Broker(host, port, None, None, None)
        return
    local = LocalMosquitto()
    try:
        local.start()
        yield Broker("127.0.0.1", local.port, local.auth_port, MQTT_USER, MQTT_PASSWORD, local)
    finally:
        local.cleanup()
