"""Alerts and summaries reach MQTT (real Mosquitto): each once, and none is lost while
the broker is down (the outbox keeps it until the broker acknowledges)."""

from __future__ import annotations

import json
import time
from typing import Any

import psycopg
import pytest

from analytics import config
from analytics.detection.job import detect
from analytics.summaries.job import summarize
from analytics.worker.context import Context
from analytics.worker.outbox import publish
from gateway.simulator.model import Event
from ingestor.localstack import free_port
from tests.harness.mqtt import Collector
from tests.harness.services import Broker
from tests.harness.worker import worker_context
from tests.integration.analytics import history
from tests.unit.analytics.simframes import ts

pytestmark = pytest.mark.integration


def _ctx(db: str, url: str, root: str) -> Context:
    flags = {"database_url": db, "mqtt_url": url, "topic_root": root, "model_enabled": False}
    return worker_context(config.load(flags, env={}))


def _pending(db: str) -> list[tuple[int, int, str | None]]:
    with psycopg.connect(db) as conn:
        rows = conn.execute(
            "SELECT message_id, attempts, last_error FROM analytics_outbox"
            " WHERE published_at IS NULL ORDER BY message_id"
        ).fetchall()
    return [(int(a), int(b), c) for a, b, c in rows]


def _publish_until(ctx: Context, count: int, timeout: float = 30.0) -> int:
    deadline = time.monotonic() + timeout
    sent = 0
    while sent < count and time.monotonic() < deadline:
        sent += publish(ctx, ts("2026-11-23 13:00"))
        if sent < count:
            time.sleep(0.5)
    return sent


def test_alerts_and_summaries_published_once_and_retried_after_outage(
    db: str, mqtt_broker: Broker, topic_root: str
) -> None:
    ids = history.add_site(db, "plant")
    sags = (
        Event("sag", ts("2026-11-23 08:00").timestamp(), 2400),
        Event("sag", ts("2026-11-23 12:00").timestamp(), 1800),
    )
    history.write(
        db, ids["m1"], 1, ts("2026-11-23 06:00"), ts("2026-11-23 13:10"), step=30, events=sags
    )
    history.refresh(db, ts("2026-11-23 06:00"), ts("2026-11-23 13:10"))

    ctx = _ctx(db, mqtt_broker.url, topic_root)
    collector = Collector(mqtt_broker, f"{topic_root}/plant/#")
    try:
        detect(ctx, ts("2026-11-23 11:10"))
        assert publish(ctx, ts("2026-11-23 11:10")) == 2
        alerts = collector.wait_for("/plant/alerts", 2, timeout=10)
        payloads: list[dict[str, Any]] = [json.loads(m.payload) for m in alerts]
        assert [p["event"] for p in payloads] == ["opened", "closed"]
        opened = payloads[0]
        assert opened["v"] == 1 and opened["type"] == "anomaly" and opened["site"] == "plant"
        assert opened["meter"] == "m1" and opened["kind"] == "voltage_band"
        assert opened["severity"] == "critical" and opened["limit"] == 117.0
        assert opened["message"]["pt-BR"].startswith("medidor m1: tensão")
        assert opened["message"]["en"].startswith("meter m1: voltage")
        assert opened["text"] == opened["message"]["pt-BR"]  # EMUSA_LANG default
        assert opened["started_at"].startswith("2026-11-23T11:00:00")
        assert payloads[1]["id"] == opened["id"] and payloads[1]["ended_at"]

        # nothing new: nothing republished
        detect(ctx, ts("2026-11-23 11:40"))
        assert publish(ctx, ts("2026-11-23 11:40")) == 0

        summarize(ctx, ts("2026-11-23 11:40"))  # 06-12 not complete yet
        detect(ctx, ts("2026-11-23 12:20"))
        assert len(summarize(ctx, ts("2026-11-23 12:20"))) == 1
        # the summary, and the second sag (12:00 local) opening
        assert publish(ctx, ts("2026-11-23 12:20")) == 2
        (summary,) = collector.wait_for("/plant/summaries", 1, timeout=10)
        body = json.loads(summary.payload)
        assert body["type"] == "summary" and body["source"] == "deterministic"
        assert body["period_start"].startswith("2026-11-23T09:00:00")
        assert body["text"]["pt-BR"].startswith("Resumo de 6 h - plant, 23/11/2026 06h00-12h00.")
        assert body["metrics"]["energy_kwh"] > 0
        assert body["text_default"] == body["text"]["pt-BR"]
        assert not summary.retain
    finally:
        collector.close()
    assert _pending(db) == []

    # the broker goes away; the second sag's end waits in the outbox
    local = mqtt_broker.local
    if local is not None:
        local.stop()
        outage_ctx = ctx
    else:  # an external broker cannot be stopped from here: publish to a dead port
        outage_ctx = _ctx(db, f"mqtt://127.0.0.1:{free_port()}", topic_root)
    try:
        detect(ctx, ts("2026-11-23 13:00"))
        assert publish(outage_ctx, ts("2026-11-23 13:00")) == 0
        pending = _pending(db)
        assert len(pending) == 1 and pending[0][1] >= 1 and pending[0][2]
    finally:
        if local is not None:
            local.start()
        if outage_ctx is not ctx:
            outage_ctx.close()

    collector = Collector(mqtt_broker, f"{topic_root}/plant/#")
    try:
        assert _publish_until(ctx, 1) == 1
        (alert,) = collector.wait_for("/plant/alerts", 1, timeout=10)
        closed = json.loads(alert.payload)
        assert closed["event"] == "closed"
        assert closed["started_at"].startswith("2026-11-23T15:00:00")
        assert closed["ended_at"].startswith("2026-11-23T15:30:00")
    finally:
        collector.close()
        ctx.close()
    assert _pending(db) == []
