"""Mosquitto as shipped: ``mosquitto/mosquitto.conf``, ``mosquitto/acl`` and a password file
written by ``mosquitto/init-passwd.sh`` from the variables docker-compose passes.

Only the container paths and ports of the shipped config are rewritten (to a temporary
directory and free local ports; the dynamic-security plugin to where the OS package puts
it); users, ACL, persistence and listener settings are the ones a deployment runs with.
The accounts: ``gateway`` logs in as ``gw-plant-e2e`` (site ``plant``, gateway id
``e2e``: :data:`GATEWAY`), plus every gateway of ``gateways`` (``gw-<site>-<id>``), every
ingestor replica (``ingestor``, ``ingestor-2``...), ``analytics``, ``reader`` (limited to
``reader_sites`` when given) and every extra reader of ``readers``. ``tls=True`` adds ``mosquitto/tls.conf.example`` as
``conf.d/tls.conf`` with a self-signed certificate. ``restart`` keeps ports, passwords and
the persistence file, as a broker container restart does.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote

import pytest

from ingestor.localstack import MosquittoProcess, ServiceUnavailable, free_port, wait_for_port
from tests.harness.services import Broker

REPO = Path(__file__).resolve().parents[2]
SHIPPED = REPO / "mosquitto"
USERS = ("gateway", "ingestor", "analytics", "reader")  # mosquitto/acl, init-passwd.sh
GATEWAY = ("plant", "e2e")  # site and gateway id of the ``gateway`` login (EMUSA_SITE, _ID)
DYNSEC_PLUGIN = "/usr/lib/mosquitto_dynamic_security.so"  # in the shipped config


def gateway_user(site: str, gateway_id: str) -> str:
    """The login of a gateway's own account (mosquitto/init-passwd.sh)."""
    return f"gw-{site}-{gateway_id}"


def new_passwords(*extra: str) -> dict[str, str]:
    """A fresh random password for every user of the shipped ACL, and for ``extra`` logins."""
    return {u: f"{u[:2]}-{uuid.uuid4().hex}" for u in (*USERS, *extra)}


@contextmanager
def serving(shipped: ShippedMosquitto) -> Iterator[ShippedMosquitto]:
    """``shipped`` started (a test failure, not a skip, when it cannot start), then removed."""
    try:
        shipped.start()
    except ServiceUnavailable as exc:
        shipped.cleanup()
        pytest.fail(str(exc))
    try:
        yield shipped
    finally:
        shipped.cleanup()


def _dynsec_plugin() -> str:
    found = sorted(Path("/usr/lib").glob("*/mosquitto_dynamic_security.so")) + sorted(
        Path("/usr/lib").glob("mosquitto_dynamic_security.so")
    )
    if not found:
        raise ServiceUnavailable("mosquitto_dynamic_security.so not found: install mosquitto")
    return str(found[0])


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
    gateways: tuple[tuple[str, str], ...] = ()  # (site, gateway id): gw-<site>-<id> logins
    ingestors: int = 1  # EMUSA_MQTT_INGESTORS: ingestor, ingestor-2, ...
    reader_sites: str = ""  # EMUSA_MQTT_READER_SITES
    readers: tuple[tuple[str, str], ...] = ()  # (login, sites "a,b" or ""): EMUSA_MQTT_READERS
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

    def username(self, user: str) -> str:
        """The broker login of ``user`` (``gateway`` is ``gw-plant-e2e``)."""
        return gateway_user(*GATEWAY) if user == "gateway" else user

    def url(self, user: str) -> str:
        """``mqtt://login:password@127.0.0.1:port``, as a service's EMUSA_MQTT_URL."""
        password = quote(self.password(user), safe="")
        return f"mqtt://{self.username(user)}:{password}@127.0.0.1:{self.port}"

    def password(self, user: str) -> str:
        """The password of ``user`` (ingestor replicas share the ingestor's)."""
        return self.passwords["ingestor" if user.startswith("ingestor-") else user]

    def login(self, user: str) -> tuple[str, str]:
        return self.username(user), self.password(user)

    def _accounts_env(self) -> dict[str, str]:
        """The variables docker-compose passes to mosquitto/init-passwd.sh."""
        p = self.passwords
        return {
            "EMUSA_SITE": GATEWAY[0], "EMUSA_GATEWAY_ID": GATEWAY[1],
            "EMUSA_MQTT_GATEWAY_PASSWORD": p["gateway"],
            "EMUSA_MQTT_GATEWAYS": " ".join(
                f"{s}:{g}:{p[gateway_user(s, g)]}" for s, g in self.gateways
            ),
            "EMUSA_MQTT_INGESTOR_PASSWORD": p["ingestor"],
            "EMUSA_MQTT_INGESTORS": str(self.ingestors),
            "EMUSA_MQTT_ANALYTICS_PASSWORD": p["analytics"],
            "EMUSA_MQTT_READER_PASSWORD": p.get("reader", ""),
            "EMUSA_MQTT_READER_SITES": self.reader_sites,
            "EMUSA_MQTT_READERS": " ".join(
                f"{u}:{p[u]}" + (f":{sites}" if sites else "") for u, sites in self.readers
            ),
        }  # fmt: skip

    @property
    def broker(self) -> Broker:
        """Where the login listener is, as a :class:`Broker` (``Collector(..., login=)``)."""
        return Broker("127.0.0.1", self.port, None, None, None)

    def _prepare(self) -> None:
        """Password file, certificates and the rewritten config, once."""
        (self.base / "data").mkdir()
        (self.base / "conf.d").mkdir()
        env = {k: v for k, v in os.environ.items() if not k.startswith("EMUSA_MQTT_")}
        env.update(self._accounts_env())
        init = subprocess.run(["sh", str(SHIPPED / "init-passwd.sh"), str(self.base)], env=env,
                              capture_output=True, text=True, timeout=30, check=False)  # fmt: skip
        if init.returncode != 0:
            raise ServiceUnavailable(f"mosquitto/init-passwd.sh failed: {init.stderr.strip()}")
        acl = str(self.base / "acl")
        if self.tls:
            _self_signed(self.base / "certs")
            tls_conf = (SHIPPED / "tls.conf.example").read_text()
            (self.base / "conf.d" / "tls.conf").write_text(
                tls_conf.replace("listener 8883", f"listener {self.tls_port} 127.0.0.1")
                .replace("/mosquitto/secrets/passwd", str(self.base / "passwd"))
                .replace("/mosquitto/secrets/acl", acl)
                .replace("/mosquitto/certs", str(self.base / "certs"))
            )
        conf = (
            (SHIPPED / "mosquitto.conf").read_text()
            .replace("/mosquitto/data/", f"{self.base}/data/")
            .replace("/mosquitto/secrets/passwd", str(self.base / "passwd"))
            .replace("/mosquitto/secrets/dynsec.json", str(self.base / "dynsec.json"))
            .replace(DYNSEC_PLUGIN, _dynsec_plugin())
            .replace("/mosquitto/config/acl-health", str(SHIPPED / "acl-health"))
            .replace("/mosquitto/secrets/acl", acl)
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
