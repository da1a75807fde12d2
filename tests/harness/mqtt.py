"""A real MQTT subscriber for tests: collects messages, survives broker restarts.

It uses a persistent MQTT v5 session (clean_start off, session expiry), so messages
published while it reconnects after a broker restart are kept for it by the broker.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from tests.harness.services import Broker


@dataclass(frozen=True)
class Received:
    topic: str
    payload: bytes
    retain: bool
    dup: bool = False
    user_properties: tuple[tuple[str, str], ...] = ()  # MQTT v5 user properties


class Collector:
    def __init__(
        self,
        broker: Broker,
        topic_filter: str,
        qos: int = 1,
        *,
        login: tuple[str, str] | None = None,
    ) -> None:
        self.messages: list[Received] = []
        self._cond = threading.Condition()
        self._subscribed = threading.Event()
        self._filter = topic_filter
        self._qos = qos
        self.client = mqtt.Client(
            CallbackAPIVersion.VERSION2,
            client_id=f"collector-{uuid.uuid4().hex[:8]}",
            protocol=mqtt.MQTTv5,
        )
        self.client.reconnect_delay_set(min_delay=1, max_delay=2)
        if login is not None:  # (user, password) on a broker that requires a login
            self.client.username_pw_set(*login)
        self.client.on_connect = self._on_connect
        self.client.on_message = self._on_message
        self.client.on_subscribe = lambda *_a: self._subscribed.set()
        props = Properties(PacketTypes.CONNECT)
        props.SessionExpiryInterval = 600
        self.client.connect(broker.host, broker.port, clean_start=False, properties=props)
        self.client.loop_start()
        if not self._subscribed.wait(10):
            self.close()
            raise TimeoutError(f"could not subscribe to {topic_filter}")

    def _on_connect(self, client: mqtt.Client, *_a: object) -> None:
        client.subscribe(self._filter, qos=self._qos)

    def _on_message(self, _c: mqtt.Client, _u: object, msg: mqtt.MQTTMessage) -> None:
        with self._cond:
            props = tuple(getattr(msg.properties, "UserProperty", None) or ())
            self.messages.append(Received(msg.topic, msg.payload, msg.retain, bool(msg.dup), props))
            self._cond.notify_all()

    def matching(self, suffix: str) -> list[Received]:
        with self._cond:
            return [m for m in self.messages if m.topic.endswith(suffix)]

    def wait_for(self, suffix: str, count: int, timeout: float) -> list[Received]:
        """Wait until ``count`` messages whose topic ends with ``suffix`` arrived."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                found = [m for m in self.messages if m.topic.endswith(suffix)]
                remaining = deadline - time.monotonic()
                if len(found) >= count or remaining <= 0:
                    return found
                self._cond.wait(remaining)

    def wait_until(self, done: Callable[[list[Received]], bool], timeout: float) -> list[Received]:
        """Wait until ``done(messages so far)`` holds (or the timeout); returns the messages."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while not done(self.messages) and (remaining := deadline - time.monotonic()) > 0:
                self._cond.wait(remaining)
            return list(self.messages)

    def close(self) -> None:
        props = Properties(PacketTypes.DISCONNECT)
        props.SessionExpiryInterval = 0  # let the broker forget this test's session
        self.client.disconnect(properties=props)
        self.client.loop_stop()
        # break the reference cycle so paho's finalizer closes its socket pair promptly
        self.client.on_connect = None
        self.client.on_message = None
        self.client.on_subscribe = None
