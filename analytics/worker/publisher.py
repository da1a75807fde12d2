"""MQTT publisher of alerts and summaries (QoS 1), fed from the database outbox.

A message is marked published only after the broker acknowledged it (PUBACK, MQTT v5)
with a success reason code; while the broker is down, or when it refuses the message (an
ACL without the topic), nothing is marked and the next drain retries, so no event is lost
and the refusal is an error naming the topic. (With MQTT 3.1.1 a refused QoS 1 publish is
acknowledged like any other, and would have been lost silently.) A
crash between the PUBACK and the commit republishes that message once: consumers get
it at least once and can deduplicate on ``id`` + ``event``.
"""

from __future__ import annotations

import json
import logging
import threading
import uuid
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

import contract
from analytics.errors import PublishError
from contract import mqtt_url

log = logging.getLogger(__name__)


class Publisher:
    def __init__(self, url: str, *, client_id: str | None = None, timeout: float = 10.0) -> None:
        self.endpoint = mqtt_url.parse(url)
        self.timeout = timeout
        self._connected = threading.Event()
        self.client = mqtt.Client(
            CallbackAPIVersion.VERSION2,
            client_id=client_id
            or self.endpoint.client_id(f"emusa-analytics-{uuid.uuid4().hex[:8]}"),
            protocol=mqtt.MQTTv5,
        )
        if self.endpoint.username:
            self.client.username_pw_set(self.endpoint.username, self.endpoint.password)
        if self.endpoint.tls:
            self.client.tls_set()
        self.client.max_inflight_messages_set(20)
        self.client.reconnect_delay_set(min_delay=1, max_delay=10)
        self.client.on_connect = self._on_connect
        self.client.on_disconnect = self._on_disconnect
        self.client.on_publish = self._on_publish
        self._refused: dict[int, str] = {}  # mid -> reason, written by paho's thread
        self._lock = threading.Lock()
        self._started = False

    def _on_connect(self, _c: mqtt.Client, _u: object, _f: object, reason: Any, _p: object) -> None:
        if not reason.is_failure:
            self._connected.set()

    def _on_disconnect(self, *_a: object) -> None:
        self._connected.clear()

    def _on_publish(self, _c: mqtt.Client, _u: object, mid: int, reason: Any, _p: object) -> None:
        # called before the message info is marked published: publish() sees the entry
        if reason.is_failure:
            with self._lock:
                self._refused[mid] = str(reason)

    def connect(self) -> None:
        """Connect (once) and wait for the CONNACK; PublishError when the broker is down."""
        if self._connected.is_set():
            return
        if not self._started:
            try:
                self.client.connect(self.endpoint.host, self.endpoint.port, keepalive=30)
            except OSError as exc:
                raise PublishError(f"broker {self.endpoint.redacted()} unreachable: {exc}") from exc
            self.client.loop_start()
            self._started = True
        if not self._connected.wait(self.timeout):
            raise PublishError(f"broker {self.endpoint.redacted()} did not accept the connection")

    def publish(self, topic: str, payload: bytes, *, retain: bool = False) -> None:
        """Publish with QoS 1 and wait for the broker's acknowledgement."""
        self.connect()
        info = self.client.publish(topic, payload, qos=1, retain=retain)
        if info.rc != mqtt.MQTT_ERR_SUCCESS:
            raise PublishError(f"publish to {topic} failed: {mqtt.error_string(info.rc)}")
        try:
            info.wait_for_publish(self.timeout)
        except (RuntimeError, ValueError) as exc:
            raise PublishError(f"publish to {topic} failed: {exc}") from exc
        if not info.is_published():
            raise PublishError(f"no PUBACK for {topic} within {self.timeout:.0f} s")
        with self._lock:
            refused = self._refused.pop(info.mid, None)
        if refused is not None:
            raise PublishError(
                f"broker refused the message to {topic}: {refused}"
                " (does its ACL let this user publish there?)"
            )

    def close(self) -> None:
        if self._started:
            self.client.disconnect()
            self.client.loop_stop()
            self._started = False
        # paho's socket pair leaks unless the callbacks (a reference cycle) are cleared
        self.client.on_connect = None
        self.client.on_disconnect = None
        self.client.on_publish = None


def topic(root: str, site: str, channel: str) -> str:
    if channel == "alerts":
        return contract.alerts_topic(root, site)
    if channel == "summaries":
        return contract.summaries_topic(root, site)
    return f"{root}/{site}/{channel}"


def encode(payload: dict[str, Any]) -> bytes:
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":"), default=str).encode()
