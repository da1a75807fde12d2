"""Fixtures of the report and delivery tests: a database holding a month of plant
history (copied per test from a session template), a real SMTP server (aiosmtpd) and a
real HTTP server for webhooks (``tests.harness.smtp``, ``tests.harness.webhook``), each on
a free port and stopped after the test."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import psycopg
import pytest

from analytics.delivery.config import DeliveryConfig, Recipients, Tariff
from ingestor.localstack import free_port
from tests.conftest import PgServer
from tests.harness.smtp import Mailbox, SmtpServer
from tests.harness.webhook import Hook
from tests.harness.webhook import webhook_server as serve_webhook
from tests.integration.reports.plant import SITE, load_history, seed_site

TZ = ZoneInfo("America/Sao_Paulo")
HISTORY = (datetime(2026, 10, 16, tzinfo=TZ), datetime(2026, 11, 16, 6, tzinfo=TZ))
STEP = timedelta(minutes=3)  # divides 15 min: demand intervals hold whole steps
DAY = (datetime(2026, 11, 10, tzinfo=TZ), datetime(2026, 11, 11, tzinfo=TZ))  # a Tuesday
FORTNIGHT = (datetime(2026, 11, 1, tzinfo=TZ), datetime(2026, 11, 16, tzinfo=TZ))
CONTRACT_KW = 500.0


@pytest.fixture(scope="session")
def plant_template(pg_server: PgServer, template_db: str) -> Iterator[str]:
    """A migrated database with two simulated meters from 16 Oct to 16 Nov 2026 and a few
    anomalies on 10 Nov; tests get copies (``plant_db``)."""
    name = pg_server.create_database(template=template_db)
    dsn = pg_server.dsn(name)
    ids = seed_site(dsn, CONTRACT_KW)
    load_history(dsn, HISTORY[0], HISTORY[1], STEP, ids)
    with psycopg.connect(dsn) as conn, conn.cursor() as cur:
        cur.executemany(
            "INSERT INTO anomalies (site_id, meter_id, kind, severity, started_at, ended_at,"
            " quantity, measured, limit_value, message_pt, message_en)"
            " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
            [
                (
                    SITE,
                    ids["m1"],
                    "voltage_band",
                    "critical",
                    datetime(2026, 11, 10, 9, 12, tzinfo=TZ),
                    datetime(2026, 11, 10, 9, 14, tzinfo=TZ),
                    "v_l1n",
                    101.6,
                    110.0,
                    "Afundamento de tensão em L1: 101,6 V",
                    "Voltage sag on L1: 101.6 V",
                ),
                (
                    SITE,
                    ids["m2"],
                    "power_factor",
                    "warning",
                    datetime(2026, 11, 10, 14, 0, tzinfo=TZ),
                    datetime(2026, 11, 10, 15, 0, tzinfo=TZ),
                    "pf_total",
                    0.72,
                    0.92,
                    "Fator de potência baixo: 0,72",
                    "Low power factor: 0.72",
                ),
            ],
        )
    yield name
    pg_server.drop_database(name)


@pytest.fixture
def plant_db(pg_server: PgServer, plant_template: str) -> Iterator[str]:
    name = pg_server.create_database(template=plant_template)
    yield pg_server.dsn(name)
    pg_server.drop_database(name)


@pytest.fixture
def config(tmp_path: Path) -> DeliveryConfig:
    return DeliveryConfig(
        site=SITE,
        reports_dir=tmp_path / "reports",
        tariff=Tariff(demand_kw=40.0, energy_ponta_kwh=2.1, energy_fora_ponta_kwh=0.45),
        recipients=Recipients(
            daily=["gerente@example.com"],
            fortnightly=["diretoria@example.com"],
            alerts=["plantao@example.com"],
        ),
        smtp_retry_delay_s=0.05,
        catch_up_days=0,
    )


# --- SMTP ---------------------------------------------------------------------------
@pytest.fixture
def smtp_server() -> Iterator[SmtpServer]:
    server = SmtpServer("127.0.0.1", free_port(), Mailbox(), None)
    server.start()
    try:
        yield server
    finally:
        server.stop()


# --- webhook ---------------------------------------------------------------------------
@pytest.fixture
def webhook_server() -> Iterator[Hook]:
    with serve_webhook() as hook:
        yield hook
