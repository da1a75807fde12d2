"""Poll-cycle overruns against the simulator (a real pymodbus server over TCP).

The poll loop runs on a fake monotonic clock: each reading the sink receives moves it to
the end of the cycle time the scenario wants (one meter on the bus: one reading per cycle), so
"the first cycle took 5 s, cycles 7 and 8 took 2x the interval" is exact and needs no
wall-clock timing. The first cycle opens the connection and is never an overrun; later
slow cycles are, in the totals (status file, health) and in the period's diagnostics.
"""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime

import pytest

import contract
from gateway import health
from gateway.buses import open_bus
from gateway.planner import plan
from gateway.poller import BusPoller, MeterState
from gateway.registers import builtin_map
from gateway.simulator.model import PlantModel
from gateway.simulator.server import MeterSimulator, SimulatedMeter
from tests.harness.clock import FakeClock
from tests.integration.gateway.simhelpers import T0, run, tcp_config

pytestmark = pytest.mark.integration

INTERVAL = 0.05  # seconds of the fake clock; also the longest real wait between cycles
# fake seconds each cycle takes: the first (connect) 100 intervals, then two real overruns
CYCLES = [5.0, 0.01, 0.01, 0.01, 0.01, 0.01, 0.1, 0.1, 0.01, 0.01]


class TimedSink:
    """Takes readings; each sets the fake clock to the end of the next scripted cycle.

    Cycle i starts when the poller would start it on a real clock: one interval after the
    previous start, or at once when the previous cycle took longer than that (the real
    sleep between cycles does not move the fake clock, so the sink accounts for it).
    """

    def __init__(self, clock: FakeClock, stop: asyncio.Event) -> None:
        self.clock, self.stop = clock, stop
        self.readings: list[contract.Reading] = []
        self.start = clock.t

    def submit(self, reading: contract.Reading) -> None:
        took = CYCLES[len(self.readings)]
        self.clock.t = self.start + took
        self.start += max(took, INTERVAL)
        self.readings.append(reading)
        if len(self.readings) == len(CYCLES):
            self.stop.set()

    def set_meter_status(self, meter: str, status: str) -> None:
        pass


class Seq:
    def __init__(self) -> None:
        self.n = 0

    def next_seq(self, meter: str) -> int:
        self.n += 1
        return self.n


def test_first_cycle_is_not_an_overrun_but_later_slow_cycles_are(
    caplog: pytest.LogCaptureFixture,
) -> None:
    regmap = builtin_map("kron_konect")

    async def scenario() -> None:
        sim = MeterSimulator([SimulatedMeter(1, regmap, PlantModel(seed=1))], clock=lambda: T0)
        _, port = await sim.start_tcp()
        config = tcp_config(port, [1])
        clock, stop = FakeClock(), asyncio.Event()
        sink = TimedSink(clock, stop)
        meter = MeterState(config=config.meters[0], regmap=regmap, blocks=plan(regmap))
        poller = BusPoller(
            site="plant",
            bus=open_bus(config),
            meters=[meter],
            sink=sink,
            sequences=Seq(),
            interval=INTERVAL,
            monotonic=clock,
        )
        try:
            await poller.run(stop)
            assert poller.cycles == len(CYCLES)
            assert poller.overruns == 2  # cycles 7 and 8, not the first
            assert poller.first_cycle == pytest.approx(5.0)
            bus = poller.report("gw1", datetime(2026, 11, 25, 13, 0, tzinfo=UTC))[-1].fields
            assert bus["overruns"] == 2 and bus["cycles"] == len(CYCLES)
            assert bus["cycle_max_ms"] == pytest.approx(5000.0)
            status = health.snapshot(
                [meter], connected=True, queued=0, now_monotonic=clock.t, buses=[poller]
            )
            b = json.loads(json.dumps(status))["buses"]["tcpbus"]
            assert (b["cycles"], b["overruns"], b["first_cycle_ms"]) == (len(CYCLES), 2, 5000.0)
            line = health._figures(status).splitlines()[-1]
            assert "first 5000.0 ms" in line and "2 overruns" in line
        finally:
            await poller.bus.close()
            await sim.stop()

    with caplog.at_level("WARNING", logger="gateway.poller"):
        run(scenario())
    overrun_logs = [r for r in caplog.records if getattr(r, "action", None) == "overrun"]
    assert len(overrun_logs) == 1 and "(1 times)" in overrun_logs[0].getMessage()
