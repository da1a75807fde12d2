"""Alerts through a real SMTP server and a real local HTTP webhook, with cooldown and
de-duplication kept in the database."""

from __future__ import annotations

from datetime import datetime

import psycopg
import pytest
from psycopg.types.json import Jsonb

from analytics.delivery.alerts import deliver_alerts
from analytics.delivery.config import Alerts, DeliveryConfig
from tests.integration.reports.conftest import TZ, Hook, SmtpServer
from tests.integration.reports.plant import SITE, insert_anomaly

pytestmark = pytest.mark.integration


def _at(h: int, m: int) -> datetime:
    return datetime(2026, 11, 10, h, m, tzinfo=TZ)


_anomaly = insert_anomaly


@pytest.fixture
def alert_config(
    config: DeliveryConfig, smtp_server: SmtpServer, webhook_server: Hook
) -> DeliveryConfig:
    return config.model_copy(
        update={
            "smtp_url": smtp_server.url,
            "webhook_token": "hook-token",
            "alerts": Alerts(
                severities=["critical", "warning"], cooldown_minutes=60,
                webhook_url=webhook_server.url, max_attempts=3,
            ),
        }
    )  # fmt: skip


def test_alerts_by_email_and_webhook_with_cooldown(
    plant_db: str, alert_config: DeliveryConfig, smtp_server: SmtpServer, webhook_server: Hook
) -> None:
    info = _anomaly(plant_db, "m1", "thd", "info", _at(13, 0))  # severity not configured
    figures = {"phase": "L1", "band": "critical", "nominal_v": 127.0}
    with psycopg.connect(plant_db) as conn:
        conn.execute(
            "UPDATE anomalies SET details = %s WHERE kind = 'voltage_band'", (Jsonb(figures),)
        )
    first = deliver_alerts(plant_db, _at(14, 5), alert_config)
    # the fixture's critical sag (m1, 09:12) and warning PF (m2, 14:00)
    assert [(r.outcome, r.channels) for r in first] == [("sent", ("email", "webhook"))] * 2
    assert info not in {r.anomaly_id for r in first}
    kinds = [p["kind"] for p in webhook_server.received]
    assert kinds == ["voltage_band", "power_factor"]
    sag = webhook_server.received[0]
    assert sag["severity"] == "critical" and sag["meter"] == "m1" and sag["site"] == SITE
    assert sag["text"] == (
        "[EMUSA CRÍTICA] Planta Teste/m1 10/11/2026 09:12: Afundamento de tensão em L1: 101,6 V"
    )
    assert webhook_server.headers[0]["Authorization"] == "Bearer hook-token"
    assert sag["details"] == figures  # the anomaly's own figures travel with it
    assert webhook_server.received[1]["details"] == {}
    subjects = [m["Subject"] for _, m in smtp_server.box.messages]
    assert subjects[0].startswith("[EMUSA CRÍTICA] Planta Teste/m1")
    assert smtp_server.box.messages[0][0].rcpt_tos == ["plantao@example.com"]

    # same meter and kind inside the cooldown: suppressed, counted
    again = _anomaly(plant_db, "m1", "voltage_band", "critical", _at(14, 30))
    assert [
        (r.anomaly_id, r.outcome) for r in deliver_alerts(plant_db, _at(14, 35), alert_config)
    ] == [(again, "suppressed")]
    # another meter, same kind: its own cooldown
    other = _anomaly(plant_db, "m2", "voltage_band", "critical", _at(14, 40))
    assert [
        (r.anomaly_id, r.outcome) for r in deliver_alerts(plant_db, _at(14, 45), alert_config)
    ] == [(other, "sent")]
    # a restarted worker finds nothing to send (state in the database)
    assert deliver_alerts(plant_db, _at(14, 50), alert_config) == []
    # after the cooldown the same meter and kind alerts again
    later = _anomaly(plant_db, "m1", "voltage_band", "critical", _at(15, 20))
    assert [
        (r.anomaly_id, r.outcome) for r in deliver_alerts(plant_db, _at(15, 25), alert_config)
    ] == [(later, "sent")]
    assert len(webhook_server.received) == 4 and len(smtp_server.box.messages) == 4
    with psycopg.connect(plant_db) as conn:
        assert conn.execute(
            "SELECT suppressed FROM alert_cooldowns c JOIN meters m USING (meter_id)"
            " WHERE m.name = 'm1' AND c.kind = 'voltage_band'"
        ).fetchone() == (0,)  # reset by the send after the cooldown
        outcomes = conn.execute(
            "SELECT outcome, count(*) FROM alert_deliveries GROUP BY 1 ORDER BY 1"
        ).fetchall()
    assert outcomes == [("sent", 4), ("suppressed", 1)]


def test_webhook_down_is_retried_at_the_next_call(
    plant_db: str, config: DeliveryConfig, webhook_server: Hook
) -> None:
    cfg = config.model_copy(
        update={"alerts": Alerts(severities=["critical"], email=False,
                                 webhook_url=webhook_server.url, max_attempts=2)}
    )  # fmt: skip
    webhook_server.status[0] = 503
    failed = deliver_alerts(plant_db, _at(10, 0), cfg, sleep=lambda _s: None)
    assert [(r.outcome, r.channels) for r in failed] == [("failed", ())]
    assert failed[0].error and "503" in failed[0].error
    webhook_server.status[0] = 200
    sent = deliver_alerts(plant_db, _at(10, 1), cfg, sleep=lambda _s: None)
    assert [(r.anomaly_id, r.outcome) for r in sent] == [(failed[0].anomaly_id, "sent")]
    assert len(webhook_server.received) == 1
    assert deliver_alerts(plant_db, _at(10, 2), cfg) == []
    with psycopg.connect(plant_db) as conn:
        assert conn.execute("SELECT outcome, attempts FROM alert_deliveries").fetchall() == [
            ("sent", 2)
        ]


def test_old_anomalies_are_never_alerted(
    plant_db: str, config: DeliveryConfig, webhook_server: Hook
) -> None:
    cfg = config.model_copy(
        update={"alerts": Alerts(severities=["critical", "warning"], email=False,
                                 webhook_url=webhook_server.url, lookback_hours=2)}
    )  # fmt: skip
    assert deliver_alerts(plant_db, _at(23, 0), cfg) == []  # both fixture events are older than 2 h
    assert webhook_server.received == []


def test_delivery_runs_as_the_analytics_role(
    plant_db: str, alert_config: DeliveryConfig, smtp_server: SmtpServer, webhook_server: Hook
) -> None:
    from psycopg.conninfo import make_conninfo

    from analytics.reports.delivery import deliver_due_reports
    from ingestor.migrate import set_role_passwords

    set_role_passwords(plant_db, {"EMUSA_ANALYTICS_DB_PASSWORD": "pw"})
    dsn = make_conninfo(plant_db, user="emusa_analytics", password="pw")
    assert [r.outcome for r in deliver_alerts(dsn, _at(14, 5), alert_config)] == ["sent", "sent"]
    assert [r.outcome for r in deliver_alerts(dsn, _at(14, 6), alert_config)] == []
    done = deliver_due_reports(dsn, datetime(2026, 11, 11, 8, tzinfo=TZ), alert_config)
    assert [(d.kind, d.emailed, d.error) for d in done] == [
        ("daily", True, None),
        ("fortnightly", True, None),
    ]
