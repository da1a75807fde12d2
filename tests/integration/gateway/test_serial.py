"""Modbus RTU over a serial line: simulator and gateway on two ends of a pty pair."""

from __future__ import annotations

import pytest

from gateway.buses import open_bus
from gateway.errors import MeterError, MeterTimeout
from gateway.meter import read_meter
from gateway.planner import plan
from gateway.registers import builtin_map
from gateway.scan import SerialSettings, find_port, scan_ports
from gateway.simulator.model import PlantModel
from gateway.simulator.ptypair import PtyPair
from gateway.simulator.server import MeterSimulator, SimulatedMeter
from tests.integration.gateway.simhelpers import T0, expected_reading, rtu_config, run

pytestmark = pytest.mark.integration


@pytest.mark.parametrize("model", ["kron_konect", "kron03_real", "eastron_sdm630"])
def test_rtu_round_trip_exact(model: str) -> None:
    regmap = builtin_map(model)
    plant = PlantModel(seed=21)

    async def scenario(pair: PtyPair) -> None:
        sim = MeterSimulator([SimulatedMeter(1, regmap, plant)], clock=lambda: T0)
        await sim.start_serial(pair.a)
        bus = open_bus(rtu_config(pair.b, [1]))
        try:
            result = await read_meter(bus, 1, regmap, plan(regmap))
        finally:
            await bus.close()
            await sim.stop()
        assert result.values == expected_reading(regmap, plant.values(T0))
        assert result.requests == len(plan(regmap))

    with PtyPair() as pair:
        run(scenario(pair))


def test_two_meters_on_one_line_one_silent_then_back() -> None:
    regmap = builtin_map("kron_konect")
    good = SimulatedMeter(1, regmap, PlantModel(seed=1))
    flaky = SimulatedMeter(2, regmap, PlantModel(seed=2), silent=True)

    async def scenario(pair: PtyPair) -> None:
        sim = MeterSimulator([good, flaky], clock=lambda: T0)
        await sim.start_serial(pair.a)
        bus = open_bus(rtu_config(pair.b, [1, 2], timeout=0.3))
        blocks = plan(regmap)
        try:
            for _ in range(2):
                with pytest.raises(
                    MeterTimeout, match=r"bus rtubus \(.* 9600 8N2\) unit 2 FC04 address 4"
                ):
                    await read_meter(bus, 2, regmap, blocks)
                first = await read_meter(bus, 1, regmap, blocks)
                assert first.values == expected_reading(regmap, good.model.values(T0))
            flaky.silent = False  # the meter comes back: same bus, no restart
            back = await read_meter(bus, 2, regmap, blocks)
            assert back.values == expected_reading(regmap, flaky.model.values(T0))
        finally:
            await bus.close()
            await sim.stop()

    with PtyPair() as pair:
        run(scenario(pair))


def test_scan_finds_the_port_where_the_simulator_answers() -> None:
    regmap = builtin_map("kron_konect")

    async def scenario(live: PtyPair, dead: PtyPair, other: PtyPair) -> None:
        sim = MeterSimulator([SimulatedMeter(1, regmap, PlantModel())], clock=lambda: T0)
        await sim.start_serial(live.a)
        settings = SerialSettings(timeout=0.3)
        try:
            results = await scan_ports(
                settings, 1, regmap, [dead.b, live.b, other.b, "/nonexistent/tty"]
            )
            assert [r.answered for r in results] == [False, True, False, False]
            assert results[1].port == live.b
            assert "answered (v_l12=" in results[1].detail
            assert results[0].detail.startswith("silent:")
            assert "cannot connect" in results[3].detail
            assert await find_port(settings, 1, regmap, [dead.b, live.b]) == live.b
            with pytest.raises(MeterError, match="port auto: no port answered as unit 9"):
                await find_port(settings, 9, regmap, [dead.b, live.b])
            # port: auto on a bus: scans at first connect, then reads like any port
            bus = open_bus(rtu_config("auto", [1], timeout=0.3), candidates=[dead.b, live.b])
            try:
                result = await read_meter(bus, 1, regmap, plan(regmap))
                assert result.values == expected_reading(regmap, PlantModel().values(T0))
            finally:
                await bus.close()
        finally:
            await sim.stop()

    with PtyPair() as live, PtyPair() as dead, PtyPair() as other:
        run(scenario(live, dead, other))
