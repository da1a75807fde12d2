"""The channels of the plant's register file on one bus: each that answers is a meter of its
own; one that does not answer, or answers with another identifier, is reported unreachable
and retried with backoff while the others are read every cycle."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

import contract
from gateway import config as gateway_config
from gateway.buses import open_bus
from gateway.poller import BusPoller
from gateway.registers import MAPS_DIR, load_map
from gateway.service import load_meters
from gateway.simulator.model import PlantModel
from gateway.simulator.server import MeterSimulator, SimulatedMeter
from tests.harness.clock import FakeClock
from tests.integration.gateway.simhelpers import T0, Seq, Sink, expected_reading, run

pytestmark = pytest.mark.integration

PLANT_DOC = json.loads((MAPS_DIR / "kron03_real.json").read_text(encoding="utf-8"))


def _config(tmp_path: Path, port: int) -> Path:
    """A gateway YAML whose only bus takes a plant file listing three channels."""
    doc = json.loads(json.dumps(PLANT_DOC))
    doc["channels"].append({**doc["channels"][1], "name": "CH30 canal 3", "slave_id": 3})
    (tmp_path / "registers_kron03_real.json").write_text(json.dumps(doc), encoding="utf-8")
    path = tmp_path / "gateway.yaml"
    path.write_text(
        yaml.safe_dump(
            {
                "site": "plant",
                "buses": [
                    {"name": "lan", "type": "tcp", "host": "127.0.0.1", "port": port,
                     "timeout": 0.3, "retries": 0, "map_file": "registers_kron03_real.json"}
                ],
            }
        )
    )  # fmt: skip
    return path


@pytest.mark.parametrize("third", ["absent", "impostor"])
def test_a_channel_that_does_not_answer_never_blocks_the_others(tmp_path: Path, third: str) -> None:
    async def scenario() -> None:
        clock = FakeClock()
        regmap = load_map(MAPS_DIR / "kron03_real.json")
        served = [SimulatedMeter(u, regmap, PlantModel(seed=u)) for u in (1, 2)]
        if third == "impostor":  # another device at slave 3: answers, but not "CH30..."
            served.append(SimulatedMeter(3, regmap, PlantModel(seed=3), identifier="PM5100"))
        sim = MeterSimulator(served, clock=lambda: T0)
        _, port = await sim.start_tcp()
        cfg = gateway_config.load(_config(tmp_path, port))
        bus_cfg = cfg.buses[0]
        assert [(m.name, m.unit) for m in bus_cfg.meters] == [
            ("ch30_canal_1", 1), ("ch30_canal_2", 2), ("ch30_canal_3", 3),
        ]  # fmt: skip
        meters = load_meters(bus_cfg, tmp_path)
        sink = Sink()
        bus = open_bus(bus_cfg)
        poller = BusPoller(
            site="plant", bus=bus, meters=meters, sink=sink, sequences=Seq(), interval=1.0,
            monotonic=clock,
        )  # fmt: skip
        try:
            for _ in range(4):
                await poller.poll_once()
                clock.t += 1.0
        finally:
            await bus.close()
            await sim.stop()
        by_meter: dict[str, list[contract.Reading]] = {}
        for r in sink.readings:
            by_meter.setdefault(r.meter, []).append(r)
        for u in (1, 2):
            got = by_meter[f"ch30_canal_{u}"]
            assert len(got) == 4, "read every cycle"
            assert got[0].values == expected_reading(regmap, served[u - 1].model.values(T0))
            assert meters[u - 1].identifier == f"CH30-00{u}"
        assert "ch30_canal_3" not in by_meter
        dead = meters[2]
        assert sink.status == {
            "ch30_canal_1": "online", "ch30_canal_2": "online", "ch30_canal_3": "unreachable",
        }  # fmt: skip
        # tried at cycles 1, 2 and 4 (backoff 1 s, then 2 s): retried slowly, not every cycle
        assert dead.failed_reads == 3 and dead.backoff == 4.0
        assert dead.identifier is None
        if third == "impostor":
            assert "identifier 'PM5100' does not start with 'CH30'" in dead.last_error
        else:
            assert "unit 3" in dead.last_error
        (diag,) = [d for d in poller.report("gw1", contract.parse_ts("2026-11-25T13:00:00Z"))
                   if d.meter == "ch30_canal_1"]  # fmt: skip
        assert diag.fields["identifier"] == "CH30-001"
        assert diag.fields["channel"] == "CH30 canal 1"
        assert str(diag.fields["port"]).startswith("127.0.0.1:")
        assert sink.info["ch30_canal_2"] == {
            "channel": "CH30 canal 2", "identifier": "CH30-002", "port": diag.fields["port"],
        }  # fmt: skip

    run(scenario())
