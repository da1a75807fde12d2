"""A paho MQTT v5 client that reports what the broker decided, for broker-policy tests.

MQTT v5 tells: a refused publish gets PUBACK 0x87 (Not authorized), a refused
subscription SUBACK 0x87, a refused login CONNACK >= 0x80, a packet over the broker's
maximum size DISCONNECT 0x95. The client records its disconnections, so a test sees a
session being taken over (paho's loop reconnects it, resuming the session as a service
would).
"""

from __future__ import annotations

import contextlib
import ssl
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode

NOT_AUTHORIZED = 0x87
OK = range(0, 0x80)
WAIT = 10.0


class Probe:
    def __init__(
        self,
        port: int,
        login: tuple[str, str] | None,
        *,
        client_id: str | None = None,
        clean_start: bool = True,
        session_expiry: int = 0,
        ca: Path | None = None,
    ) -> None:
        self._cond = threading.Condition()
        self.connack: int | None = None
        self.disconnects: list[int] = []
        self.acks: dict[int, list[int]] = {}
        self.messages: list[tuple[str, bytes]] = []
        self.c = mqtt.Client(
            CallbackAPIVersion.VERSION2,
            client_id=client_id or f"probe-{uuid.uuid4().hex[:8]}",
            protocol=mqtt.MQTTv5,
        )
        if login:
            self.c.username_pw_set(*login)
        if ca:
            self.c.tls_set_context(ssl.create_default_context(cafile=str(ca)))
        self.c.on_connect = self._on_connect
        self.c.on_disconnect = self._on_disconnect
        self.c.on_publish = self._on_publish
        self.c.on_subscribe = self._on_subscribe
        self.c.on_message = self._on_message
        props = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
        props.SessionExpiryInterval = session_expiry
        try:
            self.c.connect("127.0.0.1", port, clean_start=clean_start, properties=props)
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

    def _on_disconnect(self, _c: mqtt.Client, _u: Any, _f: Any, rc: ReasonCode, _p: Any) -> None:
        with self._cond:
            self.disconnects.append(rc.value)
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

    @property
    def connected(self) -> bool:
        return self.connack == 0 and not self.disconnects

    def publish(self, topic: str, payload: bytes = b"1", *, retain: bool = False) -> int:
        """PUBACK reason code of a QoS 1 publish (< 0x80 = accepted)."""
        info = self.c.publish(topic, payload, qos=1, retain=retain)
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

    def payloads(self, count: int, timeout: float = WAIT) -> set[bytes]:
        """The payloads received once ``count`` messages arrived (or ``timeout`` passed)."""
        with contextlib.suppress(TimeoutError):
            self._wait(lambda: len(self.messages) >= count, f"{count} messages", timeout)
        with self._cond:
            return {p for _, p in self.messages}

    def wait_disconnected(self, timeout: float = WAIT) -> bool:
        try:
            self._wait(lambda: bool(self.disconnects), "disconnection", timeout)
        except TimeoutError:
            return False
        return True

    def close(self) -> None:
        self.c.disconnect()
        self.c.loop_stop()
        self.c._reset_sockets()  # paho keeps a wake-up socket pair until garbage collection
