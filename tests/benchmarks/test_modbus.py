"""Modbus figures: requests and RTU wire time per poll cycle, sustained TCP poll rate.

Run with ``.venv/bin/pytest -m benchmark tests/benchmarks/test_modbus.py -s``; writes
``bench-results/modbus.json`` (tests/benchmarks/results.py). Wire time uses gateway.timing (the Modbus serial-line
formula (13 + 2N) characters + 2 x t3.5 per read, meter turnaround excluded). The TCP rate
runs gateway and simulator in one process and one event loop on loopback, so it is a
ceiling of the gateway's own overhead (plus the simulator's), not a field figure.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest

from gateway.buses import open_bus
from gateway.meter import read_meter
from gateway.planner import Block, plan, plan_per_quantity
from gateway.registers import builtin_map, builtin_models
from gateway.simulator.model import PlantModel
from gateway.simulator.server import MeterSimulator, SimulatedMeter
from gateway.timing import cycle_time
from tests.benchmarks import results
from tests.integration.gateway.simhelpers import T0, tcp_config

pytestmark = pytest.mark.benchmark

BAUD = 9600
SECONDS = 3.0


def _wire(blocks: list[Block]) -> float:
    return cycle_time([b.count for b in blocks], BAUD)


def _cycle_figures() -> dict[str, Any]:
    rows = {}
    for model in builtin_models():
        regmap = builtin_map(model)
        planned, naive = plan(regmap), plan_per_quantity(regmap)
        rows[model] = {
            "quantities": len(regmap.registers),
            "planner_requests": len(planned),
            "planner_registers": sum(b.count for b in planned),
            "planner_wire_ms": round(_wire(planned) * 1000, 1),
            "per_quantity_requests": len(naive),
            "per_quantity_wire_ms": round(_wire(naive) * 1000, 1),
            "wire_ratio": round(_wire(naive) / _wire(planned), 2),
        }
    return rows


async def _sustained(model: str, per_quantity: bool) -> dict[str, float]:
    regmap = builtin_map(model)
    blocks = plan_per_quantity(regmap) if per_quantity else plan(regmap)
    sim = MeterSimulator([SimulatedMeter(1, regmap, PlantModel(seed=1))], clock=lambda: T0)
    _, port = await sim.start_tcp()
    bus = open_bus(tcp_config(port, [1], timeout=2.0))
    try:
        await read_meter(bus, 1, regmap, blocks)  # connect + warm up
        reads = 0
        started = time.perf_counter()
        while (elapsed := time.perf_counter() - started) < SECONDS:
            await read_meter(bus, 1, regmap, blocks)
            reads += 1
    finally:
        await bus.close()
        await sim.stop()
    return {
        "reads_per_s": round(reads / elapsed, 1),
        "requests_per_s": round(reads * len(blocks) / elapsed, 1),
        "requests_per_read": len(blocks),
    }


def test_modbus_figures() -> None:
    cycles = _cycle_figures()
    tcp: dict[str, Any] = {}
    for model in ("kron_konect", "siemens_pac3200"):
        planner = asyncio.run(_sustained(model, per_quantity=False))
        naive = asyncio.run(_sustained(model, per_quantity=True))
        tcp[model] = {
            "planner": planner,
            "per_quantity": naive,
            "ratio": round(planner["reads_per_s"] / naive["reads_per_s"], 2),
        }
    print("\nRTU 9600 8N2, one poll cycle (wire time, meter turnaround excluded)")
    print(
        f"{'model':<18} {'qty':>4} {'planner req':>11} {'wire ms':>8} {'per-qty req':>11} {'wire ms':>8} {'ratio':>6}"
    )
    for model, r in cycles.items():
        print(
            f"{model:<18} {r['quantities']:>4} {r['planner_requests']:>11} {r['planner_wire_ms']:>8}"
            f" {r['per_quantity_requests']:>11} {r['per_quantity_wire_ms']:>8} {r['wire_ratio']:>6}"
        )
    print(f"\nModbus TCP against the simulator (loopback, one process), {SECONDS:g} s each")
    for model, r in tcp.items():
        print(
            f"{model:<18} planner {r['planner']['reads_per_s']:>7} reads/s"
            f" ({r['planner']['requests_per_s']} req/s) | per-quantity"
            f" {r['per_quantity']['reads_per_s']:>7} reads/s ({r['per_quantity']['requests_per_s']} req/s)"
            f" | ratio {r['ratio']}"
        )
    headline = [
        results.Row(
            f"{model}: RTU wire time per poll, planner ({r['planner_requests']} requests)",
            r["planner_wire_ms"],
            "ms at 9600 8N2",
            f"one read per quantity ({r['per_quantity_requests']} requests)",
            r["per_quantity_wire_ms"],
        )
        for model, r in cycles.items()
    ] + [
        results.Row(
            f"{model}: Modbus TCP meter reads/s, planner",
            r["planner"]["reads_per_s"],
            "reads/s",
            "one read per quantity",
            r["per_quantity"]["reads_per_s"],
        )
        for model, r in tcp.items()
    ]
    results.write(
        "modbus",
        "Modbus poll-cycle efficiency",
        headline,
        {"rtu_9600_8N2_cycle": cycles, "tcp_sustained": tcp, "tcp_seconds_each": SECONDS},
    )
    kron = cycles["kron_konect"]
    assert kron["planner_requests"] <= 3 < kron["per_quantity_requests"]
    assert kron["planner_wire_ms"] < kron["per_quantity_wire_ms"]
    assert all(r["planner"]["reads_per_s"] > 0 for r in tcp.values())
