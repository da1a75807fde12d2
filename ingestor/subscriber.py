"""MQTT side of the ingestor: paho-mqtt 2, MQTT v5, QoS 1, persistent session, manual ack.

* A stable client id with ``clean_start=False`` and a session expiry: messages published
  while the ingestor is down (or unacknowledged when it died) wait in the broker.
* Manual acknowledgement: a message is acknowledged by :meth:`Subscriber.ack` only after
  the batch holding it was committed.
* ``ReceiveMaximum`` bounds how many unacknowledged messages the broker sends us, so the
  messages held in memory are bounded by the protocol: when the database is down nothing
  is acknowledged and the broker stops sending, keeping the rest itself.
* Every message carries the *generation* of the connection it arrived on. Packet ids
  belong to a connection: after a reconnect the broker resends what was not acknowledged
  (same session), and may reuse a packet id, so an old delivery is never acknowledged on a
  new connection; its redelivered copy is (a harmless duplicate write in between).
* Besides the readings, the gateways' Modbus diagnostics and meter info topics (retained)
  are subscribed to. A broker whose ACL refuses those (an older ACL file) costs the
  diagnostics history and meter metadata only: the ingestor counts as subscribed once the
  readings filter is granted.
"""

from __future__ import annotations

import logging
import socket
import threading
from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion, MQTTErrorCode, MQTTProtocolVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode
from paho.mqtt.subscribeoptions import SubscribeOptions

from contract import (
    diagnostics_subscriptions,
    meter_info_subscription,
    reading_subscription,
)
from contract.mqtt_url import MqttEndpoint
from ingestor.errors import IngestorError

log = logging.getLogger(__name__)


class MqttError(IngestorError):
    """The broker refused us or the client could not be set up; the paho error is chained."""


class Delivery(NamedTuple):
    """One received message (a tuple: built once per message on the MQTT thread)."""

    generation: int
    mid: int
    qos: int
    topic: str
    payload: bytes


class Subscriber:
    def __init__(
        self,
        endpoint: MqttEndpoint,
        *,
        root: str,
        client_id: str,
        on_delivery: Callable[[Delivery], None],
        shared_group: str | None = None,
        session_expiry: int = 86_400,
        receive_maximum: int = 8_000,
        keepalive: int = 30,
    ) -> None:
        self.topic_filter = reading_subscription(root, shared_group)
        self.topic_filters = [
            self.topic_filter,
            *diagnostics_subscriptions(root, shared_group),
            meter_info_subscription(root, shared_group),
        ]
        self._endpoint = endpoint
        self._on_delivery = on_delivery
        self._session_expiry = session_expiry
        self._receive_maximum = receive_maximum
        self._keepalive = keepalive
        self._generation = 0
        self._lock = threading.Lock()
        self.connected = threading.Event()
        self.subscribed = threading.Event()
        self.connects = 0
        client = mqtt.Client(
            CallbackAPIVersion.VERSION2,
            client_id=client_id,
            protocol=MQTTProtocolVersion.MQTTv5,
            manual_ack=True,
        )
        if endpoint.username is not None:
            client.username_pw_set(endpoint.username, endpoint.password)
        if endpoint.tls:
            client.tls_set()
        client.reconnect_delay_set(1, 30)
        client.on_socket_open = self._on_socket_open
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_subscribe = self._on_subscribe
        client.on_message = self._on_message
        self._client = client

    # --- lifecycle --------------------------------------------------------------------

    def start(self) -> None:
        props = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
        props.SessionExpiryInterval = self._session_expiry
        props.ReceiveMaximum = self._receive_maximum
        try:
            self._client.connect_async(
                self._endpoint.host,
                self._endpoint.port,
                keepalive=self._keepalive,
                clean_start=False,
                properties=props,
            )
        except (OSError, ValueError) as exc:
            raise MqttError(f"cannot connect to the broker: {exc}") from exc
        self._client.loop_start()

    def stop(self) -> None:
        """Disconnect cleanly (the session and unacknowledged messages stay in the broker)."""
        self._client.disconnect()
        self._client.loop_stop()
        self.connected.clear()

    @property
    def generation(self) -> int:
        return self._generation

    def ack(self, deliveries: Sequence[Delivery]) -> int:
        """Acknowledge committed deliveries; returns how many were sent.

        Deliveries that came on an earlier connection are skipped: the broker redelivers
        them on this one (their packet ids may already name other messages).
        """
        sent = 0
        with self._lock:
            if not self.connected.is_set():
                return 0
            current = self._generation
            ack = self._client.ack
            for d in deliveries:
                if d.generation == current and ack(d.mid, d.qos) == MQTTErrorCode.MQTT_ERR_SUCCESS:
                    sent += 1
        return sent

    # --- paho callbacks (MQTT thread) ----------------------------------------------------

    def _on_socket_open(self, client: mqtt.Client, userdata: Any, sock: Any) -> None:
        # Nagle + delayed ACK costs ~40 ms per hop on loopback.
        if isinstance(sock, socket.socket):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def _on_connect(
        self,
        client: mqtt.Client,
        userdata: Any,
        flags: mqtt.ConnectFlags,
        reason: ReasonCode,
        properties: Properties | None,
    ) -> None:
        if reason.is_failure:
            log.error(
                "broker refused the connection: %s",
                reason,
                extra={"action": "mqtt_refused", "reason": str(reason)},
            )
            return
        with self._lock:
            self._generation += 1
            self.connects += 1
            self.connected.set()
        log.info(
            "connected to the broker (session present: %s)",
            flags.session_present,
            extra={"action": "mqtt_connect", "session_present": flags.session_present},
        )
        client.subscribe([(f, SubscribeOptions(qos=1)) for f in self.topic_filters])

    def _on_subscribe(
        self,
        client: mqtt.Client,
        userdata: Any,
        mid: int,
        reasons: list[ReasonCode],
        properties: Properties | None,
    ) -> None:
        if not reasons or reasons[0].is_failure:
            log.error(
                "broker refused the subscription to %s: %s",
                self.topic_filter,
                reasons,
                extra={"action": "mqtt_subscribe_refused"},
            )
            return
        refused = [
            f for f, r in zip(self.topic_filters[1:], reasons[1:], strict=False) if r.is_failure
        ]
        if refused:
            log.warning(
                "broker refused the subscriptions %s: no Modbus diagnostics history or meter"
                " metadata (allow them in the broker ACL)",
                ", ".join(refused),
                extra={"action": "mqtt_subscribe_refused"},
            )
        self.subscribed.set()
        log.info(
            "subscribed to %s",
            ", ".join(f for f in self.topic_filters if f not in refused),
            extra={"action": "mqtt_subscribe", "qos": 1},
        )

    def _on_disconnect(
        self,
        client: mqtt.Client,
        userdata: Any,
        flags: mqtt.DisconnectFlags,
        reason: ReasonCode,
        properties: Properties | None,
    ) -> None:
        with self._lock:
            self.connected.clear()
            self.subscribed.clear()
        log.warning(
            "disconnected from the broker: %s",
            reason,
            extra={"action": "mqtt_disconnect", "reason": str(reason)},
        )

    def _on_message(self, client: mqtt.Client, userdata: Any, msg: mqtt.MQTTMessage) -> None:
        try:
            topic = msg.topic
        except UnicodeDecodeError:  # a broker should refuse such topics; keep it visible
            topic = repr(msg._topic)
        self._on_delivery(Delivery(self._generation, msg.mid, msg.qos, topic, bytes(msg.payload)))
