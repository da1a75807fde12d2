"""Meter metadata for the dashboard data set, stored by the ingestor's own writer.

The first meter is channel 1 of the plant's register file (kron03_real.json: its names,
descriptions and AI flags), identified as CH30-001 on a serial port; the second has no
metadata (a built-in map or an older gateway), so panels fall back to the quantity
registry's labels for it.
"""

from __future__ import annotations

from gateway import describe
from gateway.registers import MAPS_DIR, load_map
from ingestor.writer import Writer
from tests.integration.grafana.dataset import METERS, SITE, Dataset

PLANT_FILE = MAPS_DIR / "kron03_real.json"
IDENTIFIER = "CH30-001"
PORT = "/dev/ttyUSB0 9600 8N2"


def seed_meter_info(data: Dataset) -> None:
    info = describe.meter_info(
        site=SITE, meter=METERS[0], gateway="gw1", unit=1, regmap=load_map(PLANT_FILE),
        channel="CH30 canal 1", identifier=IDENTIFIER, port=PORT,
    )  # fmt: skip
    with Writer(data.dsn) as writer:
        writer.write([], infos=[info])
