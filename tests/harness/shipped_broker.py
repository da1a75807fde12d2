"""Mosquitto as shipped: ``mosquitto/mosquitto.conf``, ``mosquitto/acl`` and a password file
written by ``mosquitto/init-passwd.sh`` from the variables docker-compose passes.

Only the container paths and ports of the shipped config are rewritten (to a temporary
directory and free local ports); users, ACL, persistence and listener settings are the
ones a deployment runs with. ``tls=True`` adds ``mosquitto/tls.conf.example`` as
``conf.d/tls.conf`` with a self-signed certificate. ``restart`` keeps ports, passwords and
the persistence file, as a broker container restart does.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote

from tests.harness.services import (
    Broker,
    MosquittoProcess,
    ServiceUnavailable,
    free_port,
    wait_for_port,
)

REPO = Path(__file__).resolve().parents[2]
SHIPPED = REPO / "mosquitto"
USERS = ("gateway", "ingestor", "analytics", "reader")  # mosquitto/acl, init-passwd.sh


def new_passwords() -> dict[str, str]:
    """A fresh random password for every user of the shipped ACL."""
    return {u: f"{u[:2]}-{uuid.uuid4().hex}" for u in USERS}


def _binary() -> str:
    found = shutil.which("mosquitto") or (
        "/usr/sbin/mosquitto" if Path("/usr/sbin/mosquitto").exists() else None
    )
    if not found or not shutil.which("mosquitto_passwd"):
        raise ServiceUnavailable(
            "mosquitto and mosquitto_passwd are needed: run scripts/setup-services.sh"
        )
    return found


def _self_signed(certs: Path) -> None:
    certs.mkdir()
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
         "-subj", "/CN=localhost", "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1",
         "-keyout", str(certs / "server.key"), "-out", str(certs / "server.crt")],
        check=True, capture_output=True, timeout=60,
    )  # fmt: skip


@dataclass
class ShippedMosquitto(MosquittoProcess):
    """The shipped broker on 127.0.0.1: ``port`` (login + ACL), ``health_port`` (anonymous,
    ``$SYS/broker/uptime`` only) and, with ``tls``, ``tls_port`` (certificate ``ca``)."""

    passwords: Mapping[str, str] = field(default_factory=new_passwords)
    tls: bool = False
    base: Path = field(
        default_factory=lambda: Path(os.path.realpath(tempfile.mkdtemp(prefix="emusa-acl-")))
    )
    port: int = field(default_factory=free_port)
    health_port: int = field(default_factory=free_port)
    tls_port: int = field(default_factory=free_port)  # listening only with ``tls``
    proc: subprocess.Popen[bytes] | None = None

    @property
    def conf(self) -> Path:
        return self.base / "mosquitto.conf"

    @property
    def log(self) -> Path:
        return self.base / "mosquitto.log"

    @property
    def ca(self) -> Path:
        return self.base / "certs" / "server.crt"

    def url(self, user: str) -> str:
        """``mqtt://user:password@127.0.0.1:port``, as a service's EMUSA_MQTT_URL."""
        return f"mqtt://{user}:{quote(self.passwords[user], safe='')}@127.0.0.1:{self.port}"

    def login(self, user: str) -> tuple[str, str]:
        return user, self.passwords[user]

    @property
    def broker(self) -> Broker:
        """Where the login listener is, as a :class:`Broker` (``Collector(..., login=)``)."""
        return Broker("127.0.0.1", self.port, None, None, None)

    def _prepare(self) -> None:
        """Password file, certificates and the rewritten config, once."""
        (self.base / "data").mkdir()
        (self.base / "conf.d").mkdir()
        env = {k: v for k, v in os.environ.items() if not k.startswith("EMUSA_MQTT_")}
        env.update({f"EMUSA_MQTT_{u.upper()}_PASSWORD": p for u, p in self.passwords.items()})
        init = subprocess.run(["sh", str(SHIPPED / "init-passwd.sh"), str(self.base)], env=env,
                              capture_output=True, text=True, timeout=30, check=False)  # fmt: skip
        if init.returncode != 0:
            raise ServiceUnavailable(f"mosquitto/init-passwd.sh failed: {init.stderr.strip()}")
        acl = str(SHIPPED / "acl")
        if self.tls:
            _self_signed(self.base / "certs")
            tls_conf = (SHIPPED / "tls.conf.example").read_text()
            (self.base / "conf.d" / "tls.conf").write_text(
                tls_conf.replace("listener 8883", f"listener {self.tls_port} 127.0.0.1")
                .replace("/mosquitto/secrets/passwd", str(self.base / "passwd"))
                .replace("/mosquitto/config/acl", acl)
                .replace("/mosquitto/certs", str(self.base / "certs"))
            )
        conf = (
            (SHIPPED / "mosquitto.conf").read_text()
            .replace("/mosquitto/data/", f"{self.base}/data/")
            .replace("/mosquitto/secrets/passwd", str(self.base / "passwd"))
            .replace("/mosquitto/config/acl-health", str(SHIPPED / "acl-health"))
            .replace("/mosquitto/config/acl", acl)
            .replace("/mosquitto/config/conf.d", str(self.base / "conf.d"))
            .replace("listener 1883\n", f"listener {self.port} 127.0.0.1\n")
            .replace("listener 1880 127.0.0.1", f"listener {self.health_port} 127.0.0.1")
            .replace("log_dest stdout", f"log_dest file {self.log}")
        )  # fmt: skip
        if f"listener {self.port} " not in conf or f"listener {self.health_port} " not in conf:
            raise ServiceUnavailable(
                "mosquitto/mosquitto.conf changed: its listeners 1883 and 1880 were not found"
            )
        if any(" /mosquitto/" in ln for ln in conf.splitlines() if not ln.startswith("#")):
            raise ServiceUnavailable("mosquitto/mosquitto.conf has a container path left")
        if os.geteuid() == 0:
            conf = "user root\n" + conf
        self.conf.write_text(conf)

    def start(self) -> None:
        binary = _binary()
        if not self.conf.exists():
            self._prepare()
        self.proc = subprocess.Popen(
            [binary, "-c", str(self.conf)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        try:
            for p in (self.port, self.health_port, *([self.tls_port] if self.tls else [])):
                wait_for_port("127.0.0.1", p, 15, "Mosquitto (shipped config)")
        except ServiceUnavailable:
            self.stop()
            log = self.log.read_text(errors="replace")[-2000:] if self.log.exists() else ""
            raise ServiceUnavailable(
                f"mosquitto did not start with the shipped config: {log}"
            ) from None
