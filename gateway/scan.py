"""Find the serial port where a meter answers (the seed app's automatic COM-port detection).

Candidates default to every port pyserial lists (``serial.tools.list_ports``). Each one is
probed with one real read of the first planned block of the meter's map; a port answers
when the read succeeds and at least one value decodes to a plausible number. Ports are
probed one after the other (opening many USB adapters at once upsets some drivers).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from gateway.config import MeterConfig, RtuBusConfig
from gateway.errors import MeterError
from gateway.meter import decode_block
from gateway.planner import plan
from gateway.registers import RegisterMap


@dataclass(frozen=True)
class SerialSettings:
    baudrate: int = 9600
    parity: Literal["N", "E", "O"] = "N"
    stopbits: Literal[1, 2] = 2
    bytesize: Literal[7, 8] = 8
    timeout: float = 0.5

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


def candidate_ports() -> list[tuple[str, str]]:
    """(device, description) of every serial port the OS reports."""
    from serial.tools import list_ports  # noqa: PLC0415 - only needed when scanning

    return [(p.device, p.description or "") for p in sorted(list_ports.comports())]


async def probe(
    port: str,
    settings: SerialSettings,
    unit: int,
    regmap: RegisterMap,
    description: str = "",
) -> ProbeResult:
    """One read of the map's first block on ``port``; never raises for a silent port."""
    from gateway.transport import RtuBus  # noqa: PLC0415 - transport imports scan lazily

    config = RtuBusConfig(
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
    bus = RtuBus(config)
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
    return ProbeResult(port, description, True, f"answered ({shown})", values)


async def scan_ports(
    settings: SerialSettings,
    unit: int,
    regmap: RegisterMap,
    candidates: list[str] | None = None,
) -> list[ProbeResult]:
    """Probe every candidate port; one result per port, in order."""
    listed = candidate_ports() if candidates is None else [(c, "") for c in candidates]
    return [await probe(port, settings, unit, regmap, desc) for port, desc in listed]


async def find_port(
    settings: SerialSettings,
    unit: int,
    regmap: RegisterMap,
    candidates: list[str] | None = None,
) -> str:
    """The first candidate port where the meter answers; MeterError listing what was tried."""
    results = await scan_ports(settings, unit, regmap, candidates)
    for r in results:
        if r.answered:
            return r.port
    tried = "; ".join(f"{r.port}: {r.detail}" for r in results) or "no serial port found"
    raise MeterError(
        f"port auto: no port answered as unit {unit} ({regmap.model}, {settings}): {tried}"
    )


__all__ = ["ProbeResult", "SerialSettings", "candidate_ports", "find_port", "probe", "scan_ports"]
