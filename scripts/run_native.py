# ruff: noqa: S603  (every argv is built here from our own console scripts and paths)
"""Run the EMUSA stack on a machine without Docker (``make run-native``).

Starts, as the tests do without Docker (``ingestor/localstack.py``): a local TimescaleDB
cluster and a Mosquitto broker on free (or given) ports; applies the migrations; then
the simulator, the gateway, the ingestor, the analytics worker (when
``emusa-analytics run`` exists) and Grafana (when ``grafana-server`` is installed, with
this repository's provisioning). Ctrl-C (SIGINT) or SIGTERM stops everything, services
first, in reverse order, each with a bounded wait, then the broker and the database.

    python scripts/run_native.py                      # throwaway data in a temp dir
    python scripts/run_native.py --data-dir var/native  # keep the data between runs
    python scripts/run_native.py --gateway-config my-meters.yaml --no-simulator

Needs what ``make setup`` installs (PostgreSQL 15 + TimescaleDB, Mosquitto) and the
virtualenv. Service logs go to ``<run dir>/logs/``; ``<run dir>/state.json`` tells the
URLs and process ids once everything is up. Local use only: the database trusts local
connections and the broker listens on 127.0.0.1 without passwords.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
import yaml

from ingestor import health
from ingestor.localstack import (
    LocalMosquitto,
    LocalPostgres,
    ServiceUnavailable,
    free_port,
    wait_for_port,
)

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
STOP_TIMEOUT = 15.0
DB_NAME = "emusa"


@dataclass
class Child:
    name: str
    proc: subprocess.Popen[bytes]
    log: Path


def _say(msg: str) -> None:
    print(f"[run-native] {msg}", flush=True)


def _script(name: str) -> str:
    path = BIN / name
    return str(path) if path.exists() else name


def _has_subcommand(script: str, sub: str) -> bool:
    try:
        proc = subprocess.run(
            [_script(script), sub, "--help"], capture_output=True, timeout=60, check=False
        )
    except (OSError, subprocess.TimeoutExpired):
        return False
    return proc.returncode == 0


def _grafana_binary() -> list[str] | None:
    if found := shutil.which("grafana-server"):
        return [found]
    if (found := shutil.which("grafana")) and subprocess.run(
        [found, "server", "-v"], capture_output=True, timeout=30, check=False
    ).returncode == 0:
        return [found, "server"]
    return None


class Stack:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.persistent = args.data_dir is not None
        self.run_dir = Path(args.data_dir or tempfile.mkdtemp(prefix="emusa-native-")).resolve()
        self.run_dir.mkdir(parents=True, exist_ok=True)
        self.run_dir.chmod(0o755)  # PostgreSQL runs as `postgres` when we are root
        self.logs = self.run_dir / "logs"
        self.pg: LocalPostgres | None = None
        self.mqtt: LocalMosquitto | None = None
        self.children: list[Child] = []
        self.stop = threading.Event()
        self.state: dict[str, Any] = {"run_dir": str(self.run_dir), "children": {}}

    # --- services ----------------------------------------------------------------
    def start_database(self) -> str:
        base = self.run_dir / "postgres"
        base.mkdir(parents=True, exist_ok=True)
        port = self.args.pg_port or (55432 if self.persistent else free_port())
        self.pg = LocalPostgres(base=base, port=port)
        admin = self.pg.start()
        with psycopg.connect(admin, autocommit=True) as conn:
            exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (DB_NAME,))
            if exists.fetchone() is None:
                conn.execute(f"CREATE DATABASE {DB_NAME}")
        return f"postgresql://postgres@127.0.0.1:{port}/{DB_NAME}"

    def start_broker(self) -> str:
        base = self.run_dir / "mosquitto"
        base.mkdir(parents=True, exist_ok=True)
        port = self.args.mqtt_port or (51883 if self.persistent else free_port())
        self.mqtt = LocalMosquitto(base=base, port=port)
        self.mqtt.start()
        return f"mqtt://127.0.0.1:{port}"

    def spawn(self, name: str, argv: list[str], env: dict[str, str]) -> Child:
        self.logs.mkdir(parents=True, exist_ok=True)
        log = self.logs / f"{name}.log"
        with log.open("ab") as out:
            proc = subprocess.Popen(
                argv,
                env={**os.environ, **env},
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                cwd=self.run_dir,
                start_new_session=True,  # the runner alone decides when and how it stops
            )
        child = Child(name, proc, log)
        self.children.append(child)
        self.state["children"][name] = proc.pid
        _say(f"{name} started (pid {proc.pid}, log {log})")
        return child

    def gateway_config(self, mqtt_url: str, sim_port: int) -> Path:
        if self.args.gateway_config:
            return Path(self.args.gateway_config).resolve()
        doc = yaml.safe_load((ROOT / "gateway" / "examples" / "simulator.yaml").read_text())
        doc["site"] = self.args.site
        doc["mqtt"]["url"] = mqtt_url
        doc["queue"]["path"] = str(self.run_dir / "gateway-queue.sqlite")
        doc["buses"][0]["host"] = "127.0.0.1"
        doc["buses"][0]["port"] = sim_port
        path = self.run_dir / "gateway.yaml"
        path.write_text(yaml.safe_dump(doc, sort_keys=False))
        return path

    def start_grafana(self, db_port: int, grafana_password: str) -> None:
        binary = _grafana_binary()
        if binary is None:
            _say(
                "grafana-server not installed: Grafana skipped (dashboards: see docs/dashboards.md)"
            )
            return
        home = Path(self.args.grafana_home)
        data = self.run_dir / "grafana"
        data.mkdir(parents=True, exist_ok=True)
        port = self.args.grafana_port
        env = {
            "GF_PATHS_PROVISIONING": str(ROOT / "grafana" / "provisioning"),
            "GF_PATHS_DATA": str(data),
            "GF_PATHS_LOGS": str(self.logs),
            "GF_PATHS_PLUGINS": str(data / "plugins"),
            "GF_SERVER_HTTP_ADDR": "127.0.0.1",
            "GF_SERVER_HTTP_PORT": str(port),
            "GF_SECURITY_ADMIN_PASSWORD": os.environ.get("GRAFANA_ADMIN_PASSWORD", "admin"),
            "GF_USERS_DEFAULT_LANGUAGE": "pt-BR",
            "GF_ANALYTICS_REPORTING_ENABLED": "false",
            "GF_ANALYTICS_CHECK_FOR_UPDATES": "false",
            "GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH": str(
                ROOT / "grafana/provisioning/dashboards/emusa/visao-geral.json"
            ),
            "EMUSA_GRAFANA_DB_HOST": f"127.0.0.1:{db_port}",
            "EMUSA_GRAFANA_DB_NAME": DB_NAME,
            "EMUSA_GRAFANA_DB_SSLMODE": "disable",
            "EMUSA_GRAFANA_DB_PASSWORD": grafana_password,
        }
        self.spawn("grafana", [*binary, "--homepath", str(home)], env)
        self.state["grafana_url"] = f"http://127.0.0.1:{port}"

    def up(self) -> None:
        admin_db = self.start_database()
        assert self.pg is not None
        _say(f"TimescaleDB on {admin_db}")
        mqtt_url = self.start_broker()
        _say(f"Mosquitto on {mqtt_url}")
        passwords = {
            role: secrets.token_hex(12) for role in ("INGESTOR", "ANALYTICS", "GRAFANA", "BI")
        }
        migrate = subprocess.run(
            [_script("emusa-ingestor"), "migrate", "--database-url", admin_db],
            env={**os.environ, **{f"EMUSA_{r}_DB_PASSWORD": p for r, p in passwords.items()}},
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        if migrate.returncode != 0:
            raise ServiceUnavailable(f"migrate failed: {migrate.stderr.strip()[-800:]}")
        _say("schema migrated")
        port = self.pg.port
        dsn = {
            r.lower(): f"postgresql://emusa_{r.lower()}:{p}@127.0.0.1:{port}/{DB_NAME}"
            for r, p in passwords.items()
        }
        common = {
            "EMUSA_MQTT_URL": mqtt_url,
            "EMUSA_TOPIC_ROOT": self.args.topic_root,
            "EMUSA_SITE": self.args.site,
        }
        sim_port = self.args.sim_port or free_port()
        if not self.args.no_simulator:
            self.spawn(
                "simulator",
                [_script("emusa-gateway"), "simulate", "--tcp", f"127.0.0.1:{sim_port}",
                 "--unit", "1", "--unit", "2"],
                {},
            )  # fmt: skip
            wait_for_port("127.0.0.1", sim_port, 30, "simulator")
        self.spawn(
            "ingestor",
            [_script("emusa-ingestor"), "run"],
            {
                **common,
                "EMUSA_DATABASE_URL": dsn["ingestor"],
                "EMUSA_INGESTOR_STATUS_FILE": str(self.run_dir / "ingestor.status.json"),
            },
        )
        self.wait_ingestor_subscribed(self.run_dir / "ingestor.status.json")
        config = self.gateway_config(mqtt_url, sim_port)
        self.spawn("gateway", [_script("emusa-gateway"), "run", "--config", str(config)], common)
        if _has_subcommand("emusa-analytics", "run"):
            self.spawn(
                "analytics",
                [_script("emusa-analytics"), "run"],
                {**common, "EMUSA_DATABASE_URL": dsn["analytics"]},
            )
        else:
            _say("emusa-analytics run not available: analytics skipped")
        self.start_grafana(port, passwords["GRAFANA"])
        self.state.update(
            database_url=admin_db,
            mqtt_url=mqtt_url,
            postgres_pid=self._postmaster_pid(),
            mosquitto_pid=self.mqtt.proc.pid if self.mqtt and self.mqtt.proc else None,
            ready=True,
        )
        state_file = Path(self.args.state_file or self.run_dir / "state.json")
        tmp = state_file.with_suffix(".tmp")
        tmp.write_text(json.dumps(self.state, indent=2))
        tmp.replace(state_file)  # readers never see half a file
        _say(f"up: database {admin_db}, MQTT {mqtt_url}; Ctrl-C stops everything")

    def wait_ingestor_subscribed(self, status_file: Path, timeout: float = 60.0) -> None:
        """The broker drops readings nobody subscribed to: on a fresh broker the ingestor's
        persistent session must exist before the gateway publishes its first reading."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and not self.stop.is_set():
            if health.healthy(status_file):
                return
            time.sleep(0.2)
        _say(f"ingestor not subscribed after {timeout:.0f} s: starting the gateway anyway")

    def _postmaster_pid(self) -> int | None:
        assert self.pg is not None
        pid_file = self.pg.datadir / "postmaster.pid"
        with contextlib.suppress(OSError, ValueError, IndexError):
            return int(pid_file.read_text().splitlines()[0])
        return None

    # --- supervision and shutdown ---------------------------------------------------
    def watch(self) -> int:
        """Wait for a stop request or a child's death; returns the exit status."""
        deadline = time.monotonic() + self.args.duration if self.args.duration else None
        while not self.stop.wait(0.5):
            for child in self.children:
                code = child.proc.poll()
                if code is not None:
                    tail = child.log.read_text(errors="replace")[-1500:]
                    _say(f"{child.name} exited with {code}; stopping. Last log lines:\n{tail}")
                    return 1
            if deadline and time.monotonic() > deadline:
                _say("duration reached")
                return 0
        _say("stop requested")
        return 0

    def down(self) -> None:
        for child in reversed(self.children):
            if child.proc.poll() is None:
                child.proc.send_signal(signal.SIGTERM)
        for child in reversed(self.children):
            try:
                child.proc.wait(STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                _say(f"{child.name} did not stop in {STOP_TIMEOUT:.0f} s: killed")
                child.proc.kill()
                child.proc.wait(STOP_TIMEOUT)
            _say(f"{child.name} stopped ({child.proc.returncode})")
        if self.mqtt is not None:
            self.mqtt.stop()
            _say("Mosquitto stopped")
        if self.pg is not None:
            with contextlib.suppress(ServiceUnavailable):
                self.pg.stop()
            _say("TimescaleDB stopped")
        if not self.persistent and not self.args.keep:
            shutil.rmtree(self.run_dir, ignore_errors=True)


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    p.add_argument(
        "--data-dir",
        help="keep database, broker and logs here (default: a temp dir, removed at exit)",
    )
    p.add_argument("--keep", action="store_true", help="do not remove the temp dir at exit")
    p.add_argument("--pg-port", type=int, help="default: free port (55432 with --data-dir)")
    p.add_argument("--mqtt-port", type=int, help="default: free port (51883 with --data-dir)")
    p.add_argument("--sim-port", type=int, help="simulator Modbus TCP port (default: free)")
    p.add_argument("--grafana-port", type=int, default=3000)
    p.add_argument("--grafana-home", default="/usr/share/grafana", help="Grafana's homepath")
    p.add_argument("--site", default=os.environ.get("EMUSA_SITE", "plant"))
    p.add_argument("--topic-root", default=os.environ.get("EMUSA_TOPIC_ROOT", "emusa"))
    p.add_argument("--gateway-config", help="your gateway YAML (default: the simulator's)")
    p.add_argument("--no-simulator", action="store_true", help="do not start the simulator")
    p.add_argument("--duration", type=float, help="stop by itself after this many seconds")
    p.add_argument("--state-file", help="where to write state.json (default: in the run dir)")
    return p


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    stack = Stack(args)

    def request_stop(signum: int, _frame: object) -> None:
        stack.stop.set()

    signal.signal(signal.SIGINT, request_stop)
    signal.signal(signal.SIGTERM, request_stop)
    status = 1
    try:
        stack.up()
        status = stack.watch()
    except (ServiceUnavailable, OSError) as exc:
        _say(f"cannot start: {exc}")
    finally:
        stack.down()
    return status


if __name__ == "__main__":
    sys.exit(main())
