"""The simulator's two meters (KRON unit 1, PAC3200 unit 2) on one Modbus TCP server in a
thread, and a gateway YAML that polls them over one TCP bus."""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path
from typing import Any

import yaml

from gateway.registers import builtin_map
from gateway.simulator.model import PlantModel
from gateway.simulator.server import MeterSimulator, SimulatedMeter
from tests.harness.services import Broker


class SimulatorThread:
    """The simulator's Modbus TCP server on its own event loop in a thread."""

    def __init__(self) -> None:
        self.meters = {
            1: SimulatedMeter(1, builtin_map("kron_konect"), PlantModel(seed=1)),
            2: SimulatedMeter(2, builtin_map("siemens_pac3200"), PlantModel(seed=2)),
        }
        self.sim = MeterSimulator(list(self.meters.values()))
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.host, self.port = asyncio.run_coroutine_threadsafe(
            self.sim.start_tcp(), self.loop
        ).result(10)

    def close(self) -> None:
        asyncio.run_coroutine_threadsafe(self.sim.stop(), self.loop).result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
        self.loop.close()


def write_gateway_yaml(
    path: Path, simulator: SimulatorThread, broker: Broker, root: str, *,
    poll_interval: float, timeout: float, retries: int, **extra: Any,
) -> Path:  # fmt: skip
    """A gateway config polling the simulator's kron1 (unit 1) and pac1 (unit 2) on bus
    ``lan``; ``extra`` adds top-level keys (``diagnostics``, ...)."""
    doc = {
        "site": "plant",
        "gateway_id": "gw1",
        "poll_interval": poll_interval,
        **extra,
        "mqtt": {"url": broker.url, "topic_root": root, "keepalive": 5},
        "queue": {"path": "queue.sqlite"},
        "buses": [
            {
                "name": "lan", "type": "tcp", "host": simulator.host, "port": simulator.port,
                "timeout": timeout, "retries": retries,
                "meters": [
                    {"name": "kron1", "model": "kron_konect", "unit": 1},
                    {"name": "pac1", "model": "siemens_pac3200", "unit": 2},
                ],
            }
        ],
    }  # fmt: skip
    path.write_text(yaml.safe_dump(doc))
    return path
