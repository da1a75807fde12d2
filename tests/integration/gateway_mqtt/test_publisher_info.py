"""The meters' retained info messages through the gateway publisher and a real Mosquitto:
published at start, again only when the identifier or port changes, and kept for a
subscriber that comes later."""

from __future__ import annotations

from pathlib import Path

import pytest

from contract import meterinfo
from contract.mqtt_url import parse
from gateway.config import MeterConfig
from gateway.planner import plan
from gateway.poller import MeterState
from gateway.publisher import Publisher, PublisherSettings
from gateway.queue import DiskQueue
from gateway.registers import MAPS_DIR, load_map
from gateway.service import MeterInfos
from tests.harness.mqtt import Collector
from tests.harness.services import Broker

pytestmark = pytest.mark.integration

PLANT = MAPS_DIR / "kron03_real.json"


class _Bus:  # what MeterInfos.start reads of a bus: its configured port and where()
    port = "/dev/ttyUSB0"

    def where(self) -> str:
        return "/dev/ttyUSB0 9600 8N2"


def test_info_is_published_once_per_change_and_retained(
    mqtt_broker: Broker, topic_root: str, tmp_path: Path
) -> None:
    regmap = load_map(PLANT)
    meter = MeterState(
        MeterConfig(name="ch30_canal_1", map_file=PLANT, unit=1), regmap, plan(regmap)
    )
    queue = DiskQueue(tmp_path / "queue.sqlite", max_messages=100)
    settings = PublisherSettings(endpoint=parse(mqtt_broker.url), root=topic_root, site="plant",
                                 gateway_id="gw1", client_id=f"gw-{topic_root}")  # fmt: skip
    pub = Publisher(settings, queue)
    infos = MeterInfos(pub, "gw1")
    seen = Collector(mqtt_broker, f"{topic_root}/plant/+/info")
    try:
        infos.start(_Bus(), [meter])  # type: ignore[arg-type]  # before connecting: kept
        pub.start()
        assert pub.connected.wait(10)
        meter.identifier, meter.port = "CH30-001", "/dev/ttyUSB0 9600 8N2"
        infos.identified(meter)
        infos.identified(meter)  # the same detection read again (after a failure): nothing
        meter.identifier = "CH30-009"  # another device answers at this slave id
        infos.identified(meter)
        got = seen.wait_for("/ch30_canal_1/info", 3, timeout=10)
        assert len(queue) == 0, "never queued to disk"
    finally:
        pub.stop()
        seen.close()
        queue.close()
    decoded = [meterinfo.decode(m.payload, topic=("plant", "ch30_canal_1")) for m in got]
    assert [(i.identifier, i.port) for i in decoded] == [
        (None, "/dev/ttyUSB0 9600 8N2"),
        ("CH30-001", "/dev/ttyUSB0 9600 8N2"),
        ("CH30-009", "/dev/ttyUSB0 9600 8N2"),
    ]
    assert decoded[0].channel == "CH30 canal 1" and decoded[0].registers[0].name == "tensao_l1"
    late = Collector(mqtt_broker, f"{topic_root}/plant/+/info")
    try:
        (kept,) = late.wait_for("/ch30_canal_1/info", 1, timeout=10)
    finally:
        late.close()
    assert kept.retain and meterinfo.decode(kept.payload).identifier == "CH30-009"
