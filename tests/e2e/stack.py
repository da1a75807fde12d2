"""The whole native stack in one run, with faults, for the end-to-end acceptance test.

Real peers only: the session's TimescaleDB (local, so it can be restarted), Mosquitto with
the shipped configuration (``mosquitto/mosquitto.conf``, ``mosquitto/acl``, a password file
from ``mosquitto/init-passwd.sh``; topic root ``emusa`` as the ACL states it), two
simulator processes (a KRON on a serial pseudo-terminal, a PAC3200 over Modbus TCP),
``gateway run``, ``ingestor run``, ``analytics run`` as processes (each logged in to the
broker as its own user and to the database as its production role, as in compose; the
gateway started once the ingestor is subscribed), an SMTP server and a webhook receiver.
The test's own subscriber logs in as ``reader``.

Simulated time: the previous local day of history is written with the analytics history
writer (a 30-minute voltage sag on the KRON at 10:00 local), so the worker finds, at
start, a complete day to detect, summarize and report on (``--settle-minutes 0``,
``daily_send_time 00:00``). Live time: both meters are polled at 1 Hz for about two
minutes while the PAC3200 loses phase L3 for 100 s and, in turn, the broker restarts,
the database restarts, the ingestor is SIGKILLed (and restarted, as a supervisor would)
and the KRON goes silent (unplugged) for 60 s. The gateway publishes Modbus diagnostics
every 5 s; the site's contracted demand (set before the worker starts) is below the live
load, so the demand controller (every 5 s, alerting from 30 s into an interval) projects
an excess and alerts.

``run_stack`` does everything and returns what the tests need to judge it; it waits for
outcomes without asserting, so each test names what failed.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import psycopg
import yaml
from psycopg.conninfo import make_conninfo

from gateway.simulator.model import Event
from ingestor import health
from ingestor.localstack import LocalPostgres, free_port
from ingestor.migrate import migrate, set_role_passwords
from tests.conftest import PgServer
from tests.harness.ingestor import IngestorProcess, make_config
from tests.harness.mqtt import Collector
from tests.harness.processes import ServiceProcess, SimulatorProcess
from tests.harness.shipped_broker import GATEWAY, ShippedMosquitto, new_passwords
from tests.harness.smtp import Mailbox, SmtpServer
from tests.harness.webhook import Hook, webhook_server
from tests.integration.analytics import history

TZ = ZoneInfo("America/Sao_Paulo")
ROOT = "emusa"  # the topic root mosquitto/acl grants
SITE = "plant"
SITE_NAME = "Plant"  # history.add_site titles the id
GATEWAY_ID = "e2e"  # the harness broker's `gateway` login is gw-plant-e2e
LATE_READER = "e2e-late-reader"  # a second reader account, limited to the site
assert (SITE, GATEWAY_ID) == GATEWAY, "the gateway's account is for its site and id"
BUSES = ("rs485", "lan")  # of the KRON, of the PAC3200
KRON, PAC = "kron1", "pac1"
CONTRACT_KW = 800.0  # of the history: both meters peak near 580 kW together
# The live contracted demand, set before the worker starts: below the two meters' night
# base (about 80 kW), so the live load exceeds it at any hour (and so does yesterday's
# history: one demand_exceeded event, found at start).
DEMAND_KW = 50.0
DIAGNOSTICS_EVERY = 5.0  # gateway diagnostics.interval, seconds
# the demand controller every 5 s, alerting from 30 s into an interval (default 20 s and
# 180 s: a two-minute live run would often end before 3 minutes into an interval)
DEMAND_ENV = {"EMUSA_DEMAND_EVERY": "5", "EMUSA_DEMAND_MIN_ELAPSED": "30"}
DAILY_TO, ALERTS_TO = "gerente@example.com", "plantao@example.com"
PHASE_LOSS = (10.0, 100.0)  # PAC3200 loses L3: seconds after its simulator starts, length
UNPLUG = (45.0, 60.0)  # the KRON stops answering: seconds after its simulator starts, length
SAG_AT, SAG_FOR = timedelta(hours=10), timedelta(minutes=30)  # of yesterday, local


def now() -> datetime:
    return datetime.now(UTC)


def settle(done: Callable[[], bool], timeout: float, step: float = 0.5) -> bool:
    """Wait until ``done()`` holds; False on timeout (the tests assert and name it)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if done():
            return True
        time.sleep(step)
    return done()


@dataclass(frozen=True)
class Window:
    """A fault, from the moment it was injected to the moment the pipeline had recovered."""

    name: str
    start: datetime
    end: datetime
    recovered: bool


@dataclass
class Run:
    dsn: str
    root: str
    logs: Path
    day: tuple[datetime, datetime]  # yesterday, local midnight to midnight (UTC instants)
    sag: tuple[datetime, datetime]
    live_start: datetime
    phase_loss: tuple[datetime, datetime]
    unplug: tuple[datetime, datetime]
    collector: Collector
    mailbox: Mailbox
    hook: Hook
    windows: list[Window] = field(default_factory=list)
    polled: dict[str, int] = field(default_factory=dict)  # meter -> last seq the gateway gave
    retained: dict[str, bytes] = field(default_factory=dict)  # topic -> payload, after the run
    broker_log: str = ""
    exit_codes: dict[str, int | None] = field(default_factory=dict)
    never_restarted: dict[str, bool] = field(default_factory=dict)
    waited: dict[str, bool] = field(default_factory=dict)  # outcome -> seen before the deadline

    def query(self, sql: str, *params: object) -> list[tuple[Any, ...]]:
        with psycopg.connect(self.dsn, connect_timeout=10) as conn:
            return conn.execute(sql, params).fetchall()

    def stored_seqs(self, meter: str, start: datetime, end: datetime) -> list[int]:
        """Every stored seq (with repeats, if any) of ``meter`` with a time in [start, end)."""
        rows = self.query(
            "SELECT r.seq FROM readings r JOIN meters m USING (meter_id)"
            " WHERE m.site_id = %s AND m.name = %s AND r.time >= %s AND r.time < %s",
            SITE, meter, start, end,
        )  # fmt: skip
        return sorted(int(r[0]) for r in rows)

    def published(self, meter: str) -> list[dict[str, Any]]:
        """First copy of each reading the gateway published for ``meter`` (by seq)."""
        seen: dict[int, dict[str, Any]] = {}
        for m in self.collector.matching(f"/{SITE}/{meter}/reading"):
            doc = json.loads(m.payload)
            seen.setdefault(int(doc["seq"]), doc)
        return [seen[s] for s in sorted(seen)]

    def published_seqs(self, meter: str, start: datetime, end: datetime) -> set[int]:
        return {
            int(d["seq"])
            for d in self.published(meter)
            if start <= datetime.fromisoformat(d["ts"]) < end
        }

    def statuses(self, meter: str) -> list[bytes]:
        return [m.payload for m in self.collector.matching(f"/{SITE}/{meter}/status")]

    def json_messages(self, channel: str) -> list[dict[str, Any]]:
        return [json.loads(m.payload) for m in self.collector.matching(f"/{SITE}/{channel}")]

    @property
    def state(self) -> dict[str, dict[str, bytes]]:
        """meter -> quantity -> retained state value, as a new subscriber got them."""
        out: dict[str, dict[str, bytes]] = {}
        for topic, payload in self.retained.items():
            parts = topic.split("/")
            if len(parts) == 5 and parts[3] == "state":
                out.setdefault(parts[2], {})[parts[4]] = payload
        return out

    def diagnostics(self, meter: str) -> list[dict[str, Any]]:
        """The meter's diagnostics messages as the collector got them, by ``ts`` (first copy:
        the gateway re-sends the newest, retained, after a broker reconnection)."""
        seen: dict[str, dict[str, Any]] = {}
        for doc in self.json_messages(f"{meter}/diagnostics"):
            seen.setdefault(doc["ts"], doc)
        return sorted(seen.values(), key=lambda d: datetime.fromisoformat(d["ts"]))


def run_sql(dsn: str, sql: str, *params: object) -> None:
    with psycopg.connect(dsn, connect_timeout=10) as conn:
        conn.execute(sql, params)  # type: ignore[arg-type]


def local_midnight(d: date) -> datetime:
    return datetime(d.year, d.month, d.day, tzinfo=TZ)


def _write_history(dsn: str) -> tuple[tuple[datetime, datetime], tuple[datetime, datetime]]:
    today = datetime.now(TZ).date()
    day = (local_midnight(today - timedelta(days=1)), local_midnight(today))
    sag = (day[0] + SAG_AT, day[0] + SAG_AT + SAG_FOR)
    ids = history.add_site(dsn, SITE, (KRON, PAC), contracted_kw=CONTRACT_KW)
    event = Event("sag", sag[0].timestamp(), SAG_FOR.total_seconds())
    history.write(dsn, ids[KRON], 1, day[0], day[1], step=60.0, events=(event,))
    history.write(dsn, ids[PAC], 2, day[0], day[1], step=60.0)
    history.refresh(dsn, day[0] - timedelta(hours=1), day[1] + timedelta(hours=1))
    return (day[0].astimezone(UTC), day[1].astimezone(UTC)), (
        sag[0].astimezone(UTC),
        sag[1].astimezone(UTC),
    )


def _gateway_config(path: Path, broker_url: str, pty: str, pac: tuple[str, int]) -> None:
    doc = {
        "site": SITE,
        "gateway_id": GATEWAY_ID,
        "poll_interval": 1.0,
        # the login comes from EMUSA_MQTT_URL, as in compose
        "mqtt": {"url": broker_url, "topic_root": ROOT, "keepalive": 5},
        "queue": {"path": str(path.parent / "gateway-queue.sqlite")},
        "diagnostics": {"interval": DIAGNOSTICS_EVERY},
        "buses": [
            {
                "name": "rs485",
                "type": "rtu",
                "port": pty,
                "baudrate": 9600,
                "timeout": 0.5,
                "retries": 1,
                "meters": [{"name": KRON, "model": "kron_konect", "unit": 1}],
            },
            {
                "name": "lan",
                "type": "tcp",
                "host": pac[0],
                "port": pac[1],
                "timeout": 0.5,
                "retries": 0,
                "meters": [{"name": PAC, "model": "siemens_pac3200", "unit": 1}],
            },
        ],
    }
    path.write_text(yaml.safe_dump(doc, sort_keys=False))


def _delivery_config(path: Path, webhook_url: str) -> None:
    doc = {
        "site": SITE,
        "reports_dir": str(path.parent / "reports"),
        "daily_send_time": "00:00",  # yesterday's report is due whenever the test runs
        # one day back: a run that crosses local midnight (the worker's "yesterday" is then
        # the history's today) still sends the history day's report
        "catch_up_days": 1,
        "smtp_retry_delay_s": 0.2,
        "recipients": {"daily": [DAILY_TO], "alerts": [ALERTS_TO]},
        "alerts": {"severities": ["critical"], "lookback_hours": 48, "webhook_url": webhook_url},
    }
    path.write_text(yaml.safe_dump(doc, sort_keys=False))


def _last_seqs(queue: Path) -> dict[str, int]:
    """The gateway's own record of the last sequence number it gave each meter."""
    with sqlite3.connect(queue) as db:
        return {str(m): int(s) for m, s in db.execute("SELECT meter, seq FROM sequences")}


def _retained(broker: ShippedMosquitto) -> dict[str, bytes]:
    """Every retained message of the site, as a new reader subscriber gets them (its own
    account: a login is its client id, the run's collector holds ``reader``)."""
    fresh = Collector(broker.broker, f"{ROOT}/{SITE}/#", qos=0, login=broker.login(LATE_READER))
    try:
        time.sleep(2.0)  # retained messages arrive right after SUBSCRIBE
        return {m.topic: m.payload for m in fresh.matching("") if m.retain}
    finally:
        fresh.close()


class _Probe:
    """Small SQL questions the run asks while it waits."""

    def __init__(self, dsn: str) -> None:
        self.dsn = dsn

    def _one(self, sql: str, *params: object) -> Any:
        try:
            with psycopg.connect(self.dsn, connect_timeout=3) as conn:
                row = conn.execute(sql, params).fetchone()
        except psycopg.OperationalError:
            return None
        return None if row is None else row[0]

    def stored_since(self, meter: str, since: datetime) -> int:
        return int(
            self._one(
                "SELECT count(*) FROM readings r JOIN meters m USING (meter_id)"
                " WHERE m.name = %s AND r.time >= %s",
                meter, since,
            ) or 0
        )  # fmt: skip

    def anomaly(self, meter: str, kind: str, since: datetime) -> bool:
        return bool(
            self._one(
                "SELECT count(*) FROM anomalies a JOIN meters m USING (meter_id)"
                " WHERE m.name = %s AND a.kind = %s AND a.started_at >= %s",
                meter, kind, since,
            )
        )  # fmt: skip

    def emailed_daily(self, start: datetime) -> bool:
        return bool(
            self._one(
                "SELECT count(*) FROM reports WHERE kind = 'daily' AND period_start = %s"
                " AND emailed_at IS NOT NULL",
                start,
            )
        )

    def alerted(self, meter: str, kind: str, since: datetime) -> bool:
        return bool(
            self._one(
                "SELECT count(*) FROM alert_deliveries d JOIN anomalies a USING (anomaly_id)"
                " JOIN meters m ON m.meter_id = a.meter_id"
                " WHERE m.name = %s AND a.kind = %s AND a.started_at >= %s AND d.outcome = 'sent'",
                meter, kind, since,
            )
        )  # fmt: skip

    def diagnostics_stored(self, meter: str, since: datetime, status: str = "%") -> int:
        return int(
            self._one(
                "SELECT count(*) FROM modbus_meter_diagnostics d JOIN meters m USING (meter_id)"
                " WHERE m.name = %s AND d.status LIKE %s AND d.time >= %s",
                meter, status, since,
            ) or 0
        )  # fmt: skip

    def rollups_current(self, since: datetime, until: datetime) -> bool:
        """Every live minute up to ``until`` holds as many samples as there are readings."""
        return not self._one(
            "WITH raw AS (SELECT meter_id, date_trunc('minute', time) AS bucket, count(*) AS n"
            "  FROM readings WHERE time >= %s AND time < %s GROUP BY 1, 2)"
            " SELECT count(*) FROM raw LEFT JOIN rollup.agg_1m a USING (meter_id, bucket)"
            " WHERE a.samples IS DISTINCT FROM raw.n",
            since, until,
        )  # fmt: skip


def figures(run: Run) -> dict[str, Any]:
    """What the run measured: per fault window and meter, readings polled (on MQTT) and
    stored; per meter, diagnostics messages (on MQTT) and stored; the demand events."""
    windows = {
        w.name: {
            "seconds": round((w.end - w.start).total_seconds(), 1),
            **{
                m: {
                    "polled": len(run.published_seqs(m, w.start, w.end)),
                    "stored": len(run.stored_seqs(m, w.start, w.end)),
                }
                for m in (KRON, PAC)
            },
        }
        for w in run.windows
    }
    diagnostics = {
        m: {
            "on_mqtt": len(run.diagnostics(m)),
            "stored": run.query(
                "SELECT count(*) FROM modbus_meter_diagnostics d JOIN meters USING (meter_id)"
                " WHERE name = %s AND d.time >= %s",
                m, run.live_start,
            )[0][0],
        }
        for m in (KRON, PAC)
    }  # fmt: skip
    demand = run.query(
        "SELECT started_at, measured, details->>'outcome' FROM anomalies"
        " WHERE kind = 'demand_projection' ORDER BY started_at"
    )
    return {"live_seconds": round((now() - run.live_start).total_seconds()), "polled": run.polled,
            "windows": windows, "diagnostics": diagnostics, "demand_projection": demand,
            "webhook_posts": [(h.get("kind"), h.get("meter")) for h in run.hook.received]}  # fmt: skip


@contextmanager
def restartable(pg_server: PgServer, template_db: str) -> Iterator[tuple[PgServer, str]]:
    """The session's database server when this session started it (it can be restarted);
    else (TEST_DSN, containers) a local cluster of this run."""
    with ExitStack() as stack:
        if pg_server.local is None:
            local_pg = LocalPostgres()
            stack.callback(local_pg.cleanup)
            pg_server = PgServer(local_pg.start(), local_pg)
            template_db = pg_server.create_database()
            migrate(pg_server.dsn(template_db))
        yield pg_server, template_db


@contextmanager
def run_stack(pg_server: PgServer, template_db: str, workdir: Path) -> Iterator[Run]:
    with ExitStack() as stack:
        pg_server, template_db = stack.enter_context(restartable(pg_server, template_db))
        assert pg_server.local is not None
        pg = pg_server.local
        mosquitto = ShippedMosquitto(new_passwords(LATE_READER), readers=((LATE_READER, SITE),))
        stack.callback(mosquitto.cleanup)
        mosquitto.start()
        logs = workdir / "logs"
        name = pg_server.create_database(template=template_db)
        dsn = pg_server.dsn(name)
        stack.callback(pg_server.drop_database, name)
        day, sag = _write_history(dsn)
        # the services log in as their production roles (least privilege), as in compose
        set_role_passwords(dsn, {f"EMUSA_{r}_DB_PASSWORD": "pw" for r in ("INGESTOR", "ANALYTICS")})
        ingestor_dsn = make_conninfo(dsn, user="emusa_ingestor", password="pw")
        analytics_dsn = make_conninfo(dsn, user="emusa_analytics", password="pw")
        smtp = SmtpServer("127.0.0.1", free_port(), Mailbox(), None)
        smtp.start()
        stack.callback(smtp.stop)
        hook = stack.enter_context(webhook_server())
        collector = Collector(mosquitto.broker, f"{ROOT}/#", login=mosquitto.login("reader"))
        stack.callback(collector.close)
        probe = _Probe(dsn)

        # --- the meters ----------------------------------------------------------------
        t0 = now()
        kron = SimulatorProcess(
            "sim-kron",
            ["--model", "kron_konect", "--pty", "--unit", "1", "--seed", "1",
             "--scenario", f"silent@{UNPLUG[0]:g}+{UNPLUG[1]:g}"],
            logs / "sim-kron.log",
        )  # fmt: skip
        kron.start()
        stack.callback(kron.terminate)
        pac = SimulatorProcess(
            "sim-pac",
            ["--model", "siemens_pac3200", "--tcp", "127.0.0.1:0", "--unit", "1", "--seed", "2",
             "--scenario", f"phase_loss@{PHASE_LOSS[0]:g}+{PHASE_LOSS[1]:g}"],
            logs / "sim-pac.log",
        )  # fmt: skip
        pac.start()
        stack.callback(pac.terminate)
        t1 = now()  # each scenario started between t0 and t1 plus its offset
        assert kron.pty is not None and pac.tcp is not None

        # --- the services --------------------------------------------------------------
        gw_config = workdir / "gateway.yaml"
        _gateway_config(gw_config, mosquitto.broker.url, kron.pty, pac.tcp)
        delivery = workdir / "delivery.yaml"
        _delivery_config(delivery, hook.url)
        ingestor_config = make_config(
            ingestor_dsn, mosquitto.broker, ROOT, workdir,
            mqtt_url=mosquitto.url("ingestor"), status_file=workdir / "ingestor.status.json",
        )  # fmt: skip
        ingestor = IngestorProcess(ingestor_config, logs / "ingestor.log")
        ingestor.start()
        stack.callback(ingestor.kill)
        # The ingestor's persistent session must exist before the first reading: the broker
        # drops messages nobody subscribed to (this test lost the first reading of a fresh
        # install when the gateway won the race; compose should start it after the ingestor).
        subscribed = settle(lambda: health.healthy(ingestor_config.status_file), 30)
        gateway = ServiceProcess(
            "gateway", "gateway",
            ["run", "--config", str(gw_config), "--status-file", str(workdir / "gw.status.json")],
            logs / "gateway.log",
            {"EMUSA_MQTT_URL": mosquitto.url("gateway"), "EMUSA_SITE": "", "EMUSA_TOPIC_ROOT": ""},
        )  # fmt: skip
        gateway.start()
        stack.callback(gateway.kill)
        run_sql(dsn, "UPDATE sites SET contracted_demand_kw = %s WHERE site_id = %s",
                DEMAND_KW, SITE)  # fmt: skip
        analytics = ServiceProcess(
            "analytics", "analytics",
            ["run", "--topic-root", ROOT, "--site", SITE,
             "--settle-minutes", "0", "--catch-up-days", "2", "--detect-every", "0.25",
             "--tick", "1", "--delivery-config", str(delivery)],
            logs / "analytics.log",
            {"EMUSA_DATABASE_URL": analytics_dsn, "EMUSA_SMTP_URL": smtp.url,
             "EMUSA_MQTT_URL": mosquitto.url("analytics"), **DEMAND_ENV},
        )  # fmt: skip
        analytics.start()
        stack.callback(analytics.kill)

        run = Run(
            dsn=dsn,
            root=ROOT,
            logs=logs,
            day=day,
            sag=sag,
            live_start=t0,
            phase_loss=(
                t0 + timedelta(seconds=PHASE_LOSS[0]),
                t1 + timedelta(seconds=sum(PHASE_LOSS)),
            ),
            unplug=(t0 + timedelta(seconds=UNPLUG[0]), t1 + timedelta(seconds=sum(UNPLUG))),
            collector=collector,
            mailbox=smtp.box,
            hook=hook,
        )
        run.waited["ingestor subscribed before the gateway started"] = subscribed
        run.waited["both meters stored"] = settle(
            lambda: probe.stored_since(KRON, t0) > 0 and probe.stored_since(PAC, t0) > 0, 60
        )

        # --- faults, one after the other; the PAC3200 (never unplugged) shows recovery -----
        def fault(name: str, inject: Callable[[], None]) -> None:
            start = now()
            inject()
            injected = now()
            ok = settle(lambda: probe.stored_since(PAC, injected + timedelta(seconds=2)) > 0, 60)
            run.windows.append(Window(name, start, now(), ok))

        fault("broker restart", lambda: mosquitto.restart(down_for=6.0))

        def db_restart() -> None:
            pg.stop()
            time.sleep(8.0)
            pg.start()

        fault("database restart", db_restart)

        def ingestor_sigkill() -> None:
            ingestor.kill()
            ingestor_config.status_file.unlink(missing_ok=True)
            time.sleep(5.0)
            ingestor.start()  # the supervisor's job (docker restart: unless-stopped)

        fault("ingestor SIGKILL", ingestor_sigkill)

        def replugged() -> bool:
            seen = run.statuses(KRON)
            return b"unreachable" in seen and seen[-1] == b"online"

        unplug_start = now()
        run.waited["KRON unreachable and back online"] = settle(replugged, 150)
        run.windows.append(Window("meter unplugged", unplug_start, now(), replugged()))
        run.waited["KRON read again"] = settle(
            lambda: probe.stored_since(KRON, run.unplug[1] + timedelta(seconds=2)) > 0, 30
        )
        run.waited["KRON diagnostics online again"] = settle(
            lambda: any(
                d["status"] == "online" and datetime.fromisoformat(d["ts"]) > run.unplug[1]
                for d in run.diagnostics(KRON)
            ),
            3 * DIAGNOSTICS_EVERY,
        )
        run.never_restarted = {
            "gateway": gateway.alive() and gateway.starts == 1,
            "analytics": analytics.alive() and analytics.starts == 1,
        }

        # --- stop polling: everything the gateway polled must reach the database ------------
        run.exit_codes["gateway"] = gateway.terminate()
        run.retained = _retained(mosquitto)
        run.polled = _last_seqs(workdir / "gateway-queue.sqlite")
        stopped = now()
        run.waited["every polled reading stored"] = settle(
            lambda: all(probe.stored_since(m, t0) >= n for m, n in run.polled.items()), 60
        )

        # --- the analytics worker's outcomes --------------------------------------------
        live = t0 - timedelta(minutes=1)  # events start at a minute boundary
        outcomes: dict[str, Callable[[], bool]] = {
            "live phase loss anomaly": lambda: probe.anomaly(PAC, "phase_loss", live),
            "live phase loss alert e-mailed": lambda: probe.alerted(PAC, "phase_loss", live),
            "history sag alert e-mailed": lambda: probe.alerted(KRON, "voltage_band", day[0]),
            "daily report e-mailed": lambda: probe.emailed_daily(day[0]),
            "rollups current": lambda: probe.rollups_current(t0, stopped),
            "live phase loss alert on MQTT": lambda: any(
                a.get("kind") == "phase_loss" and a.get("meter") == PAC
                for a in run.json_messages("alerts")
            ),
            "live phase loss alert on the webhook": lambda: any(
                h.get("kind") == "phase_loss" and h.get("meter") == PAC for h in hook.received
            ),
            "summaries on MQTT": lambda: bool(run.json_messages("summaries")),
            "demand projection alert on MQTT": lambda: any(
                a.get("kind") == "demand_projection" and a.get("event") == "opened"
                for a in run.json_messages("alerts")
            ),
            "demand projection alert on the webhook": lambda: any(
                h.get("kind") == "demand_projection" for h in hook.received
            ),
            "KRON unreachable diagnostics stored": lambda: (
                probe.diagnostics_stored(KRON, t0, "unreachable") > 0
            ),
            "every diagnostics message stored": lambda: all(
                probe.diagnostics_stored(m, t0) >= len(run.diagnostics(m)) for m in (KRON, PAC)
            ),
        }
        pending = dict(outcomes)

        def seen() -> bool:
            for name, check in list(pending.items()):
                if check():
                    run.waited[name] = True
                    del pending[name]
            return not pending

        settle(seen, 180, step=1.0)
        run.waited.update(dict.fromkeys(pending, False))
        run.never_restarted["analytics"] &= analytics.alive()
        run.exit_codes["analytics"] = analytics.terminate()
        run.exit_codes["ingestor"] = ingestor.terminate()
        run.broker_log = mosquitto.log.read_text(errors="replace")
        (logs / "mosquitto.log").write_text(run.broker_log)
        (workdir / "figures.json").write_text(json.dumps(figures(run), indent=1, default=str))
        yield run
