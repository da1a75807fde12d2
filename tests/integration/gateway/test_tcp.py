"""The gateway's Modbus side against the simulator (a real pymodbus server) over real TCP."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from gateway.buses import open_bus
from gateway.errors import MeterError, MeterTimeout
from gateway.meter import read_meter
from gateway.planner import plan
from gateway.registers import builtin_map, builtin_models, load_map
from gateway.simulator.model import PlantModel
from gateway.simulator.server import MeterSimulator, SimulatedMeter
from tests.integration.gateway.simhelpers import T0, expected_reading, run, tcp_config

pytestmark = pytest.mark.integration


@pytest.mark.parametrize("model", builtin_models())
def test_every_shipped_map_round_trips_exactly(model: str) -> None:
    regmap = builtin_map(model)
    plant = PlantModel(seed=11)

    async def scenario() -> None:
        sim = MeterSimulator([SimulatedMeter(3, regmap, plant)], clock=lambda: T0)
        _, port = await sim.start_tcp()
        bus = open_bus(tcp_config(port, [3]))
        try:
            result = await read_meter(bus, 3, regmap, plan(regmap))
        finally:
            await bus.close()
            await sim.stop()
        assert result.dropped == {}
        assert result.requests == len(plan(regmap))
        assert result.values == expected_reading(regmap, plant.values(T0))
        assert set(result.values) == set(regmap.names)

    run(scenario())


def test_silent_meter_times_out_naming_it_and_recovers_without_restart() -> None:
    regmap = builtin_map("kron_konect")
    meter = SimulatedMeter(1, regmap, PlantModel(seed=1))

    async def scenario() -> None:
        sim = MeterSimulator([meter], clock=lambda: T0)
        _, port = await sim.start_tcp()
        bus = open_bus(tcp_config(port, [1], timeout=0.3, retries=1))
        blocks = plan(regmap)
        try:
            assert (await read_meter(bus, 1, regmap, blocks)).values
            meter.silent = True
            for _ in range(5):  # more than pymodbus' own "close after N silences" count
                with pytest.raises(MeterTimeout) as exc:
                    await read_meter(bus, 1, regmap, blocks)
                assert "bus tcpbus" in str(exc.value)
                assert "unit 1 FC04 address 4" in str(exc.value)
            meter.silent = False
            again = await read_meter(bus, 1, regmap, blocks)
            assert again.values == expected_reading(regmap, meter.model.values(T0))
        finally:
            await bus.close()
            await sim.stop()

    run(scenario())


def test_server_restart_reconnects_lazily() -> None:
    regmap = builtin_map("siemens_pac3200")

    async def scenario() -> None:
        meter = SimulatedMeter(1, regmap, PlantModel(seed=2))
        sim = MeterSimulator([meter], clock=lambda: T0)
        _, port = await sim.start_tcp()
        bus = open_bus(tcp_config(port, [1], timeout=0.3))
        blocks = plan(regmap)
        try:
            await read_meter(bus, 1, regmap, blocks)
            await sim.stop()
            with pytest.raises(MeterTimeout, match=rf"bus tcpbus.*127\.0\.0\.1:{port}"):
                await read_meter(bus, 1, regmap, blocks)
            with pytest.raises(MeterTimeout, match="cannot connect"):
                await read_meter(bus, 1, regmap, blocks)
            sim = MeterSimulator([meter], clock=lambda: T0)
            await sim.start_tcp(port=port)
            assert (await read_meter(bus, 1, regmap, blocks)).values
        finally:
            await bus.close()
            await sim.stop()

    run(scenario())


def test_two_meters_one_bus_one_silent_the_other_is_still_read() -> None:
    regmap = builtin_map("kron_konect")
    good = SimulatedMeter(1, regmap, PlantModel(seed=1))
    silent = SimulatedMeter(2, regmap, PlantModel(seed=2), silent=True)

    async def scenario() -> None:
        sim = MeterSimulator([good, silent], clock=lambda: T0)
        _, port = await sim.start_tcp()
        bus = open_bus(tcp_config(port, [1, 2], timeout=0.3, retries=1))
        blocks = plan(regmap)
        try:
            for _ in range(3):
                results = await asyncio.gather(
                    read_meter(bus, 2, regmap, blocks),
                    read_meter(bus, 1, regmap, blocks),
                    return_exceptions=True,
                )
                assert isinstance(results[0], MeterTimeout)
                assert "unit 2" in str(results[0])
                assert not isinstance(results[1], BaseException)
                assert results[1].values == expected_reading(regmap, good.model.values(T0))
        finally:
            await bus.close()
            await sim.stop()
        # the silent meter cost its first block x (1 + retries) attempts, no more
        assert bus.requests == 3 * (2 + len(blocks))

    run(scenario())


def test_modbus_exception_is_a_meter_error_not_a_timeout() -> None:
    regmap = builtin_map("kron_konect")

    async def scenario() -> None:
        sim = MeterSimulator([SimulatedMeter(1, regmap, PlantModel())], clock=lambda: T0)
        _, port = await sim.start_tcp()
        bus = open_bus(tcp_config(port, [1]))
        try:
            with pytest.raises(MeterError, match="address 500 count 2: Modbus exception 2") as exc:
                await bus.read(1, 4, 500, 2)
            assert not isinstance(exc.value, MeterTimeout)
            with pytest.raises(MeterError, match="exception 2"):
                await bus.read(1, 3, 4, 2)  # the KRON map has no holding registers
            assert len(await bus.read(1, 4, 4, 2)) == 2  # the bus still works
        finally:
            await bus.close()
            await sim.stop()

    run(scenario())


def test_implausible_values_are_dropped_with_the_reason(tmp_path: Path) -> None:
    served = builtin_map("eastron_sdm630")  # v_l1n (~125 V) at address 0
    wrong = tmp_path / "wrong.yaml"
    wrong.write_text(
        "model: wrong\nsource: test\ntransport: tcp\n"
        "registers:\n  freq: {address: 0, unit: Hz}\n  v_l2n: {address: 2, unit: V}\n"
    )
    regmap = load_map(wrong)

    async def scenario() -> None:
        sim = MeterSimulator([SimulatedMeter(1, served, PlantModel())], clock=lambda: T0)
        _, port = await sim.start_tcp()
        bus = open_bus(tcp_config(port, [1]))
        try:
            result = await read_meter(bus, 1, regmap, plan(regmap))
        finally:
            await bus.close()
            await sim.stop()
        assert "freq" not in result.values
        assert result.dropped["freq"].startswith("out of range 40..70 Hz")
        assert 100 < result.values["v_l2n"] < 140

    run(scenario())
