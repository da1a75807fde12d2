"""Helpers for gateway tests against the simulator (a real pymodbus server) over TCP and ptys.

The serial tests use ``gateway.simulator.ptypair.PtyPair``: two pseudo-terminal pairs whose
master sides a thread relays to each other (what ``socat pty,raw,echo=0 pty,raw,echo=0``
does, without needing socat). The simulator's RTU server opens one slave, the gateway the
other, through pyserial, exactly as with a USB RS-485 adapter.
"""

from __future__ import annotations

import asyncio
import math
import struct
from collections.abc import Coroutine, Mapping
from typing import Any, TypeVar

import contract
from gateway.config import MeterConfig, RtuBusConfig, TcpBusConfig
from gateway.mapmodel import RegisterMap

T = TypeVar("T")

# A fixed instant (Wednesday 2026-11-25 10:00 in São Paulo) used as the simulator's clock,
# so what the gateway reads can be compared exactly with the in-process model.
T0 = 1764075600.0
BOUND = 30.0  # seconds: upper bound of any test scenario (a hang fails, never waits forever)


def run(coro: Coroutine[Any, Any, T], bound: float = BOUND) -> T:
    async def bounded() -> T:
        return await asyncio.wait_for(coro, bound)

    return asyncio.run(bounded())


def tcp_config(port: int, units: list[int], timeout: float = 0.5, retries: int = 0) -> TcpBusConfig:
    return TcpBusConfig(
        type="tcp",
        name="tcpbus",
        host="127.0.0.1",
        port=port,
        timeout=timeout,
        retries=retries,
        meters=[MeterConfig(name=f"m{u}", model="kron_konect", unit=u) for u in units],
    )


def rtu_config(
    port: str, units: list[int], timeout: float = 0.5, retries: int = 0, model: str = "kron_konect"
) -> RtuBusConfig:
    return RtuBusConfig(
        type="rtu",
        name="rtubus",
        port=port,
        timeout=timeout,
        retries=retries,
        inter_frame_delay=0.005,
        meters=[MeterConfig(name=f"m{u}", model=model, unit=u) for u in units],
    )


def _quantize(value: float, type_name: str) -> float:
    """What survives the trip through a register of ``type_name`` (independent of decode)."""
    if type_name == "F32":
        result: float = struct.unpack(">f", struct.pack(">f", value))[0]
        return result
    if type_name == "F64":
        return value
    return float(round(value))


def expected_reading(regmap: RegisterMap, values: dict[str, float]) -> dict[str, float]:
    """The canonical values a gateway must read from a meter showing the model's ``values``."""
    out = {}
    for reg in regmap.registers:
        v = reg.to_canonical(_quantize(reg.to_raw(values[reg.name]), reg.type))
        if math.isfinite(v):
            out[reg.name] = v
    return out


class Sink:
    """What the publisher would get: readings and the latest status (and info) per meter."""

    def __init__(self) -> None:
        self.readings: list[contract.Reading] = []
        self.status: dict[str, str] = {}
        self.info: dict[str, dict[str, str]] = {}

    def submit(self, reading: contract.Reading) -> None:
        self.readings.append(reading)

    def set_meter_status(
        self, meter: str, status: str, info: Mapping[str, str] | None = None
    ) -> None:
        self.status[meter] = status
        if info is not None:
            self.info[meter] = dict(info)


class Seq:
    """Sequence numbers 1, 2, 3... (the disk queue's, without the disk)."""

    def __init__(self) -> None:
        self.n = 0

    def next_seq(self, meter: str) -> int:
        self.n += 1
        return self.n
