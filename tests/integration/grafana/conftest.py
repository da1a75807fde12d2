"""A session database with simulated history for the dashboard queries (see dataset.py)."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from tests.conftest import PgServer
from tests.integration.grafana.dataset import Dataset, Shape, generate
from tests.integration.grafana.diagnostics_data import seed_diagnostics
from tests.integration.grafana.meter_info_data import seed_meter_info


@pytest.fixture(scope="session")
def dashboard_data(pg_server: PgServer, template_db: str) -> Iterator[Dataset]:
    """2 days of 1 s readings + 28 older days present only in the rollups, 2 meters."""
    name = pg_server.create_database(template=template_db)
    try:
        t0 = time.perf_counter()
        data = generate(pg_server.dsn(name), Shape.tests())
        seed_diagnostics(data)
        seed_meter_info(data)
        data.seconds["total_s"] = time.perf_counter() - t0
        yield data
    finally:
        pg_server.drop_database(name)
