"""The poll loop of one bus: every meter on it, in turn, once per poll interval.

A meter that fails (timeout, Modbus exception, garbage) turns `unreachable` at once, is
logged loudly once, then retried with exponential backoff (interval x 2^n, capped) so a
dead meter costs the bus one timeout per backoff period instead of one per cycle, and
turns `online` again at its first good read, without a restart. Values the meter gives
that are NaN, infinite, the map's "no value" sentinel or physically impossible are
dropped per quantity and counted, never published.

Diagnostics: the bus tells the poller the outcome of every request attempt (classified in
gateway.transport); the poller counts them per meter and for the bus (contract.diagnostics)
and, on ``report``, turns the period's counters into diagnostics messages.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Protocol

import contract
from contract.diagnostics import Attempt, Diagnostics, LinkStats
from gateway.config import MeterConfig
from gateway.errors import MeterError
from gateway.mapmodel import Channel, RegisterMap
from gateway.meter import channel_of, identify, read_meter
from gateway.planner import Block
from gateway.transport import Bus

log = logging.getLogger(__name__)

BACKOFF_MAX = 60.0


class ReadingSink(Protocol):
    """Where readings and statuses go (the MQTT publisher)."""

    def submit(self, reading: contract.Reading) -> None: ...

    def set_meter_status(
        self, meter: str, status: str, info: Mapping[str, str] | None = None
    ) -> None: ...


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
    backoff: float = 0.0  # seconds of the current backoff; 0 while the meter answers
    dropped: Counter[str] = field(default_factory=Counter)
    link: LinkStats = field(default_factory=LinkStats)
    identifier: str | None = None  # what the channel's detection read answered
    port: str | None = None  # where the meter answered (serial port and line, or host:port)

    @property
    def name(self) -> str:
        return self.config.name

    @property
    def channel(self) -> Channel | None:
        """The channel of the plant's register file this meter is, if any."""
        return channel_of(self.regmap, self.config.unit)

    def status(self) -> str:
        if not self.config.enabled:
            return "disabled"
        if self.failures:
            return contract.STATUS_UNREACHABLE
        return contract.STATUS_ONLINE if self.last_good is not None else "unknown"

    def since_good(self, now: float, digits: int = 3) -> float | None:
        return None if self.last_good is None else round(now - self.last_good, digits)

    def next_try_in(self, now: float, digits: int = 3) -> float | None:
        """Seconds until the next try of a backed-off meter; None while it answers."""
        return round(max(self.next_try - now, 0.0), digits) if self.failures else None


def utc_now_ms() -> datetime:
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
        wall_clock: Callable[[], datetime] = utc_now_ms,
        monotonic: Callable[[], float] = time.monotonic,
        on_identified: Callable[[MeterState], None] | None = None,
    ) -> None:
        self.site = site
        self.on_identified = on_identified  # after each detection read (identifier, port)
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
        self.link = LinkStats(period_started=monotonic())
        self.last_cycle: float | None = None  # seconds the last poll cycle took
        self.first_cycle: float | None = None  # seconds of the first cycle (connect included)
        self._period_cycles = 0
        self._period_overruns = 0
        self._period_cycle_max: float | None = None
        self._by_unit = {m.config.unit: m for m in meters}
        for m in meters:
            m.link.period_started = self.link.period_started
        bus.observer = self._record

    async def run(self, stop: asyncio.Event) -> None:
        """Poll until ``stop`` is set; cycles start every ``interval`` seconds."""
        next_cycle = self.monotonic()
        while not stop.is_set():
            await self.poll_once()
            next_cycle += self.interval
            delay = next_cycle - self.monotonic()
            if delay < 0 and self.cycles == 1:
                # The first cycle opens the connection (and wakes every meter up): its time
                # is reported as first_cycle_ms, not counted as an overrun of the interval.
                next_cycle = self.monotonic()
                delay = 0.0
            elif delay < 0:
                self.overruns += 1
                self._period_overruns += 1
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
        self._period_cycles += 1
        started = self.monotonic()
        for meter in self.meters:
            if meter.config.enabled and self.monotonic() >= meter.next_try:
                await self._poll_meter(meter)
        took = self.monotonic() - started
        if self.cycles == 1:
            self.first_cycle = took
        self.last_cycle = took
        self._period_cycle_max = max(took, self._period_cycle_max or 0.0)

    def _record(self, attempt: Attempt) -> None:
        """The bus's observer: count one request attempt for its meter and the bus."""
        self.link.record(attempt)
        meter = self._by_unit.get(attempt.unit)
        if meter is not None:
            meter.link.record(attempt)

    def report(self, gateway_id: str, ts: datetime) -> list[Diagnostics]:
        """Diagnostics of every meter and of the bus for the period ending now; new period."""
        now = self.monotonic()
        out: list[Diagnostics] = []
        online = 0
        for m in self.meters:
            counters, length = m.link.take_period(now)
            online += m.status() == contract.STATUS_ONLINE
            fields = {
                "period_s": round(length, 3),
                **counters.summary(),
                "unit": m.config.unit,
                "status": m.status(),
                "consecutive_failures": m.failures,
                "backoff_s": m.backoff,
                "next_try_in_s": m.next_try_in(now),
                "seconds_since_good_read": m.since_good(now),
                **({"channel": m.channel.name} if m.channel is not None else {}),
                **({"port": m.port} if m.port is not None else {}),
                **({"identifier": m.identifier} if m.identifier is not None else {}),
            }
            out.append(Diagnostics(ts, self.site, gateway_id, self.bus.name, m.name, fields))
        bus_counters, length = self.link.take_period(now)
        cycle_max = self._period_cycle_max
        fields = {
            "period_s": round(length, 3),
            **bus_counters.summary(),
            "cycles": self._period_cycles,
            "cycle_last_ms": None if self.last_cycle is None else round(self.last_cycle * 1000, 2),
            "cycle_max_ms": None if cycle_max is None else round(cycle_max * 1000, 2),
            "overruns": self._period_overruns,
            "meters": len(self.meters),
            "meters_online": online,
        }
        self._period_cycles = self._period_overruns = 0
        self._period_cycle_max = None
        out.append(Diagnostics(ts, self.site, gateway_id, self.bus.name, None, fields))
        return out

    async def _identify(self, meter: MeterState, channel: Channel) -> None:
        """The channel's detection read, once per (re)connection: the old app's banner."""
        meter.identifier = await identify(self.bus, meter.config.unit, channel)
        where = getattr(self.bus, "where", None)
        meter.port = where() if callable(where) else None
        log.info(
            "meter %s: channel %r, slave %d on %s answers %r",
            meter.name,
            channel.name,
            meter.config.unit,
            meter.port or self.bus.name,
            meter.identifier,
            extra={"meter": meter.name, "action": "identified"},
        )
        if self.on_identified is not None:
            self.on_identified(meter)

    async def _poll_meter(self, meter: MeterState) -> None:
        ts = self.wall_clock()
        channel = meter.channel
        try:
            if channel is not None and channel.detection is not None and meter.identifier is None:
                await self._identify(meter, channel)
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
        meter.backoff = 0.0
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
        if meter.identifier is not None and meter.channel is not None:
            info = {"channel": meter.channel.name, "identifier": meter.identifier}
            self.sink.set_meter_status(
                meter.name, contract.STATUS_ONLINE, {**info, "port": meter.port or ""}
            )
        else:
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
        meter.identifier = None  # identify again when it answers (it may be another device)
        meter.failures += 1
        meter.failed_reads += 1
        meter.last_error = str(exc)
        backoff = min(self.interval * 2 ** (meter.failures - 1), self.backoff_max)
        meter.next_try = self.monotonic() + backoff
        meter.backoff = backoff
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
