"""The poll loop of one bus: every meter on it, in turn, once per poll interval.

A meter that fails (timeout, Modbus exception, garbage) turns `unreachable` at once, is
logged loudly once, then retried with exponential backoff (interval x 2^n, capped) so a
dead meter costs the bus one timeout per backoff period instead of one per cycle, and
turns `online` again at its first good read, without a restart. Values the meter gives
that are NaN, infinite, the map's "no value" sentinel or physically impossible are
dropped per quantity and counted, never published.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Protocol

from gateway import contract
from gateway.config import MeterConfig
from gateway.errors import MeterError
from gateway.meter import read_meter
from gateway.planner import Block
from gateway.registers import RegisterMap
from gateway.transport import Bus

log = logging.getLogger(__name__)

BACKOFF_MAX = 60.0


class ReadingSink(Protocol):
    """Where readings and statuses go (the MQTT publisher)."""

    def submit(self, reading: contract.Reading) -> None: ...

    def set_meter_status(self, meter: str, status: str) -> None: ...


class SequenceSource(Protocol):
    def next_seq(self, meter: str) -> int: ...


@dataclass
class MeterState:
    config: MeterConfig
    regmap: RegisterMap
    blocks: list[Block]
    reads: int = 0
    failures: int = 0  # consecutive
    failed_reads: int = 0  # total
    next_try: float = 0.0
    last_error: str = ""
    last_good: float | None = None
    dropped: Counter[str] = field(default_factory=Counter)

    @property
    def name(self) -> str:
        return self.config.name


def _utc_now_ms() -> datetime:
    now = datetime.now(UTC)
    return now.replace(microsecond=now.microsecond // 1000 * 1000)


class BusPoller:
    def __init__(
        self,
        *,
        site: str,
        bus: Bus,
        meters: list[MeterState],
        sink: ReadingSink,
        sequences: SequenceSource,
        interval: float,
        backoff_max: float = BACKOFF_MAX,
        wall_clock: Callable[[], datetime] = _utc_now_ms,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.site = site
        self.bus = bus
        self.meters = meters
        self.sink = sink
        self.sequences = sequences
        self.interval = interval
        self.backoff_max = backoff_max
        self.wall_clock = wall_clock
        self.monotonic = monotonic
        self.cycles = 0
        self.overruns = 0

    async def run(self, stop: asyncio.Event) -> None:
        """Poll until ``stop`` is set; cycles start every ``interval`` seconds."""
        next_cycle = self.monotonic()
        while not stop.is_set():
            await self.poll_once()
            next_cycle += self.interval
            delay = next_cycle - self.monotonic()
            if delay < 0:
                self.overruns += 1
                if self.overruns in {1, 10, 100} or self.overruns % 1000 == 0:
                    log.warning(
                        "bus %s: a poll cycle took longer than the %.3f s interval (%d times);"
                        " polling as fast as the bus allows",
                        self.bus.name,
                        self.interval,
                        self.overruns,
                        extra={"bus": self.bus.name, "action": "overrun"},
                    )
                next_cycle = self.monotonic()
                delay = 0.0
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=delay)

    async def poll_once(self) -> None:
        """One cycle: read each meter that is due, publish what was read."""
        self.cycles += 1
        for meter in self.meters:
            if meter.config.enabled and self.monotonic() >= meter.next_try:
                await self._poll_meter(meter)

    async def _poll_meter(self, meter: MeterState) -> None:
        ts = self.wall_clock()
        try:
            result = await read_meter(self.bus, meter.config.unit, meter.regmap, meter.blocks)
        except MeterError as exc:
            self._failed(meter, exc)
            return
        if meter.failures:
            log.info(
                "meter %s answers again after %d failed reads",
                meter.name,
                meter.failures,
                extra={"meter": meter.name, "action": "recovered"},
            )
        meter.failures = 0
        meter.next_try = 0.0
        meter.reads += 1
        meter.last_good = self.monotonic()
        for name, reason in result.dropped.items():
            if meter.dropped[name] == 0:
                log.warning(
                    "meter %s: dropped %s (%s)",
                    meter.name,
                    name,
                    reason,
                    extra={"meter": meter.name, "quantity": name, "action": "drop"},
                )
            meter.dropped[name] += 1
        self.sink.set_meter_status(meter.name, contract.STATUS_ONLINE)
        if not result.values:
            return
        reading = contract.Reading(
            site=self.site,
            meter=meter.name,
            ts=ts,
            seq=self.sequences.next_seq(meter.name),
            values=result.values,
        )
        self.sink.submit(reading)

    def _failed(self, meter: MeterState, exc: MeterError) -> None:
        meter.failures += 1
        meter.failed_reads += 1
        meter.last_error = str(exc)
        backoff = min(self.interval * 2 ** (meter.failures - 1), self.backoff_max)
        meter.next_try = self.monotonic() + backoff
        if meter.failures == 1:
            log.error(
                "meter %s unreachable: %s (retrying with backoff up to %.0f s)",
                meter.name,
                exc,
                self.backoff_max,
                extra={"meter": meter.name, "action": "unreachable"},
            )
        else:
            log.debug(
                "meter %s still unreachable: %s", meter.name, exc, extra={"meter": meter.name}
            )
        self.sink.set_meter_status(meter.name, contract.STATUS_UNREACHABLE)
