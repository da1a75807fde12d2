"""The shipped Mosquitto config, password init script and ACLs, on a real broker.

The broker runs from ``mosquitto/mosquitto.conf`` itself, with only its container paths
and ports rewritten to a temporary directory and free local ports; the password file is
written by ``mosquitto/init-passwd.sh`` from the same variables docker-compose passes
(``tests.harness.shipped_broker``, also used by the end-to-end run).
MQTT v5 tells what the broker decided: a refused publish gets PUBACK 0x87 (Not
authorized), a refused subscription SUBACK 0x87.
"""

from __future__ import annotations

import json
import os
import ssl
import subprocess
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

import contract
from analytics.errors import PublishError
from analytics.worker.publisher import Publisher
from contract import mqtt_url
from gateway.publisher import Publisher as GatewayPublisher
from gateway.publisher import PublisherSettings
from gateway.queue import DiskQueue
from tests.harness.mqtt_probe import NOT_AUTHORIZED, OK, WAIT, Probe
from tests.harness.shipped_broker import USERS, ShippedMosquitto, new_passwords, serving

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[3]
PASSWORDS = new_passwords()


@pytest.fixture(scope="module")
def broker() -> Iterator[ShippedMosquitto]:
    with serving(ShippedMosquitto(PASSWORDS, tls=True)) as shipped:
        yield shipped


@pytest.fixture
def clients(broker: ShippedMosquitto) -> Iterator[dict[str, Probe]]:
    """One connection per account (its login is its client id: a second one would take
    the first one's place)."""
    made: dict[str, Probe] = {}
    try:
        for user in USERS:
            made[user] = Probe(broker.port, broker.login(user))
        yield made
    finally:
        for c in made.values():
            c.close()


# Publishing: (user, topic, allowed). A refused QoS 1 publish gets PUBACK 0x87. The
# `gateway` login is the account of site `plant`, gateway id `e2e`; {s} is a fresh name.
PUBLISH = [
    ("gateway", "emusa/plant/{s}/reading", True),
    ("gateway", "emusa/plant/{s}/status", True),
    ("gateway", "emusa/plant/gateway/e2e/status", True),
    ("gateway", "emusa/plant/{s}/state/p_total", True),
    ("gateway", "homeassistant/sensor/{s}_p_total/config", True),
    ("gateway", "emusa/plant/{s}/diagnostics", True),
    ("gateway", "emusa/plant/gateway/e2e/bus/{s}/diagnostics", True),
    ("gateway", "emusa/plant/{s}/info", True),
    ("ingestor", "emusa/plant/{s}/info", False),
    ("analytics", "emusa/plant/{s}/info", False),
    ("reader", "emusa/plant/{s}/info", False),
    ("gateway", "emusa/{s}/alerts", False),
    ("gateway", "emusa/{s}/summaries", False),
    ("gateway", "other/{s}", False),
    ("ingestor", "emusa/{s}/kron1/reading", False),
    ("ingestor", "emusa/{s}/alerts", False),
    ("analytics", "emusa/{s}/alerts", True),
    ("analytics", "emusa/{s}/summaries", True),
    ("analytics", "emusa/{s}/demand/projection", True),
    ("gateway", "emusa/{s}/demand/projection", False),
    ("analytics", "emusa/{s}/kron1/reading", False),
    ("analytics", "emusa/{s}/kron1/status", False),
    ("reader", "emusa/{s}/kron1/reading", False),
    ("reader", "emusa/{s}/alerts", False),
]

# Subscribing: (user, filter, probe topic, who publishes the probe, delivered).
# Mosquitto 2.0's acl_file checks read access when it delivers, not at SUBSCRIBE: the
# SUBACK grants any filter (maintainers: eclipse-mosquitto/mosquitto#1318, #2208), and a
# message the user may not read never reaches it. So the test publishes a probe. (Only
# `$share/...` filters are refused at SUBSCRIBE, by the dynamic-security plugin:
# test_isolation.py.)
SUBSCRIBE = [
    ("ingestor", "emusa/+/+/reading", "emusa/plant/{s}/reading", "gateway", True),
    ("ingestor", "$share/ingestors/emusa/+/+/reading", "emusa/plant/{s}/reading", "gateway", True),
    ("ingestor", "emusa/+/+/diagnostics", "emusa/plant/{s}/diagnostics", "gateway", True),
    (
        "ingestor",
        "$share/ingestors/emusa/+/gateway/+/bus/+/diagnostics",
        "emusa/plant/gateway/e2e/bus/{s}/diagnostics",
        "gateway",
        True,
    ),
    ("ingestor", "emusa/+/+/info", "emusa/plant/{s}/info", "gateway", True),
    ("ingestor", "$share/ingestors/emusa/+/+/info", "emusa/plant/{s}/info", "gateway", True),
    ("analytics", "emusa/+/+/info", "emusa/plant/{s}/info", "gateway", True),
    ("reader", "emusa/plant/+/info", "emusa/plant/{s}/info", "gateway", True),
    ("gateway", "emusa/+/+/info", "emusa/plant/{s}/info", "gateway", False),
    ("ingestor", "emusa/#", "emusa/plant/{s}/status", "gateway", False),
    ("ingestor", "emusa/#", "emusa/{s}/alerts", "analytics", False),
    ("ingestor", "emusa/+/alerts", "emusa/{s}/alerts", "analytics", False),
    ("gateway", "emusa/#", "emusa/plant/{s}/reading", "gateway", False),
    ("gateway", "emusa/#", "emusa/{s}/alerts", "analytics", False),
    ("analytics", "emusa/#", "emusa/plant/{s}/reading", "gateway", True),
    ("analytics", "emusa/#", "emusa/plant/{s}/status", "gateway", True),
    ("reader", "emusa/#", "emusa/{s}/alerts", "analytics", True),
    ("reader", "emusa/#", "emusa/plant/{s}/state/p_total", "gateway", True),
    ("reader", "homeassistant/#", "homeassistant/sensor/{s}/config", "gateway", True),
    ("reader", "$SYS/#", "$SYS/broker/uptime", "broker", False),
]


@pytest.mark.parametrize(("user", "topic", "allowed"), PUBLISH,
                         ids=[f"{u}-pub-{t}" for u, t, _ in PUBLISH])  # fmt: skip
def test_publish_acl(clients: dict[str, Probe], user: str, topic: str, allowed: bool) -> None:
    code = clients[user].publish(topic.format(s=uuid.uuid4().hex[:8]))
    if allowed:
        assert code in OK, f"{user} may publish {topic}: {code:#x}"
    else:
        assert code == NOT_AUTHORIZED, f"{user} may not publish {topic}: {code:#x}"


@pytest.mark.parametrize(("user", "topic_filter", "probe", "writer", "delivered"), SUBSCRIBE,
                         ids=[f"{u}-sub-{f}-{p}" for u, f, p, _, _ in SUBSCRIBE])  # fmt: skip
def test_subscribe_acl(
    clients: dict[str, Probe],
    user: str,
    topic_filter: str,
    probe: str,
    writer: str,
    delivered: bool,
) -> None:
    probe = probe.format(s=uuid.uuid4().hex[:8])
    code = clients[user].subscribe(topic_filter)
    assert code in OK or code == NOT_AUTHORIZED
    if writer != "broker":  # $SYS topics are retained: the broker delivers them at once
        assert clients[writer].publish(probe) in OK
    got = clients[user].received(probe, timeout=3.0 if delivered else 1.5)
    assert got is delivered, f"{user} subscribed to {topic_filter}: {probe} delivered={got}"


def test_refused_publish_reaches_nobody(clients: dict[str, Probe]) -> None:
    meter = uuid.uuid4().hex[:8]
    assert clients["analytics"].subscribe("emusa/#") in OK
    assert clients["reader"].publish(f"emusa/plant/{meter}9/reading") == NOT_AUTHORIZED
    assert clients["gateway"].publish(f"emusa/plant/{meter}/reading") in OK
    assert clients["analytics"].received(f"emusa/plant/{meter}/reading")
    assert not clients["analytics"].received(f"emusa/plant/{meter}9/reading", timeout=1.0)


@pytest.mark.parametrize(
    ("user", "password"),
    [(None, None), ("gw-plant-e2e", "wrong"), ("gateway", PASSWORDS["gateway"]), ("nobody", "x")],
    ids=["anonymous", "wrong-password", "old-shared-gateway-login", "unknown"],
)
def test_login_is_required(
    broker: ShippedMosquitto, user: str | None, password: str | None
) -> None:
    client = Probe(broker.port, (user, password) if user and password else None)
    try:
        assert client.connack is not None and client.connack >= 0x80  # 0x86 / 0x87
    finally:
        client.close()


def test_health_listener_is_anonymous_and_sees_only_the_uptime(broker: ShippedMosquitto) -> None:
    client = Probe(broker.health_port, None)
    try:
        assert client.connack == 0
        assert client.subscribe("$SYS/broker/uptime") in OK
        assert client.received("$SYS/broker/uptime")
        assert client.publish("emusa/plant/kron1/reading") == NOT_AUTHORIZED
        assert client.publish("$SYS/broker/uptime") == NOT_AUTHORIZED
    finally:
        client.close()


def test_tls_listener_uses_the_same_users_and_acl(broker: ShippedMosquitto) -> None:
    client = Probe(broker.tls_port, broker.login("gateway"), ca=broker.ca)
    try:
        assert client.connack == 0
        assert client.publish("emusa/plant/kron1/reading") in OK
        assert client.publish("emusa/annex/kron1/reading") == NOT_AUTHORIZED  # not its site
        assert client.publish("emusa/plant/alerts") == NOT_AUTHORIZED
    finally:
        client.close()
    with pytest.raises((ssl.SSLError, OSError, TimeoutError)):
        Probe(broker.tls_port, broker.login("gateway"), ca=None)  # a plain client cannot talk to it


GOOD_ENV = {
    "EMUSA_SITE": "plant", "EMUSA_GATEWAY_ID": "gw1", "EMUSA_MQTT_GATEWAY_PASSWORD": "g",
    "EMUSA_MQTT_INGESTOR_PASSWORD": "i", "EMUSA_MQTT_ANALYTICS_PASSWORD": "a",
}  # fmt: skip


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"EMUSA_MQTT_INGESTOR_PASSWORD": ""}, "EMUSA_MQTT_INGESTOR_PASSWORD is not set"),
        ({"EMUSA_MQTT_GATEWAY_PASSWORD": ""}, "no gateway account"),
        ({"EMUSA_GATEWAY_ID": ""}, "EMUSA_GATEWAY_ID is not set"),
        ({"EMUSA_SITE": "bad/site"}, "EMUSA_SITE 'bad/site' must be"),
        ({"EMUSA_MQTT_GATEWAYS": "annex:gw1"}, "is not site:gateway_id:password"),
        ({"EMUSA_MQTT_GATEWAYS": "annex:gw#1:p"}, "EMUSA_MQTT_GATEWAYS gateway id 'gw#1'"),
        ({"EMUSA_MQTT_GATEWAYS": "plant:gw1:p"}, "account gw-plant-gw1 is defined twice"),
        ({"EMUSA_MQTT_INGESTORS": "0"}, "EMUSA_MQTT_INGESTORS '0' must be"),
        ({"EMUSA_MQTT_READER_PASSWORD": "r", "EMUSA_MQTT_READER_SITES": "plant,+"},
         "EMUSA_MQTT_READER_SITES '+' must be"),
        ({"EMUSA_MQTT_READERS": "ingestor:p"}, "account ingestor is defined twice"),
        ({"EMUSA_MQTT_READERS": "nodered:p w"}, "is not user:password"),
    ],
)  # fmt: skip
def test_init_script_refuses_a_missing_or_bad_account(
    tmp_path: Path, change: dict[str, str], message: str
) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("EMUSA_")}
    env.update({**GOOD_ENV, **change})
    proc = subprocess.run(["sh", str(ROOT / "mosquitto" / "init-passwd.sh"), str(tmp_path)],
                          env=env, capture_output=True, text=True, timeout=30, check=False)  # fmt: skip
    assert proc.returncode != 0
    assert message in proc.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == []  # nothing half written


def test_init_script_writes_one_account_per_gateway_ingestor_and_reader(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("EMUSA_")}
    env.update({**GOOD_ENV, "EMUSA_MQTT_GATEWAYS": "annex:rs485:p1 annex:tcp-2:p2",
                "EMUSA_MQTT_INGESTORS": "3", "EMUSA_MQTT_READER_PASSWORD": "r",
                "EMUSA_MQTT_READER_SITES": "annex", "EMUSA_MQTT_READERS": "nodered:n:plant,annex"})  # fmt: skip
    proc = subprocess.run(["sh", str(ROOT / "mosquitto" / "init-passwd.sh"), str(tmp_path)],
                          env=env, capture_output=True, text=True, timeout=30, check=False)  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    users = [ln.split(":")[0] for ln in (tmp_path / "passwd").read_text().splitlines()]
    assert users == ["gw-plant-gw1", "gw-annex-rs485", "gw-annex-tcp-2", "ingestor",
                     "ingestor-2", "ingestor-3", "analytics", "reader", "nodered"]  # fmt: skip
    acl = (tmp_path / "acl").read_text()
    assert "user gw-annex-tcp-2\ntopic write emusa/annex/+/reading\n" in acl
    assert acl.count("topic write emusa/annex/+/info\n") == 2  # each annex gateway
    assert acl.count("topic write emusa/plant/+/info\n") == 1
    assert acl.count("topic read emusa/+/+/info\n") == 3  # each ingestor replica
    assert "topic write emusa/annex/gateway/tcp-2/status\n" in acl
    assert "user reader\ntopic read emusa/annex/#\ntopic read homeassistant/#\n" in acl
    assert "user nodered\ntopic read emusa/plant/#\ntopic read emusa/annex/#\n" in acl
    rules = [ln for ln in acl.splitlines() if ln and not ln.startswith("#")]
    assert not any("<" in ln for ln in rules)
    assert not any(ln.startswith("#@") for ln in acl.splitlines())
    dynsec = json.loads((tmp_path / "dynsec.json").read_text())
    refused = {c["username"] for c in dynsec["clients"]}
    assert refused == set(users) - {"ingestor", "ingestor-2", "ingestor-3"}


def test_analytics_publisher_reports_a_refused_message_instead_of_losing_it(
    broker: ShippedMosquitto, clients: dict[str, Probe]
) -> None:
    site = uuid.uuid4().hex[:8]
    clients["analytics"].close()  # the publisher below logs in as analytics
    assert clients["reader"].subscribe("emusa/#") in OK
    pub = Publisher(broker.url("analytics"), timeout=WAIT)
    try:
        pub.publish(f"emusa/{site}/alerts", b'{"ok": true}')
        with pytest.raises(
            PublishError, match=f"refused the message to emusa/{site}/kron1/reading"
        ):
            pub.publish(f"emusa/{site}/kron1/reading", b"{}")
        pub.publish(f"emusa/{site}/summaries", b'{"ok": true}')  # the session goes on
    finally:
        pub.close()
    assert clients["reader"].received(f"emusa/{site}/alerts")
    assert clients["reader"].received(f"emusa/{site}/summaries")
    assert not clients["reader"].received(f"emusa/{site}/kron1/reading", timeout=1.0)


def test_gateway_counts_and_logs_readings_the_acl_refuses(
    broker: ShippedMosquitto, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # a gateway configured with another topic root than the ACL's `emusa`
    settings = PublisherSettings(
        endpoint=mqtt_url.parse(broker.url("gateway")), root="other", site="plant",
        gateway_id="gw1", client_id=f"gw-{uuid.uuid4().hex[:8]}", state_topics=False,
    )  # fmt: skip
    queue = DiskQueue(tmp_path / "queue.sqlite", max_messages=100)
    pub = GatewayPublisher(settings, queue)
    try:
        with caplog.at_level("ERROR", logger="gateway.publisher"):
            pub.start()
            assert pub.connected.wait(WAIT)
            at = datetime.now(UTC)
            pub.submit(
                contract.Reading("plant", "kron1", at, queue.next_seq("kron1"), {"freq": 60.0})
            )
            assert pub.wait_idle(WAIT)
        assert pub.stats.refused >= 1  # the reading (and the retained `online` status)
        assert "ACL let this gateway's user publish under other/plant/" in caplog.text
    finally:
        pub.stop(flush_timeout=1)
        queue.close()
