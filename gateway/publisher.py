"""MQTT publisher of the gateway (paho-mqtt 2, callback API v2, MQTT v5).

Store and forward: every reading goes into the on-disk queue first; a pump thread hands
queued messages to paho in order, at most ``window`` unacknowledged at a time, and a
message leaves the queue only when the broker acknowledged it (PUBACK). While the broker
is away, readings pile up on disk; paho re-sends its in-flight messages on reconnect and
the pump continues from the queue, so order is kept. After a gateway restart the queue
is replayed from its head (a reading whose PUBACK was lost may arrive twice; the ingestor
stores it once).

Retained state: the gateway status (`online`, last will `offline`), each meter's status,
optional per-quantity state topics (QoS 0, every reading or at most every
``state_interval`` seconds, see gateway.state_topics) and Home Assistant discovery;
re-published on every (re)connect. Diagnostics (``publish_latest``) are retained and latest-wins: kept in memory,
never queued to disk; while the broker is away only the newest message per topic waits,
and it is published on reconnect.
"""

from __future__ import annotations

import collections
import logging
import socket
import ssl
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode

import contract
from contract.mqtt_url import MqttEndpoint
from gateway.config import TlsConfig
from gateway.queue import DiskQueue
from gateway.state_topics import StateTopics

log = logging.getLogger(__name__)

STATE_CHECK_EVERY = 0.5  # seconds; the pump wakes at least this often


@dataclass
class PublisherStats:
    queued: int = 0
    sent: int = 0
    acknowledged: int = 0
    refused: int = 0
    connects: int = 0


@dataclass(frozen=True)
class PublisherSettings:
    endpoint: MqttEndpoint
    root: str
    site: str
    gateway_id: str
    client_id: str
    keepalive: int = 30
    window: int = 20
    state_topics: bool = True
    state_interval: float | None = None  # None: every reading's values
    tls: TlsConfig | None = None
    retained: Mapping[str, bytes] = field(default_factory=dict)  # e.g. discovery configs


class Publisher:
    """Thread-safe: the poll loop calls ``submit``/``set_meter_status`` from any thread."""

    def __init__(
        self,
        settings: PublisherSettings,
        queue: DiskQueue,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.settings = settings
        self.queue = queue
        self.stats = PublisherStats()
        self.connected = threading.Event()
        self._statuses: dict[str, str] = {}
        # topic -> newest retained payload (QoS 1) and its MQTT v5 properties
        self._latest: dict[str, tuple[bytes, Properties | None]] = {}
        self._status_info: dict[str, tuple[tuple[str, str], ...]] = {}
        self._status_lock = threading.Lock()
        self._acks: collections.deque[int] = collections.deque()
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._inflight: dict[int, int] = {}  # paho mid -> queue id; pump thread only
        self._cursor = 0  # highest queue id handed to paho; pump thread only
        self._idle = threading.Event()
        self._monotonic = monotonic
        self._states = StateTopics(settings.state_interval) if settings.state_topics else None
        self._states_checked = float("-inf")  # pump thread only
        self._states_lock = threading.Lock()
        s = settings
        self._gateway_topic = contract.gateway_status_topic(s.root, s.site, s.gateway_id)
        self.client = mqtt.Client(
            CallbackAPIVersion.VERSION2,
            client_id=s.client_id,
            protocol=mqtt.MQTTv5,
        )
        self.client.max_inflight_messages_set(s.window)
        self.client.reconnect_delay_set(min_delay=1, max_delay=10)
        self.client.will_set(self._gateway_topic, contract.STATUS_OFFLINE, qos=1, retain=True)
        if s.endpoint.username:
            self.client.username_pw_set(s.endpoint.username, s.endpoint.password)
        if s.endpoint.tls:
            tls = s.tls or TlsConfig()
            self.client.tls_set(
                ca_certs=str(tls.ca_file) if tls.ca_file else None,
                certfile=str(tls.cert_file) if tls.cert_file else None,
                keyfile=str(tls.key_file) if tls.key_file else None,
                cert_reqs=ssl.CERT_REQUIRED,
            )
            self.client.tls_insecure_set(tls.insecure)
        self.client.on_connect = self._on_connect
        self.client.on_disconnect = self._on_disconnect
        self.client.on_publish = self._on_publish
        self.client.on_socket_open = self._on_socket_open
        self._pump_thread = threading.Thread(target=self._pump_loop, name="mqtt-pump", daemon=True)

    # --- lifecycle -------------------------------------------------------------------

    def start(self) -> None:
        e = self.settings.endpoint
        log.info("connecting to %s as %s", e.redacted(), self.settings.client_id)
        self.client.connect_async(e.host, e.port, keepalive=self.settings.keepalive)
        self.client.loop_start()
        self._pump_thread.start()

    def stop(self, flush_timeout: float = 10.0) -> bool:
        """Flush what the broker can take within ``flush_timeout``, say `offline`, disconnect.

        Returns True when the queue was empty at the end (nothing left for next start).
        """
        flushed = self.wait_idle(flush_timeout) if self.connected.is_set() else len(self.queue) == 0
        if self.connected.is_set():
            info = self.client.publish(
                self._gateway_topic, contract.STATUS_OFFLINE, qos=1, retain=True
            )
            info.wait_for_publish(timeout=min(flush_timeout, 5.0))
        self._stopping.set()
        self._wake.set()
        if self._pump_thread.is_alive():
            self._pump_thread.join(timeout=5)
        self.client.disconnect()
        self.client.loop_stop()
        # Break the client <-> publisher reference cycle so paho's finalizer closes its
        # internal socket pair as soon as the publisher is dropped.
        self.client.on_connect = None
        self.client.on_disconnect = None
        self.client.on_publish = None
        self.client.on_socket_open = None
        return flushed

    def wait_idle(self, timeout: float) -> bool:
        """Wait until every queued reading was acknowledged by the broker."""
        self._idle.clear()
        self._wake.set()
        if len(self.queue) == 0 and not self._inflight:
            return True
        return self._idle.wait(timeout)

    # --- what the poll loop calls ------------------------------------------------------

    def submit(self, reading: contract.Reading) -> None:
        """Queue a reading on disk and publish it as soon as the broker takes it."""
        s = self.settings
        self.queue.put(
            contract.reading_topic(s.root, s.site, reading.meter), contract.encode(reading)
        )
        self.stats.queued += 1
        self._wake.set()
        if self._states is not None:
            self._states.update(reading.meter, reading.values)
            if self.connected.is_set():
                self._publish_states(reading.meter)

    def set_meter_status(
        self, meter: str, status: str, info: Mapping[str, str] | None = None
    ) -> None:
        """Record a meter's status; published retained now (if connected) and on reconnect.

        ``info`` (a channel of the plant's file: channel, port, identifier) travels as MQTT
        v5 user properties of the status message; the payload stays ``online``/...
        """
        props = tuple(sorted((info or {}).items()))
        with self._status_lock:
            if self._statuses.get(meter) == status and self._status_info.get(meter, ()) == props:
                return
            self._statuses[meter] = status
            self._status_info[meter] = props
        s = self.settings
        topic = contract.meter_status_topic(s.root, s.site, meter)
        self.publish_latest(topic, status.encode(), props)

    def publish_latest(
        self, topic: str, payload: bytes, user_properties: tuple[tuple[str, str], ...] = ()
    ) -> None:
        """Publish retained (QoS 1) now if connected; the newest per topic again on reconnect."""
        props = None
        if user_properties:
            props = Properties(PacketTypes.PUBLISH)  # type: ignore[no-untyped-call]
            props.UserProperty = list(user_properties)
        with self._status_lock:
            self._latest[topic] = (payload, props)
        if self.connected.is_set():
            self.client.publish(topic, payload, qos=1, retain=True, properties=props)

    def meter_status(self, meter: str) -> str | None:
        with self._status_lock:
            return self._statuses.get(meter)

    # --- paho callbacks (network thread) -----------------------------------------------

    def _on_socket_open(self, _c: mqtt.Client, _u: object, sock: object) -> None:
        # Nagle + delayed ACK cost ~40 ms per hop on loopback (measured-here.md).
        if isinstance(sock, socket.socket) and sock.family in (socket.AF_INET, socket.AF_INET6):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def _on_connect(
        self,
        _c: mqtt.Client,
        _u: object,
        _flags: mqtt.ConnectFlags,
        reason: ReasonCode,
        _p: Properties | None,
    ) -> None:
        if reason.is_failure:
            log.error(
                "broker %s refused the connection: %s",
                self.settings.endpoint.redacted(),
                reason,
                extra={"action": "mqtt_connect"},
            )
            return
        self.stats.connects += 1
        log.info(
            "connected to %s", self.settings.endpoint.redacted(), extra={"action": "mqtt_connect"}
        )
        self.client.publish(self._gateway_topic, contract.STATUS_ONLINE, qos=1, retain=True)
        with self._status_lock:
            latest = dict(self._latest)  # meter statuses and diagnostics
        for topic, (payload, props) in latest.items():
            self.client.publish(topic, payload, qos=1, retain=True, properties=props)
        for topic, payload in self.settings.retained.items():
            self.client.publish(topic, payload, qos=1, retain=True)
        if self._states is not None:
            self._states.forget_sent()
        self.connected.set()
        self._wake.set()

    def _on_disconnect(
        self,
        _c: mqtt.Client,
        _u: object,
        _flags: mqtt.DisconnectFlags,
        reason: ReasonCode,
        _p: Properties | None,
    ) -> None:
        if self.connected.is_set() and not self._stopping.is_set():  # not our own stop
            log.warning(
                "disconnected from the broker (%s); readings wait in %s",
                reason,
                self.queue.path,
                extra={"action": "mqtt_disconnect"},
            )
        self.connected.clear()

    def _on_publish(
        self, _c: mqtt.Client, _u: object, mid: int, reason: ReasonCode, _p: Properties | None
    ) -> None:
        # Called with paho's message lock held: never block here; the pump does the work.
        if reason.is_failure:
            log.error(
                "broker refused message %d: %s (does the broker's ACL let this gateway's user"
                " publish under %s/%s/?)", mid, reason, self.settings.root, self.settings.site,
                extra={"action": "mqtt_refused"},
            )  # fmt: skip
            self.stats.refused += 1
        self._acks.append(mid)
        self._wake.set()

    def _publish_states(self, meter: str | None = None) -> None:
        """Publish the state values due now (of ``meter``, or of every meter).

        Taking and publishing under one lock keeps a topic's updates in order when the poll
        loop and the pump publish at the same time.
        """
        if self._states is None:
            return
        s = self.settings
        with self._states_lock:
            for m, quantity, text in self._states.due(self._monotonic(), meter):
                self.client.publish(
                    contract.state_topic(s.root, s.site, m, quantity), text, qos=0, retain=True
                )

    # --- pump thread -------------------------------------------------------------------

    def _pump_loop(self) -> None:
        while not self._stopping.is_set():
            self._wake.wait(timeout=0.5)
            self._wake.clear()
            self._drain_acks()
            if self.connected.is_set():
                self._fill_window()
                self._flush_states()
            if not self._inflight and len(self.queue) == 0:
                self._idle.set()

    def _flush_states(self) -> None:
        """Publish the state values held back by ``state_interval`` (checked every 0.5 s)."""
        now = self._monotonic()
        if now < self._states_checked + STATE_CHECK_EVERY:
            return
        self._states_checked = now
        self._publish_states()

    def _drain_acks(self) -> None:
        done = []
        while self._acks:
            queue_id = self._inflight.pop(self._acks.popleft(), None)
            if queue_id is not None:
                done.append(queue_id)
        if done:
            self.queue.remove(done)
            self.stats.acknowledged += len(done)

    def _fill_window(self) -> None:
        room = self.settings.window - len(self._inflight)
        if room <= 0:
            return
        for message in self.queue.after(self._cursor, room):
            info = self.client.publish(
                message.topic, message.payload, qos=message.qos, retain=message.retain
            )
            # Even when the link just dropped (rc NO_CONN) paho keeps a QoS 1 message and
            # sends it on reconnect, so it is in flight either way.
            self._inflight[info.mid] = message.id
            self._cursor = message.id
            self.stats.sent += 1
