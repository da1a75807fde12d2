"""Buses: Modbus TCP and Modbus RTU over a serial line, on pymodbus' asyncio clients.

One ``asyncio.Lock`` per bus, so at most one request is in flight on a serial line (and
on a TCP connection, which meters and gateways rarely pipeline correctly). Between two
frames the bus keeps ``inter_frame_delay`` seconds of silence. A request is attempted
``1 + retries`` times, each bounded by ``timeout``; pymodbus' own retries and background
reconnects are switched off so these numbers mean what the configuration says. A dropped
connection is reopened on the next request (lazy connect, no restart needed).

Failures become ``MeterTimeout`` (no answer, cannot connect) or ``MeterError`` (Modbus
exception response, wrong length), both naming bus, unit, function and address; the
pymodbus exception is chained.

Every attempt is also classified once, here, as a ``contract.diagnostics.Attempt`` handed
to ``observer`` (the poller counts them). pymodbus 3 drops a frame whose CRC is wrong
without telling (the RTU framer logs "Frame CRC check failed" at debug level and waits
on), so such a request ends in a timeout: a timeout during which bytes did arrive (seen
through pymodbus' ``trace_packet`` hook) is a CRC/framing error, one without a byte a
timeout.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any, Protocol

from pymodbus.client import AsyncModbusSerialClient, AsyncModbusTcpClient
from pymodbus.exceptions import ConnectionException, ModbusException, ModbusIOException

from contract.diagnostics import Attempt, Outcome
from gateway.config import RtuBusConfig, TcpBusConfig
from gateway.errors import MeterError, MeterTimeout

log = logging.getLogger(__name__)

EXCEPTION_NAMES = {
    1: "illegal function",
    2: "illegal data address",
    3: "illegal data value",
    4: "device failure",
    5: "acknowledge",
    6: "device busy",
    10: "gateway path unavailable",
    11: "gateway target failed to respond",
}


Observer = Callable[[Attempt], None]

PortFinder = Callable[[RtuBusConfig], Awaitable[str]]
"""Finds the serial port of an RTU bus configured with ``port: auto`` (the bus is given
one when it is built, gateway.buses); ``MeterError`` when no port answers."""


class Bus(Protocol):
    name: str
    observer: Observer | None

    async def read(self, unit: int, function: int, address: int, count: int) -> list[int]: ...

    async def close(self) -> None: ...


class ModbusBus:
    """Common part of the TCP and RTU buses: lock, pacing, retries, reconnect."""

    def __init__(self, name: str, timeout: float, retries: int, inter_frame_delay: float) -> None:
        self.name = name
        self.timeout = timeout
        self.retries = retries
        self.inter_frame_delay = inter_frame_delay
        self.requests = 0  # frames sent, for statistics
        self.observer: Observer | None = None  # told the outcome of every attempt
        self._rx_bytes = 0  # bytes received since the current frame was sent
        self._client: Any = None
        self._lock = asyncio.Lock()
        self._last_frame = 0.0

    # subclasses -------------------------------------------------------------------------
    def _new_client(self) -> Any:
        raise NotImplementedError

    def where(self) -> str:
        raise NotImplementedError

    async def _prepare(self) -> None:
        """Hook run before connecting (RTU resolves ``port: auto`` here)."""

    # ------------------------------------------------------------------------------------
    async def _connect(self) -> None:
        await self._prepare()
        client = self._new_client()
        try:
            ok = await asyncio.wait_for(client.connect(), self.timeout + 1.0)
        except (OSError, TimeoutError, ModbusException) as exc:
            client.close()
            raise MeterTimeout(f"bus {self.name}: cannot connect to {self.where()}: {exc}") from exc
        if not ok:
            client.close()
            raise MeterTimeout(f"bus {self.name}: cannot connect to {self.where()}")
        self._client = client

    def _drop(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None

    async def _pace(self) -> None:
        wait = self._last_frame + self.inter_frame_delay - time.monotonic()
        if wait > 0:
            await asyncio.sleep(wait)

    def _trace(self, sending: bool, data: bytes) -> bytes:
        """pymodbus' trace_packet hook: counts the bytes that came back for this frame."""
        if not sending:
            self._rx_bytes += len(data)
        return data

    def _observe(self, attempt: Attempt) -> None:
        if self.observer is not None:
            self.observer(attempt)

    def _label(self, unit: int, function: int, address: int, count: int) -> str:
        return f"bus {self.name} ({self.where()}) unit {unit} FC{function:02d} address {address} count {count}"

    async def _once(
        self, unit: int, function: int, address: int, count: int, retry: bool
    ) -> list[int]:
        label = self._label(unit, function, address, count)
        started = time.monotonic()

        def fail(outcome: Outcome, error: MeterError, code: int | None = None) -> MeterError:
            self._observe(Attempt(unit, outcome, time.monotonic() - started, retry, code))
            return error

        if self._client is None or not self._client.connected:
            self._drop()
            try:
                await self._connect()
            except MeterTimeout as exc:
                raise fail(Outcome.CONNECT, exc) from exc.__cause__
        await self._pace()
        call = (
            self._client.read_input_registers
            if function == 4
            else self._client.read_holding_registers
        )
        self.requests += 1
        self._rx_bytes = 0
        started = time.monotonic()
        try:
            rr = await asyncio.wait_for(
                call(address, count=count, device_id=unit), self.timeout + 0.5
            )
        except (ModbusIOException, TimeoutError) as exc:
            if self._rx_bytes:
                raise fail(
                    Outcome.CRC,
                    MeterTimeout(
                        f"{label}: no valid answer within {self.timeout:g} s"
                        f" ({self._rx_bytes} bytes with a bad CRC or framing)"
                    ),
                ) from exc
            raise fail(
                Outcome.TIMEOUT, MeterTimeout(f"{label}: no answer within {self.timeout:g} s")
            ) from exc
        except (ConnectionException, OSError) as exc:
            self._drop()
            raise fail(Outcome.CONNECT, MeterTimeout(f"{label}: connection lost: {exc}")) from exc
        except ModbusException as exc:
            raise fail(Outcome.INVALID, MeterError(f"{label}: {exc}")) from exc
        finally:
            self._last_frame = time.monotonic()
        if rr.isError():
            code = getattr(rr, "exception_code", 0)
            raise fail(
                Outcome.EXCEPTION,
                MeterError(
                    f"{label}: Modbus exception {code} ({EXCEPTION_NAMES.get(code, 'unknown')})"
                ),
                code,
            )
        registers = list(rr.registers)
        if len(registers) != count:
            raise fail(Outcome.INVALID, MeterError(f"{label}: answered {len(registers)} registers"))
        self._observe(Attempt(unit, Outcome.OK, time.monotonic() - started, retry))
        return registers

    async def read(self, unit: int, function: int, address: int, count: int) -> list[int]:
        """``count`` registers from ``address``; MeterTimeout/MeterError naming bus and unit."""
        if function not in (3, 4):
            raise ValueError(f"function {function} is not a register read (3 or 4)")
        if not 1 <= count <= 125:
            raise ValueError(f"count {count} outside 1..125")
        async with self._lock:
            error: MeterError | None = None
            for attempt in range(self.retries + 1):
                try:
                    return await self._once(unit, function, address, count, attempt > 0)
                except MeterTimeout as exc:
                    error = exc
                    log.debug(
                        "%s (attempt %d)",
                        exc,
                        attempt + 1,
                        extra={"bus": self.name, "action": "read"},
                    )
            assert error is not None
            raise error

    async def close(self) -> None:
        async with self._lock:
            self._drop()


class TcpBus(ModbusBus):
    def __init__(self, config: TcpBusConfig) -> None:
        super().__init__(config.name, config.timeout, config.retries, config.inter_frame_delay)
        self.host = config.host
        self.port = config.port

    def where(self) -> str:
        return f"{self.host}:{self.port}"

    def _new_client(self) -> Any:
        return AsyncModbusTcpClient(
            self.host,
            port=self.port,
            name=f"emusa-{self.name}",
            reconnect_delay=0,
            reconnect_delay_max=0,
            timeout=self.timeout,
            retries=0,
            trace_packet=self._trace,
        )


class RtuBus(ModbusBus):
    """Modbus RTU on a serial line; ``port: auto`` asks ``find_port`` at first connect
    (and again after a failed connect: the adapter may come back under another name)."""

    def __init__(self, config: RtuBusConfig, find_port: PortFinder | None = None) -> None:
        super().__init__(config.name, config.timeout, config.retries, config.inter_frame_delay)
        if config.port == "auto" and find_port is None:
            raise ValueError(f"bus {config.name}: port auto needs a port finder")
        self.config = config
        self.port = config.port
        self._find_port = find_port

    def where(self) -> str:
        c = self.config
        return f"{self.port} {c.baudrate} {c.bytesize}{c.parity}{c.stopbits}"

    async def _prepare(self) -> None:
        if self.port != "auto":
            return
        assert self._find_port is not None  # __init__ refuses port auto without one
        self.port = await self._find_port(self.config)
        log.info(
            "bus %s: port auto -> %s",
            self.name,
            self.port,
            extra={"bus": self.name, "action": "scan"},
        )

    async def _connect(self) -> None:
        try:
            await super()._connect()
        except MeterTimeout:
            if self.config.port == "auto":
                self.port = "auto"  # the adapter may come back under another name
            raise

    def _new_client(self) -> Any:
        c = self.config
        return AsyncModbusSerialClient(
            self.port,
            name=f"emusa-{self.name}",
            baudrate=c.baudrate,
            bytesize=c.bytesize,
            parity=c.parity,
            stopbits=c.stopbits,
            reconnect_delay=0,
            reconnect_delay_max=0,
            timeout=self.timeout,
            retries=0,
            trace_packet=self._trace,
        )
