"""Modbus diagnostics against the simulator (a real pymodbus server): two meters on one bus
with one silent, exception responses, and CRC errors on a serial line that garbles frames.

The poll loop runs on a fake monotonic clock advanced by one interval per cycle, so
backoff is asserted in poll counts per cycle, never in wall-clock time.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from contract import diagnostics as diag
from gateway.buses import open_bus
from gateway.config import MeterConfig, TcpBusConfig
from gateway.planner import plan
from gateway.poller import BusPoller, MeterState
from gateway.registers import builtin_map
from gateway.simulator.model import PlantModel
from gateway.simulator.ptypair import PtyPair
from gateway.simulator.server import MeterSimulator, SimulatedMeter
from tests.harness.clock import FakeClock
from tests.integration.gateway.simhelpers import T0, Seq, Sink, rtu_config, run, tcp_config

pytestmark = pytest.mark.integration

TS = datetime(2026, 11, 25, 13, 0, tzinfo=UTC)


def _states(config: TcpBusConfig) -> list[MeterState]:
    out = []
    for m in config.meters:
        regmap = builtin_map(m.model or "")
        out.append(MeterState(config=m, regmap=regmap, blocks=plan(regmap)))
    return out


def _poller(config: TcpBusConfig, sink: Sink, clock: FakeClock) -> BusPoller:
    return BusPoller(
        site="plant",
        bus=open_bus(config),
        meters=_states(config),
        sink=sink,
        sequences=Seq(),
        interval=1.0,
        backoff_max=16.0,
        monotonic=clock,
    )


def _by_meter(report: list[diag.Diagnostics]) -> dict[str | None, diag.Diagnostics]:
    return {d.meter: d for d in report}


def test_silent_meter_is_backed_off_without_stalling_the_other_and_recovers() -> None:
    regmap = builtin_map("kron_konect")
    blocks = len(plan(regmap))
    good = SimulatedMeter(1, regmap, PlantModel(seed=1))
    silent = SimulatedMeter(2, regmap, PlantModel(seed=2), silent=True)

    async def scenario() -> None:
        sim = MeterSimulator([good, silent], clock=lambda: T0)
        _, port = await sim.start_tcp()
        sink, clock = Sink(), FakeClock()
        poller = _poller(tcp_config(port, [1, 2], timeout=0.2, retries=1), sink, clock)
        try:
            cycles = 40
            for _ in range(cycles):
                await poller.poll_once()
                clock.t += 1.0
            report = _by_meter(poller.report("gw1", TS))
            m1, m2, bus = report["m1"].fields, report["m2"].fields, report[None].fields
            # the good meter was read on every cycle, at its interval
            assert sum(r.meter == "m1" for r in sink.readings) == cycles
            assert (m1["requests"], m1["successes"]) == (cycles * blocks, cycles * blocks)
            assert m1["timeouts"] == m1["retries"] == 0
            assert m1["status"] == "online" and m1["seconds_since_good_read"] == 1.0
            assert 0 < m1["latency_p50_ms"] <= m1["latency_p95_ms"] <= m1["latency_max_ms"]
            # the silent one: tried at t = 0, 1, 3, 7, 15, 31 (backoff 1, 2, 4, 8, 16 s),
            # each attempt one frame + one retry (its first block), all timeouts
            tries = 6
            assert m2["requests"] == 2 * tries and m2["timeouts"] == 2 * tries
            assert m2["retries"] == tries and m2["successes"] == 0
            assert m2["latency_p95_ms"] is None and m2["seconds_since_good_read"] is None
            assert m2["status"] == "unreachable" and m2["consecutive_failures"] == tries
            assert m2["backoff_s"] == 16.0 and 0 < m2["next_try_in_s"] <= 16.0
            assert sink.status == {"m1": "online", "m2": "unreachable"}
            assert bus["cycles"] == cycles and bus["meters"] == 2 and bus["meters_online"] == 1
            assert bus["requests"] == m1["requests"] + m2["requests"]
            assert bus["timeouts"] == m2["timeouts"] and bus["period_s"] == cycles
            # back: answers at its next try, the counters of the new period say so
            silent.silent = False
            for _ in range(17):
                await poller.poll_once()
                clock.t += 1.0
            again = _by_meter(poller.report("gw1", TS))
            m2 = again["m2"].fields
            assert m2["status"] == "online" and m2["consecutive_failures"] == 0
            assert m2["successes"] > 0 and m2["timeouts"] == 0 and m2["backoff_s"] == 0
            assert m2["seconds_since_good_read"] is not None and m2["next_try_in_s"] is None
            assert again["m1"].fields["requests"] == 17 * blocks
            assert sink.status["m2"] == "online"
            payload = diag.encode(again["m2"])
            decoded = diag.decode(payload, kind="meter", topic=("plant", "m2"), now=TS)
            assert decoded == again["m2"]
        finally:
            await poller.bus.close()
            await sim.stop()

    run(scenario())


def test_exception_responses_are_counted_by_code() -> None:
    # The simulator serves a short map; the gateway reads a longer one at the same unit:
    # the blocks past the end get exception 2 (illegal data address), like a real meter.
    served = SimulatedMeter(1, builtin_map("kron_konect"), PlantModel(seed=1))

    async def scenario() -> None:
        sim = MeterSimulator([served], clock=lambda: T0)
        _, port = await sim.start_tcp()
        config = tcp_config(port, [1], timeout=0.3, retries=2)
        config = config.model_copy(
            update={"meters": [MeterConfig(name="pac", model="siemens_pac3200", unit=1)]}
        )
        sink, clock = Sink(), FakeClock()
        poller = _poller(config, sink, clock)
        try:
            for _ in range(3):
                await poller.poll_once()
                clock.t += 60.0  # past any backoff: every cycle tries
            report = _by_meter(poller.report("gw1", TS))
            pac = report["pac"].fields
            assert pac["exceptions"] == 3, "one per poll: an exception is not retried"
            assert pac["exception_codes"] == {"2": 3}
            assert pac["timeouts"] == pac["retries"] == 0
            assert pac["successes"] == pac["requests"] - 3
            assert pac["status"] == "unreachable"
            assert report[None].fields["exception_codes"] == {"2": 3}
            assert "Modbus exception 2 (illegal data address)" in poller.meters[0].last_error
        finally:
            await poller.bus.close()
            await sim.stop()

    run(scenario())


class GarblingPtyPair(PtyPair):
    """A null-modem cable that flips a bit in every answer while ``garble`` is set."""

    garble = False

    def relayed(self, data: bytes, *, to_b: bool) -> bytes:
        if to_b and self.garble and data:  # simulator (a) -> gateway (b)
            return data[:-1] + bytes([data[-1] ^ 0x01])
        return data


def test_crc_errors_on_a_serial_line_are_told_apart_from_silence() -> None:
    regmap = builtin_map("kron_konect")
    meter = SimulatedMeter(1, regmap, PlantModel(seed=1))

    async def scenario(pair: GarblingPtyPair) -> None:
        sim = MeterSimulator([meter], clock=lambda: T0)
        await sim.start_serial(pair.a)
        bus = open_bus(rtu_config(pair.b, [1], timeout=0.3, retries=1))
        seen: list[diag.Attempt] = []
        bus.observer = seen.append
        block = plan(regmap)[0]
        try:
            await bus.read(1, block.function, block.address, block.count)
            pair.garble = True
            with pytest.raises(Exception, match="bad CRC or framing"):
                await bus.read(1, block.function, block.address, block.count)
            pair.garble = False
            meter.silent = True
            with pytest.raises(Exception, match="no answer within"):
                await bus.read(1, block.function, block.address, block.count)
            meter.silent = False
            await bus.read(1, block.function, block.address, block.count)
        finally:
            await bus.close()
            await sim.stop()
        assert [(a.outcome, a.retry) for a in seen] == [
            (diag.Outcome.OK, False),
            (diag.Outcome.CRC, False),
            (diag.Outcome.CRC, True),
            (diag.Outcome.TIMEOUT, False),
            (diag.Outcome.TIMEOUT, True),
            (diag.Outcome.OK, False),
        ]

    pair = GarblingPtyPair()
    with pair:
        run(scenario(pair))
