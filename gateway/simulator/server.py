"""A real Modbus server (pymodbus) serving register maps from the plant model.

Each ``SimulatedMeter`` is one unit id with a register map and a ``PlantModel``. On every
read the server evaluates the model at ``clock()`` and encodes the values exactly as the
map says (type, order, scale), so the gateway decodes them with the same rules it uses on
a real meter. Registers between mapped ones read 0; reads outside the map's range get
Modbus exception 2 (illegal data address), like a real meter; writes are refused.

A silent meter (``meter.silent = True`` or a ``silent`` event) does not answer at all, and
neither does a unit id nobody simulates: on RS-485 that is what a missing meter does.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import struct
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pymodbus.exceptions import NoSuchIdException
from pymodbus.framer import FramerType
from pymodbus.server import ModbusSerialServer, ModbusTcpServer
from pymodbus.simulator import DataType, SimData, SimDevice

from gateway.decode import encode, encode_string
from gateway.mapmodel import RegisterMap, TextRegister
from gateway.simulator.model import PlantModel

log = logging.getLogger(__name__)

Image = dict[int, dict[int, int]]  # function -> address -> word


def text_fields(regmap: RegisterMap, unit: int) -> list[TextRegister]:
    """The identifier field a channel of the plant's file is detected by (its own, else the
    first channel's)."""
    mine = [c for c in regmap.channels if c.unit == unit] or list(regmap.channels[:1])
    return [c.detection.field for c in mine if c.detection is not None]


def default_identifier(regmap: RegisterMap, unit: int) -> str | None:
    """What a simulated channel answers to its detection read: ``CH30-001`` for unit 1."""
    mine = [c for c in regmap.channels if c.unit == unit] or list(regmap.channels[:1])
    for c in mine:
        if c.detection is not None:
            text = f"{c.detection.expected_prefix}-{unit:03d}"
            return text[: 2 * c.detection.field.count]
    return None


def register_image(
    regmap: RegisterMap, values: dict[str, float], identifier: str | None = None, unit: int = 1
) -> Image:
    """The words a meter with ``regmap`` shows for canonical ``values`` (and, on a channel of
    the plant's file, its ``identifier`` text)."""
    image: Image = {3: {}, 4: {}}
    if identifier is not None:
        for f in text_fields(regmap, unit):
            words = encode_string(identifier[: 2 * f.count], f.count, swap_bytes=f.swap_bytes)
            for i, w in enumerate(words):
                image[f.function][f.address + i] = w
    for reg in regmap.registers:
        if reg.name not in values:
            continue
        try:
            words = encode(reg.to_raw(values[reg.name]), reg.type, reg.order)
        except (struct.error, ValueError, OverflowError):
            continue  # the value does not fit the register type: leave zeros
        for i, w in enumerate(words):
            image[reg.function][reg.address + i] = w
    return image


@dataclass
class SimulatedMeter:
    unit: int
    regmap: RegisterMap
    model: PlantModel
    silent: bool = False
    identifier: str | None = None  # default: the plant file's prefix and the unit, CH30-001

    def __post_init__(self) -> None:
        if self.identifier is None:
            self.identifier = default_identifier(self.regmap, self.unit)

    def is_silent(self, t: float) -> bool:
        return self.silent or self.model.active("silent", t)


def _span(regmap: RegisterMap, unit: int, function: int) -> int:
    ends = [r.end for r in regmap.registers if r.function == function]
    ends += [f.address + f.count for f in text_fields(regmap, unit) if f.function == function]
    return max(ends, default=0)


class MeterSimulator:
    """Serve ``meters`` over TCP and/or serial until ``stop()``; several units per server."""

    def __init__(
        self, meters: list[SimulatedMeter], clock: Callable[[], float] = time.time
    ) -> None:
        if not meters:
            raise ValueError("no meter to simulate")
        units = [m.unit for m in meters]
        if len(set(units)) != len(units) or not all(1 <= u <= 247 for u in units):
            raise ValueError(f"unit ids must be unique and 1..247: {units}")
        self.meters = {m.unit: m for m in meters}
        self.clock = clock
        self.served = 0  # answered requests
        self._servers: list[Any] = []

    # --- datastore ---------------------------------------------------------------------
    def _device(self, meter: SimulatedMeter) -> SimDevice:
        def block(function: int) -> list[SimData]:
            n = _span(meter.regmap, meter.unit, function)
            if n == 0:
                return [SimData(0, count=1, values=0, datatype=DataType.REGISTERS, readonly=True)]
            return [SimData(0, count=n, values=0, datatype=DataType.REGISTERS, readonly=True)]

        async def action(  # noqa: PLR0917 - pymodbus' SimAction signature
            function_code: int,
            start_address: int,
            address: int,
            count: int,
            registers: list[int],
            set_values: list[int] | list[bool] | None,
        ) -> None:
            t = self.clock()
            if meter.is_silent(t):
                raise NoSuchIdException(f"unit {meter.unit} is silent")
            if function_code in (3, 4) and set_values is None:
                values = meter.model.values(t)
                image = register_image(meter.regmap, values, meter.identifier, meter.unit)
                image_fc = image[function_code]
                for i in range(count):
                    registers[address - start_address + i] = image_fc.get(address + i, 0)
                self.served += 1

        bits = [SimData(0, count=1, values=False, datatype=DataType.BITS)]
        return SimDevice(
            meter.unit,
            simdata=(list(bits), list(bits), block(3), block(4)),
            action=action,
        )

    def _devices(self) -> list[SimDevice]:
        async def nobody(*_args: Any) -> None:
            raise NoSuchIdException("no meter with this unit id")

        bits = [SimData(0, count=1, values=False, datatype=DataType.BITS)]
        # the whole address space, so the action (not the range check) decides: silence
        regs = [SimData(0, count=65535, values=0, datatype=DataType.REGISTERS)]
        catch_all = SimDevice(
            0, simdata=(list(bits), list(bits), list(regs), list(regs)), action=nobody
        )
        return [catch_all, *(self._device(m) for m in self.meters.values())]

    # --- servers -----------------------------------------------------------------------
    async def start_tcp(self, host: str = "127.0.0.1", port: int = 0) -> tuple[str, int]:
        """Listen on host:port (0 = a free port); returns the address actually bound."""
        server = ModbusTcpServer(self._devices(), address=(host, port), ignore_missing_devices=True)
        await server.serve_forever(background=True)
        self._servers.append(server)
        listener: Any = server.transport  # an asyncio.Server
        sock = listener.sockets[0]
        bound: tuple[str, int] = sock.getsockname()[:2]
        log.info("simulator listening on tcp %s:%d", *bound)
        return bound

    async def start_serial(
        self,
        port: str,
        baudrate: int = 9600,
        parity: str = "N",
        stopbits: int = 2,
        bytesize: int = 8,
    ) -> None:
        """Answer Modbus RTU on serial ``port`` (a real port or one side of a PtyPair)."""
        server = ModbusSerialServer(
            self._devices(),
            framer=FramerType.RTU,
            port=port,
            baudrate=baudrate,
            parity=parity,
            stopbits=stopbits,
            bytesize=bytesize,
            ignore_missing_devices=True,
        )
        await server.serve_forever(background=True)
        self._servers.append(server)
        log.info("simulator listening on serial %s", port)

    async def stop(self) -> None:
        servers, self._servers = self._servers, []
        for server in servers:
            with contextlib.suppress(Exception):
                await server.shutdown()
        await asyncio.sleep(0)  # let the transports finish closing

    async def __aenter__(self) -> MeterSimulator:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()
