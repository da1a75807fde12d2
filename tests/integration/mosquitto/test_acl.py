"""The shipped Mosquitto config, password init script and ACLs, on a real broker.

The broker runs from ``mosquitto/mosquitto.conf`` itself, with only its container paths
and ports rewritten to a temporary directory and free local ports; the password file is
written by ``mosquitto/init-passwd.sh`` from the same variables docker-compose passes
(``tests.harness.shipped_broker``, also used by the end-to-end run).
MQTT v5 tells what the broker decided: a refused publish gets PUBACK 0x87 (Not
authorized), a refused subscription SUBACK 0x87.
"""

from __future__ import annotations

import os
import ssl
import subprocess
import threading
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.reasoncodes import ReasonCode

from analytics.errors import PublishError
from analytics.publish import Publisher
from gateway import contract, mqtt_url
from gateway.publisher import Publisher as GatewayPublisher
from gateway.publisher import PublisherSettings
from gateway.queue import DiskQueue
from tests.harness.services import ServiceUnavailable
from tests.harness.shipped_broker import ShippedMosquitto, new_passwords

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[3]
NOT_AUTHORIZED = 0x87
PASSWORDS = new_passwords()
WAIT = 10.0


@pytest.fixture(scope="module")
def broker() -> Iterator[ShippedMosquitto]:
    shipped = ShippedMosquitto(PASSWORDS, tls=True)
    try:
        shipped.start()
    except ServiceUnavailable as exc:
        shipped.cleanup()
        pytest.fail(str(exc))
    try:
        yield shipped
    finally:
        shipped.cleanup()


class Client:
    """A paho MQTT v5 client that reports the broker's reason codes."""

    def __init__(self, port: int, user: str | None, password: str | None = None,
                 ca: Path | None = None) -> None:  # fmt: skip
        self._cond = threading.Condition()
        self.connack: int | None = None
        self.acks: dict[int, list[int]] = {}
        self.messages: list[tuple[str, bytes]] = []
        self.c = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"acl-{uuid.uuid4().hex[:8]}",
                             protocol=mqtt.MQTTv5)  # fmt: skip
        if user:
            self.c.username_pw_set(user, password if password is not None else PASSWORDS[user])
        if ca:
            self.c.tls_set_context(ssl.create_default_context(cafile=str(ca)))
        self.c.on_connect = self._on_connect
        self.c.on_publish = self._on_publish
        self.c.on_subscribe = self._on_subscribe
        self.c.on_message = self._on_message
        try:
            self.c.connect("127.0.0.1", port)
            self.c.loop_start()
            self._wait(lambda: self.connack is not None, "CONNACK")
        except BaseException:
            self.close()  # no loop thread or socket outlives a failed connection
            raise

    def _wait(self, ready: Any, what: str, timeout: float = WAIT) -> None:
        deadline = time.monotonic() + timeout
        with self._cond:
            while not ready():
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError(f"no {what} in {timeout} s")
                self._cond.wait(left)

    def _on_connect(self, _c: mqtt.Client, _u: Any, _f: Any, rc: ReasonCode, _p: Any) -> None:
        with self._cond:
            self.connack = rc.value
            self._cond.notify_all()

    def _on_publish(self, _c: mqtt.Client, _u: Any, mid: int, rc: ReasonCode, _p: Any) -> None:
        with self._cond:
            self.acks[mid] = [rc.value]
            self._cond.notify_all()

    def _on_subscribe(
        self, _c: mqtt.Client, _u: Any, mid: int, rcs: list[ReasonCode], _p: Any
    ) -> None:
        with self._cond:
            self.acks[mid] = [rc.value for rc in rcs]
            self._cond.notify_all()

    def _on_message(self, _c: mqtt.Client, _u: Any, msg: mqtt.MQTTMessage) -> None:
        with self._cond:
            self.messages.append((msg.topic, bytes(msg.payload)))
            self._cond.notify_all()

    def publish(self, topic: str) -> int:
        """PUBACK reason code of a QoS 1 publish (< 0x80 = accepted)."""
        info = self.c.publish(topic, b"1", qos=1)
        self._wait(lambda: info.mid in self.acks, f"PUBACK for {topic}")
        return self.acks[info.mid][0]

    def subscribe(self, topic_filter: str) -> int:
        """SUBACK reason code (granted QoS 0-2, or >= 0x80 refused)."""
        _rc, mid = self.c.subscribe(topic_filter, qos=1)
        assert mid is not None
        self._wait(lambda: mid in self.acks, f"SUBACK for {topic_filter}")
        return self.acks[mid][0]

    def received(self, topic: str, timeout: float = 5.0) -> bool:
        try:
            self._wait(lambda: any(t == topic for t, _ in self.messages), topic, timeout)
        except TimeoutError:
            return False
        return True

    def close(self) -> None:
        self.c.disconnect()
        self.c.loop_stop()
        self.c._reset_sockets()  # paho keeps a wake-up socket pair until garbage collection


@pytest.fixture
def clients(broker: ShippedMosquitto) -> Iterator[dict[str, Client]]:
    made: dict[str, Client] = {}
    try:
        for user in PASSWORDS:
            made[user] = Client(broker.port, user)
        yield made
    finally:
        for c in made.values():
            c.close()


OK = range(0, 0x80)

# Publishing: (user, topic, allowed). A refused QoS 1 publish gets PUBACK 0x87.
PUBLISH = [
    ("gateway", "emusa/{s}/kron1/reading", True),
    ("gateway", "emusa/{s}/kron1/status", True),
    ("gateway", "emusa/{s}/gateway/rs485/status", True),
    ("gateway", "emusa/{s}/kron1/state/p_total", True),
    ("gateway", "homeassistant/sensor/{s}_p_total/config", True),
    ("gateway", "emusa/{s}/kron1/diagnostics", True),
    ("gateway", "emusa/{s}/gateway/gw1/bus/rs485/diagnostics", True),
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
# message the user may not read never reaches it. So the test publishes a probe.
SUBSCRIBE = [
    ("ingestor", "emusa/+/+/reading", "emusa/{s}/kron1/reading", "gateway", True),
    ("ingestor", "$share/ingestors/emusa/+/+/reading", "emusa/{s}/kron2/reading", "gateway", True),
    ("ingestor", "emusa/+/+/diagnostics", "emusa/{s}/kron1/diagnostics", "gateway", True),
    (
        "ingestor",
        "$share/ingestors/emusa/+/gateway/+/bus/+/diagnostics",
        "emusa/{s}/gateway/gw1/bus/rs485/diagnostics",
        "gateway",
        True,
    ),
    ("ingestor", "emusa/#", "emusa/{s}/kron1/status", "gateway", False),
    ("ingestor", "emusa/#", "emusa/{s}/alerts", "analytics", False),
    ("ingestor", "emusa/+/alerts", "emusa/{s}/alerts", "analytics", False),
    ("gateway", "emusa/#", "emusa/{s}/kron1/reading", "gateway", False),
    ("gateway", "emusa/#", "emusa/{s}/alerts", "analytics", False),
    ("analytics", "emusa/#", "emusa/{s}/kron1/reading", "gateway", True),
    ("analytics", "emusa/#", "emusa/{s}/kron1/status", "gateway", True),
    ("reader", "emusa/#", "emusa/{s}/alerts", "analytics", True),
    ("reader", "emusa/#", "emusa/{s}/kron1/state/p_total", "gateway", True),
    ("reader", "homeassistant/#", "homeassistant/sensor/{s}/config", "gateway", True),
    ("reader", "$SYS/#", "$SYS/broker/uptime", "broker", False),
]


@pytest.mark.parametrize(("user", "topic", "allowed"), PUBLISH,
                         ids=[f"{u}-pub-{t}" for u, t, _ in PUBLISH])  # fmt: skip
def test_publish_acl(clients: dict[str, Client], user: str, topic: str, allowed: bool) -> None:
    code = clients[user].publish(topic.format(s=uuid.uuid4().hex[:8]))
    if allowed:
        assert code in OK, f"{user} may publish {topic}: {code:#x}"
    else:
        assert code == NOT_AUTHORIZED, f"{user} may not publish {topic}: {code:#x}"


@pytest.mark.parametrize(("user", "topic_filter", "probe", "writer", "delivered"), SUBSCRIBE,
                         ids=[f"{u}-sub-{f}-{p}" for u, f, p, _, _ in SUBSCRIBE])  # fmt: skip
def test_subscribe_acl(
    clients: dict[str, Client],
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


def test_refused_publish_reaches_nobody(clients: dict[str, Client]) -> None:
    site = uuid.uuid4().hex[:8]
    assert clients["analytics"].subscribe("emusa/#") in OK
    assert clients["reader"].publish(f"emusa/{site}/kron9/reading") == NOT_AUTHORIZED
    assert clients["gateway"].publish(f"emusa/{site}/kron1/reading") in OK
    assert clients["analytics"].received(f"emusa/{site}/kron1/reading")
    assert not clients["analytics"].received(f"emusa/{site}/kron9/reading", timeout=1.0)


@pytest.mark.parametrize(
    ("user", "password"), [(None, None), ("gateway", "wrong"), ("nobody", "x")]
)
def test_login_is_required(
    broker: ShippedMosquitto, user: str | None, password: str | None
) -> None:
    client = Client(broker.port, user, password)
    try:
        assert client.connack is not None and client.connack >= 0x80  # 0x86 / 0x87
    finally:
        client.close()


def test_health_listener_is_anonymous_and_sees_only_the_uptime(broker: ShippedMosquitto) -> None:
    client = Client(broker.health_port, None)
    try:
        assert client.connack == 0
        assert client.subscribe("$SYS/broker/uptime") in OK
        assert client.received("$SYS/broker/uptime")
        assert client.publish("emusa/plant/kron1/reading") == NOT_AUTHORIZED
        assert client.publish("$SYS/broker/uptime") == NOT_AUTHORIZED
    finally:
        client.close()


def test_tls_listener_uses_the_same_users_and_acl(broker: ShippedMosquitto) -> None:
    client = Client(broker.tls_port, "gateway", ca=broker.ca)
    try:
        assert client.connack == 0
        assert client.publish("emusa/plant/kron1/reading") in OK
        assert client.publish("emusa/plant/alerts") == NOT_AUTHORIZED
    finally:
        client.close()
    with pytest.raises((ssl.SSLError, OSError, TimeoutError)):
        Client(broker.tls_port, "gateway", ca=None)  # a plain client cannot talk to it


def test_init_script_refuses_a_missing_password(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("EMUSA_MQTT_")}
    env["EMUSA_MQTT_GATEWAY_PASSWORD"] = "x"
    proc = subprocess.run(["sh", str(ROOT / "mosquitto" / "init-passwd.sh"), str(tmp_path)],
                          env=env, capture_output=True, text=True, timeout=30, check=False)  # fmt: skip
    assert proc.returncode != 0
    assert "EMUSA_MQTT_INGESTOR_PASSWORD is not set" in proc.stderr
    assert not (tmp_path / "passwd").exists()


def test_analytics_publisher_reports_a_refused_message_instead_of_losing_it(
    broker: ShippedMosquitto, clients: dict[str, Client]
) -> None:
    site = uuid.uuid4().hex[:8]
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
