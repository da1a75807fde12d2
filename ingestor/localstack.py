# ruff: noqa: S603  (every argv is built here from the local PostgreSQL/Mosquitto binaries)
"""Local PostgreSQL/TimescaleDB and Mosquitto processes for running the stack without
Docker (``make run-native``) and for the tests.

``LocalPostgres`` is a throwaway cluster (initdb in a directory, TimescaleDB preloaded,
UTC, a free port); ``LocalMosquitto`` a broker with an anonymous and a password listener
and persistence on. Both use the local binaries that ``scripts/setup-services.sh``
installs on Debian, listen on 127.0.0.1 only and never touch the services a machine may
already run on the standard ports. Local use only: the cluster trusts local connections.
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
from dataclasses import dataclass, field
from pathlib import Path

PG_MAJOR = os.environ.get("PG_MAJOR", "15")
#: the user of LocalMosquitto's password listener (a local, throwaway broker)
MQTT_USER = "emusa-test"
MQTT_PASSWORD = "emusa-test-password"  # noqa: S105 - not a secret: a local broker on 127.0.0.1


class ServiceUnavailable(RuntimeError):  # noqa: N818 - reads better at the call site
    """A required service cannot be reached or started; the message says what is missing."""


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
                    "\n# emusa local cluster (ingestor/localstack.py)\n"
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


# --- Mosquitto ------------------------------------------------------------------------


class MosquittoProcess:
    """Stop (SIGTERM: the broker saves its persistence file), restart on the same ports,
    clean up: shared by the local brokers, which start themselves."""

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
