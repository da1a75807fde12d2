"""Real TimescaleDB and Mosquitto for the tests.

Each service is reached, in order: from an environment variable (``TEST_DSN``,
``TEST_MQTT_URL``); else in a Docker container through testcontainers when a Docker
engine answers; else from local binaries (PostgreSQL 15 + the TimescaleDB extension,
``mosquitto``) started on free ports in a temporary directory and stopped at the end.
``scripts/setup-services.sh`` installs the local binaries on Debian.

Nothing here depends on, or touches, the services a machine may already run on the
standard ports.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

TIMESCALEDB_IMAGE = "timescale/timescaledb:2.19.3-pg15"
MOSQUITTO_IMAGE = "eclipse-mosquitto:2.0.20"
PG_MAJOR = os.environ.get("PG_MAJOR", "15")
MQTT_USER = "emusa-test"
MQTT_PASSWORD = "emusa-test-password"


class ServiceUnavailable(RuntimeError):  # noqa: N818 - reads better at the call site
    """A required service cannot be reached or started; the message says what is missing."""


def require_services() -> bool:
    """In CI (or when asked), a missing service fails the run instead of skipping tests."""
    ci = os.environ.get("CI", "").lower() in {"1", "true", "yes"}
    return ci or os.environ.get("EMUSA_REQUIRE_SERVICES") == "1"


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_for_port(host: str, port: int, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError), socket.create_connection((host, port), timeout=0.5):
            return
        time.sleep(0.05)
    raise ServiceUnavailable(
        f"{what} did not accept connections on {host}:{port} in {timeout:.0f} s"
    )


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


def _as_user(user: str, argv: list[str]) -> list[str]:
    """PostgreSQL refuses to run as root: run its binaries as ``user`` when we are root."""
    if os.geteuid() == 0:
        return ["runuser", "-u", user, "--", *argv]
    return argv


def _run(argv: list[str], what: str) -> None:
    proc = subprocess.run(argv, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise ServiceUnavailable(
            f"{what} failed ({' '.join(argv[:3])}…): {proc.stderr.strip()[-800:]}"
        )


# --- PostgreSQL + TimescaleDB ---------------------------------------------------------


def pg_bindir() -> Path:
    for candidate in (Path(f"/usr/lib/postgresql/{PG_MAJOR}/bin"),):
        if (candidate / "postgres").exists():
            return candidate
    found = shutil.which("pg_ctl")
    if found:
        return Path(found).resolve().parent
    raise ServiceUnavailable(
        f"PostgreSQL {PG_MAJOR} server binaries not found: run scripts/setup-services.sh"
        " (or set TEST_DSN to a TimescaleDB server)"
    )


def _timescaledb_installed(bindir: Path) -> bool:
    proc = subprocess.run(
        [str(bindir / "pg_config"), "--sharedir"], capture_output=True, text=True, check=False
    )
    share = proc.stdout.strip() if proc.returncode == 0 else f"/usr/share/postgresql/{PG_MAJOR}"
    return (Path(share) / "extension" / "timescaledb.control").exists()


@dataclass
class LocalPostgres:
    """A throwaway cluster: initdb in a temp dir, TimescaleDB preloaded, a free port."""

    base: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="emusa-pg-")))
    port: int = field(default_factory=free_port)
    bindir: Path = field(default_factory=pg_bindir)

    @property
    def datadir(self) -> Path:
        return self.base / "data"

    @property
    def dsn(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def start(self) -> str:
        if not _timescaledb_installed(self.bindir):
            raise ServiceUnavailable(
                "the TimescaleDB extension is not installed for PostgreSQL "
                f"{PG_MAJOR}: run scripts/setup-services.sh (or set TEST_DSN)"
            )
        if not self.datadir.exists():
            if os.geteuid() == 0:
                shutil.chown(self.base, user="postgres")
            _run(
                _as_user(
                    "postgres",
                    [
                        str(self.bindir / "initdb"),
                        "-D",
                        str(self.datadir),
                        "-U",
                        "postgres",
                        "-A",
                        "trust",
                        "-E",
                        "UTF8",
                        "--locale=C.UTF-8",
                        "--no-sync",
                    ],
                ),
                "initdb",
            )
            conf = self.datadir / "postgresql.conf"
            with conf.open("a", encoding="utf-8") as f:
                f.write(
                    "\n# emusa test cluster\n"
                    f"port = {self.port}\n"
                    "listen_addresses = '127.0.0.1'\n"
                    f"unix_socket_directories = '{self.base}'\n"
                    "shared_preload_libraries = 'timescaledb'\n"
                    "timescaledb.telemetry_level = off\n"
                    # Background workers hold connections to databases with the extension,
                    # which makes CREATE DATABASE ... TEMPLATE fail; tests need none.
                    "timescaledb.max_background_workers = 0\n"
                    "max_connections = 200\n"
                    # The deployment's server (the timescale image) runs in UTC; so does
                    # this cluster whatever the machine's zone (TZ at initdb would win).
                    "timezone = 'UTC'\nlog_timezone = 'UTC'\n"
                    "fsync = off\nsynchronous_commit = off\nfull_page_writes = off\n"
                )
        self._pg_ctl("start", "-w", "-t", "60", "-l", str(self.base / "postgres.log"))
        wait_for_port("127.0.0.1", self.port, 30, "PostgreSQL")
        return self.dsn

    def stop(self, mode: str = "fast") -> None:
        self._pg_ctl("stop", "-w", "-t", "60", "-m", mode)

    def kill(self) -> None:
        """Crash the server (SIGKILL to the postmaster), as a power cut would."""
        pid_file = self.datadir / "postmaster.pid"
        pid = int(pid_file.read_text().splitlines()[0])
        os.kill(pid, signal.SIGKILL)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                return
            time.sleep(0.05)

    def cleanup(self) -> None:
        with contextlib.suppress(ServiceUnavailable):
            self.stop("immediate")
        shutil.rmtree(self.base, ignore_errors=True)

    def _pg_ctl(self, *args: str) -> None:
        _run(
            _as_user("postgres", [str(self.bindir / "pg_ctl"), "-D", str(self.datadir), *args]),
            f"pg_ctl {args[0]}",
        )


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


# --- Mosquitto ------------------------------------------------------------------------


class MosquittoProcess:
    """Stop (SIGTERM: the broker saves its persistence file), restart on the same ports,
    clean up: shared by the harness's brokers, which start themselves."""

    proc: subprocess.Popen[bytes] | None
    base: Path

    def start(self) -> None:
        raise NotImplementedError

    def stop(self) -> None:
        if self.proc is None:
            return
        self.proc.terminate()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=10)
        self.proc = None

    def restart(self, down_for: float = 0.0) -> None:
        """Stop the broker (saving its persistence file) and start it on the same ports."""
        self.stop()
        time.sleep(down_for)
        self.start()

    def cleanup(self) -> None:
        self.stop()
        shutil.rmtree(self.base, ignore_errors=True)


@dataclass
class LocalMosquitto(MosquittoProcess):
    """A throwaway broker: an anonymous listener and a password listener, persistence on."""

    base: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="emusa-mqtt-")))
    port: int = field(default_factory=free_port)
    auth_port: int = field(default_factory=free_port)
    proc: subprocess.Popen[bytes] | None = None

    @property
    def binary(self) -> str:
        found = shutil.which("mosquitto") or (
            "/usr/sbin/mosquitto" if Path("/usr/sbin/mosquitto").exists() else None
        )
        if not found:
            raise ServiceUnavailable(
                "mosquitto not found: run scripts/setup-services.sh (or set TEST_MQTT_URL)"
            )
        return found

    def _write_config(self) -> Path:
        passwd = self.base / "passwd"
        if not passwd.exists():
            tool = shutil.which("mosquitto_passwd")
            if not tool:
                raise ServiceUnavailable(
                    "mosquitto_passwd not found: install the mosquitto package"
                )
            _run([tool, "-c", "-b", str(passwd), MQTT_USER, MQTT_PASSWORD], "mosquitto_passwd")
        conf = self.base / "mosquitto.conf"
        conf.write_text(
            "per_listener_settings true\n"
            + ("user root\n" if os.geteuid() == 0 else "")
            + f"persistence true\npersistence_location {self.base}/\n"
            f"log_dest file {self.base}/mosquitto.log\n"
            "log_type error\nlog_type warning\nlog_type notice\n"
            "max_queued_messages 100000\n"
            f"listener {self.port} 127.0.0.1\nallow_anonymous true\n"
            f"listener {self.auth_port} 127.0.0.1\nallow_anonymous false\n"
            f"password_file {passwd}\n",
            encoding="utf-8",
        )
        return conf

    def start(self) -> None:
        conf = self._write_config()
        self.proc = subprocess.Popen(
            [self.binary, "-c", str(conf)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        try:
            wait_for_port("127.0.0.1", self.port, 15, "Mosquitto")
            wait_for_port("127.0.0.1", self.auth_port, 15, "Mosquitto (password listener)")
        except ServiceUnavailable:
            self.stop()
            log = self.base / "mosquitto.log"
            detail = log.read_text(errors="replace")[-800:] if log.exists() else ""
            raise ServiceUnavailable(f"Mosquitto did not start: {detail}") from None


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
