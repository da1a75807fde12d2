"""Find the serial port where a meter answers (the seed app's automatic COM-port detection).

Candidates default to every port pyserial lists (``serial.tools.list_ports``). Each one is
probed with one real read of the first planned block of the meter's map; a port answers
when the read succeeds and at least one value decodes to a plausible number. Ports are
probed one after the other (opening many USB adapters at once upsets some drivers).

With the plant's register file (channels with string detection), a port is probed as the
old app did: each channel's slave id is asked for its identifier text, and a channel is
found when the text starts with its ``expected_prefix``; the result names the port, the
slave id, the channel and the identifier read.

``PortSearch`` is the port finder an RTU bus with ``port: auto`` is given when it is built
(gateway.buses): the transport asks it, and never imports this module.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal

from gateway.config import MeterConfig, RtuBusConfig
from gateway.errors import GatewayError, MeterError
from gateway.mapmodel import Channel, RegisterMap
from gateway.meter import decode_block, identify
from gateway.planner import plan
from gateway.registers import map_for
from gateway.transport import RtuBus


@dataclass(frozen=True)
class SerialSettings:
    baudrate: int = 9600
    parity: Literal["N", "E", "O"] = "N"
    stopbits: Literal[1, 2] = 2
    bytesize: Literal[7, 8] = 8
    timeout: float = 0.5

    @classmethod
    def for_map(
        cls, regmap: RegisterMap, timeout: float | None = None, **given: object
    ) -> SerialSettings:
        """The line of the map's ``settings`` (plant file), overridden by ``given`` values
        that are not None; else the defaults (9600 8N2)."""
        base = (
            cls()
            if regmap.serial is None
            else cls(
                regmap.serial.baudrate,
                regmap.serial.parity,  # type: ignore[arg-type]
                regmap.serial.stopbits,  # type: ignore[arg-type]
                regmap.serial.bytesize,  # type: ignore[arg-type]
                regmap.serial.timeout,
            )
        )
        changes = {k: v for k, v in given.items() if v is not None}
        if timeout is not None:
            changes["timeout"] = timeout
        return replace(base, **changes)  # type: ignore[arg-type]

    @classmethod
    def from_config(cls, config: RtuBusConfig) -> SerialSettings:
        return cls(config.baudrate, config.parity, config.stopbits, config.bytesize, config.timeout)

    def __str__(self) -> str:
        return f"{self.baudrate} {self.bytesize}{self.parity}{self.stopbits}"


@dataclass(frozen=True)
class ProbeResult:
    port: str
    description: str
    answered: bool
    detail: str
    values: dict[str, float] = field(default_factory=dict)
    unit: int | None = None
    channel: str | None = None  # the plant file's channel probed
    identifier: str | None = None  # what it answered


def candidate_ports() -> list[tuple[str, str]]:
    """(device, description) of every serial port the OS reports."""
    from serial.tools import list_ports  # noqa: PLC0415 - only needed when scanning

    return [(p.device, p.description or "") for p in sorted(list_ports.comports())]


def _probe_bus(port: str, settings: SerialSettings, unit: int, regmap: RegisterMap) -> RtuBus:
    return RtuBus(_probe_config(port, settings, unit, regmap))


def _probe_config(
    port: str, settings: SerialSettings, unit: int, regmap: RegisterMap
) -> RtuBusConfig:
    return RtuBusConfig(
        type="rtu",
        name="probe",
        port=port,
        baudrate=settings.baudrate,
        parity=settings.parity,
        stopbits=settings.stopbits,
        bytesize=settings.bytesize,
        timeout=settings.timeout,
        retries=0,
        meters=[MeterConfig(name="probe", model=regmap.model, unit=unit)],
    )


async def probe(
    port: str,
    settings: SerialSettings,
    unit: int,
    regmap: RegisterMap,
    description: str = "",
) -> ProbeResult:
    """One read of the map's first block on ``port``; never raises for a silent port."""
    bus = _probe_bus(port, settings, unit, regmap)
    block = plan(regmap)[0]
    try:
        words = await bus.read(unit, block.function, block.address, block.count)
    except MeterError as exc:
        return ProbeResult(port, description, False, f"silent: {exc}")
    finally:
        await bus.close()
    values: dict[str, float] = {}
    dropped: dict[str, str] = {}
    decode_block(block, words, values, dropped)
    if not values:
        return ProbeResult(port, description, False, f"answered, but nothing plausible: {dropped}")
    shown = ", ".join(f"{k}={v:.6g}" for k, v in list(values.items())[:3])
    return ProbeResult(port, description, True, f"answered ({shown})", values, unit)


def channels_to_probe(regmap: RegisterMap, units: list[int] | None = None) -> list[Channel]:
    """The plant file's channels (those at ``units`` when given); without channels, one per
    ``scan_slave_ids`` entry, detected like the first channel would be."""
    channels = list(regmap.channels)
    if not channels and regmap.serial is not None:
        channels = [Channel(f"slave {u}", u, None) for u in regmap.serial.scan_units]
    if units:
        known = {c.unit for c in channels}
        channels = [c for c in channels if c.unit in units]
        channels += [
            Channel(f"slave {u}", u, _first_detection(regmap)) for u in units if u not in known
        ]
    return channels


def _first_detection(regmap: RegisterMap) -> Any:
    return next((c.detection for c in regmap.channels if c.detection is not None), None)


async def detect(
    port: str,
    settings: SerialSettings,
    regmap: RegisterMap,
    channel: Channel,
    description: str = "",
) -> ProbeResult:
    """The channel's detection read on ``port`` (or, without one, a read of the first
    block); never raises for a silent port or channel."""
    if channel.detection is None:
        result = await probe(port, settings, channel.unit, regmap, description)
        return replace(result, channel=channel.name)
    bus = _probe_bus(port, settings, channel.unit, regmap)
    try:
        identifier = await identify(bus, channel.unit, channel)
    except MeterError as exc:
        return ProbeResult(
            port, description, False, str(exc), unit=channel.unit, channel=channel.name
        )
    finally:
        await bus.close()
    return ProbeResult(
        port, description, True, f"identifier {identifier!r}", unit=channel.unit,
        channel=channel.name, identifier=identifier,
    )  # fmt: skip


async def scan_ports(
    settings: SerialSettings,
    unit: int | None,
    regmap: RegisterMap,
    candidates: list[str] | None = None,
) -> list[ProbeResult]:
    """Probe every candidate port: one result per port, or, for the plant's register file,
    one per port and channel (``unit`` restricts to one slave id), in order."""
    listed = candidate_ports() if candidates is None else [(c, "") for c in candidates]
    channels = channels_to_probe(regmap, None if unit is None else [unit])
    if channels:
        return [
            await detect(port, settings, regmap, channel, desc)
            for port, desc in listed
            for channel in channels
        ]
    u = 1 if unit is None else unit
    return [await probe(port, settings, u, regmap, desc) for port, desc in listed]


async def find_port(
    settings: SerialSettings,
    unit: int | None,
    regmap: RegisterMap,
    candidates: list[str] | None = None,
) -> str:
    """The first candidate port where the meter (or a channel of the plant's file) answers;
    MeterError listing what was tried."""
    results = await scan_ports(settings, unit, regmap, candidates)
    for r in results:
        if r.answered:
            return r.port
    tried = (
        "; ".join(
            f"{r.port}{f' slave {r.unit}' if r.unit is not None else ''}: {r.detail}"
            for r in results
        )
        or "no serial port found"
    )
    who = f"unit {unit}" if unit is not None else "any channel"
    raise MeterError(f"port auto: no port answered as {who} ({regmap.model}, {settings}): {tried}")


@dataclass(frozen=True)
class PortSearch:
    """The port finder of an RTU bus with ``port: auto`` (gateway.transport.PortFinder):
    the first of ``candidates`` (default: every port pyserial lists) where the bus's first
    enabled meter answers, or, with the plant's register file, any of its channels answers
    its detection. ``base_dir``: where a meter's ``map_file`` is relative to."""

    candidates: list[str] | None = None
    base_dir: Path = field(default_factory=Path)

    async def __call__(self, config: RtuBusConfig) -> str:
        meter = next((m for m in config.meters if m.enabled), config.meters[0])
        try:
            regmap = map_for(meter, self.base_dir)
        except GatewayError as exc:
            raise MeterError(f"bus {config.name}: port auto: {exc}") from exc
        return await find_port(
            SerialSettings.from_config(config),
            # the plant's file: the port where any of its channels answers its detection
            unit=None if regmap.channels else meter.unit,
            regmap=regmap,
            candidates=self.candidates,
        )


__all__ = [
    "PortSearch",
    "ProbeResult",
    "SerialSettings",
    "candidate_ports",
    "channels_to_probe",
    "detect",
    "find_port",
    "probe",
    "scan_ports",
]
