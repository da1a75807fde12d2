"""Wiring of the gateway service: config -> maps and read plans -> buses -> poll loops ->
store-and-forward publisher, plus the retained Modbus diagnostics every
``diagnostics.interval`` seconds. Also the poll-budget check that ``check-config`` reports.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import contract
from contract import diagnostics as diag
from contract import meterinfo
from contract.mqtt_url import parse as parse_mqtt_url
from gateway import describe, health, paths, timing
from gateway.buses import open_bus
from gateway.config import GatewayConfig, RtuBusConfig, TcpBusConfig
from gateway.discovery import discovery_messages
from gateway.errors import ConfigError
from gateway.planner import plan
from gateway.poller import BusPoller, MeterState, utc_now_ms
from gateway.publisher import Publisher, PublisherSettings
from gateway.queue import DiskQueue
from gateway.registers import map_for
from gateway.transport import ModbusBus

log = logging.getLogger(__name__)

STATUS_EVERY = 2.0  # seconds between status file writes


@dataclass(frozen=True)
class BusBudget:
    bus: str
    meters: int
    requests: int  # per poll cycle
    registers: int
    wire_seconds: float | None  # RTU only: computed wire time of one cycle
    interval: float

    @property
    def fits(self) -> bool:
        return self.wire_seconds is None or self.wire_seconds <= self.interval

    def describe(self) -> str:
        wire = (
            f", {self.wire_seconds * 1000:.0f} ms of wire time per cycle"
            if self.wire_seconds is not None
            else ""
        )
        verdict = "fits" if self.fits else "DOES NOT FIT"
        return (
            f"bus {self.bus}: {self.meters} meters, {self.requests} requests and "
            f"{self.registers} registers per cycle{wire}; {verdict} in {self.interval:g} s"
        )


def load_meters(bus: TcpBusConfig | RtuBusConfig, config_dir: Path) -> list[MeterState]:
    """Register map and read plan of every meter on ``bus`` (errors name file and key)."""
    states = []
    for meter in bus.meters:
        regmap = map_for(meter, config_dir)
        states.append(MeterState(config=meter, regmap=regmap, blocks=plan(regmap)))
    return states


def budget(
    bus: TcpBusConfig | RtuBusConfig, meters: list[MeterState], interval: float
) -> BusBudget:
    """What one poll cycle costs on ``bus``; on RS-485 the wire time decides what fits."""
    counts = [b.count for m in meters if m.config.enabled for b in m.blocks]
    wire = None
    if isinstance(bus, RtuBusConfig):
        wire = timing.cycle_time(counts, bus.baudrate) + bus.inter_frame_delay * len(counts)
    return BusBudget(bus.name, len(meters), len(counts), sum(counts), wire, interval)


def _publisher(
    config: GatewayConfig, queue: DiskQueue, meters: list[MeterState], env: Mapping[str, str]
) -> Publisher:
    try:
        endpoint = parse_mqtt_url(config.mqtt.url)
    except ValueError as exc:
        raise ConfigError(str(exc)) from None
    retained: dict[str, bytes] = {}
    if config.mqtt.homeassistant_discovery:
        for m in meters:
            retained.update(
                discovery_messages(
                    prefix=config.mqtt.homeassistant_prefix,
                    root=config.mqtt.topic_root,
                    site=config.site,
                    meter=m.name,
                    model=m.regmap.model,
                    quantities=m.regmap.names,
                    lang=env.get("EMUSA_LANG", "pt-BR"),
                )
            )
    settings = PublisherSettings(
        endpoint=endpoint,
        root=config.mqtt.topic_root,
        site=config.site,
        gateway_id=config.gateway_id,
        client_id=config.mqtt.client_id
        or endpoint.client_id(f"emusa-gateway-{config.site}-{config.gateway_id}"),
        keepalive=config.mqtt.keepalive,
        state_topics=config.mqtt.state_topics,
        state_interval=config.mqtt.state_interval,
        tls=config.mqtt.tls,
        retained=retained,
    )
    return Publisher(settings, queue)


def publish_diagnostics(
    pollers: list[BusPoller], publisher: Publisher, gateway_id: str
) -> list[diag.Diagnostics]:
    """One diagnostics message per meter and per bus (retained, latest wins)."""
    s = publisher.settings
    ts = utc_now_ms()
    sent = []
    for poller in pollers:
        for d in poller.report(gateway_id, ts):
            topic = (
                contract.meter_diagnostics_topic(s.root, s.site, d.meter)
                if d.meter is not None
                else contract.bus_diagnostics_topic(s.root, s.site, gateway_id, d.bus)
            )
            publisher.publish_latest(topic, diag.encode(d))
            sent.append(d)
    return sent


class MeterInfos:
    """Each meter's retained info message (contract/meterinfo.py): published at start and
    again when the meter's identifier or port changes; an unchanged one is not resent."""

    def __init__(self, publisher: Publisher, gateway_id: str) -> None:
        self._publisher = publisher
        self._gateway_id = gateway_id
        self._sent: dict[str, bytes] = {}

    def publish(self, meter: MeterState, port: str | None) -> bool:
        """Publish ``meter``'s info if it changed; True when it was (re)published."""
        s = self._publisher.settings
        channel = meter.channel
        info = describe.meter_info(
            site=s.site,
            meter=meter.name,
            gateway=self._gateway_id,
            unit=meter.config.unit,
            regmap=meter.regmap,
            channel=channel.name if channel is not None else None,
            identifier=meter.identifier,
            port=port,
        )
        try:
            payload = meterinfo.encode(info)
        except contract.ContractError as exc:
            log.error("meter %s: no info message: %s", meter.name, exc, extra={"meter": meter.name})
            return False
        if self._sent.get(meter.name) == payload:
            return False
        self._sent[meter.name] = payload
        self._publisher.publish_latest(
            contract.meter_info_topic(s.root, s.site, meter.name), payload
        )
        return True

    def identified(self, meter: MeterState) -> None:
        """The poller's hook after a detection read: the identifier and port it found."""
        self.publish(meter, meter.port)

    def start(self, bus: ModbusBus, meters: list[MeterState]) -> None:
        """Every meter of ``bus`` as configured (the port of ``port: auto`` is not known yet)."""
        port = None if getattr(bus, "port", None) == "auto" else bus.where()
        for m in meters:
            self.publish(m, m.port or port)


async def _report_diagnostics(
    pollers: list[BusPoller],
    publisher: Publisher,
    gateway_id: str,
    interval: float,
    stop: asyncio.Event,
) -> None:
    while not stop.is_set():
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=interval)
        if not stop.is_set():
            publish_diagnostics(pollers, publisher, gateway_id)


async def _report_status(
    path: Path,
    pollers: list[BusPoller],
    publisher: Publisher,
    queue: DiskQueue,
    stop: asyncio.Event,
) -> None:
    """Rewrite the status file every 2 s (``emusa-gateway health`` reads it)."""
    while not stop.is_set():
        status = health.snapshot(
            [m for p in pollers for m in p.meters],
            connected=publisher.connected.is_set(),
            queued=len(queue),
            now_monotonic=time.monotonic(),
            refused=publisher.stats.refused,
            buses=pollers,
        )
        try:
            await asyncio.to_thread(health.write, path, status)
        except OSError as exc:
            log.warning("cannot write the status file %s: %s", path, exc)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=STATUS_EVERY)


async def run(
    config: GatewayConfig,
    config_dir: Path,
    stop: asyncio.Event,
    env: Mapping[str, str] | None = None,
    status_file: Path | None = None,
) -> None:
    """Poll every bus concurrently and publish until ``stop`` is set.

    Files not named by the configuration go to the data folder (gateway/paths.py)."""
    env = os.environ if env is None else env
    status_file = status_file if status_file is not None else paths.default_status_file(env)
    per_bus = [(bus, load_meters(bus, config_dir)) for bus in config.buses]
    for bus, meters in per_bus:
        report = budget(bus, meters, config.poll_interval)
        if report.fits:
            log.info("%s", report.describe(), extra={"bus": bus.name, "action": "budget"})
        else:
            log.error(
                "%s: the meters on it cannot all be read every %g s at %s baud; polling as fast"
                " as the line allows (about every %.2f s). Raise poll_interval, the baud rate,"
                " or split the meters over more buses.",
                report.describe(),
                config.poll_interval,
                getattr(bus, "baudrate", "?"),
                report.wire_seconds or 0.0,
                extra={"bus": bus.name, "action": "budget"},
            )
    queue_path = config.queue.path or paths.default_queue_path(env)
    if not queue_path.is_absolute():
        queue_path = config_dir / queue_path
    queue = DiskQueue(queue_path, config.queue.max_messages)
    all_meters = [m for _, meters in per_bus for m in meters]
    publisher = _publisher(config, queue, all_meters, env)
    buses = [open_bus(bus, base_dir=config_dir) for bus, _ in per_bus]
    infos = MeterInfos(publisher, config.gateway_id)
    pollers = [
        BusPoller(
            site=config.site,
            bus=handle,
            meters=meters,
            sink=publisher,
            sequences=queue,
            interval=config.poll_interval,
            on_identified=infos.identified,
        )
        for handle, (_bus, meters) in zip(buses, per_bus, strict=True)
    ]
    for handle, (_bus, meters) in zip(buses, per_bus, strict=True):
        infos.start(handle, meters)
    publisher.start()
    log.info(
        "gateway %s polling %d meters on %d buses every %g s; %d readings waiting in %s",
        config.gateway_id,
        len(all_meters),
        len(buses),
        config.poll_interval,
        len(queue),
        queue_path,
        extra={"action": "start"},
    )
    tasks = [
        *(p.run(stop) for p in pollers),
        _report_status(status_file, pollers, publisher, queue, stop),
    ]
    if config.diagnostics.enabled:
        tasks.append(
            _report_diagnostics(
                pollers, publisher, config.gateway_id, config.diagnostics.interval, stop
            )
        )
    try:
        await asyncio.gather(*tasks)
    finally:
        for handle in buses:
            await handle.close()
        flushed = await asyncio.to_thread(publisher.stop, 10.0)
        if not flushed:
            log.warning("%d readings stay queued in %s for the next start", len(queue), queue_path)
        queue.close()
