"""``emusa-analytics run`` as a process: alerts and a summary reach Mosquitto, SIGTERM
stops it cleanly.

The worker lives at the session's test instant (``--clock-start``, tests/harness/clock.py)
and the history starts at the local midnight before "yesterday", so yesterday's daily
report is due at any hour the test runs."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import psycopg
import pytest

from gateway.simulator.model import Event
from tests.harness.clock import session_now
from tests.harness.mqtt import Collector
from tests.harness.services import Broker
from tests.integration.analytics import history

pytestmark = pytest.mark.integration

TZ = ZoneInfo("America/Sao_Paulo")  # the site's (history.add_site: the default)


def test_run_publishes_alerts_and_summaries_then_stops_on_sigterm(
    db: str, mqtt_broker: Broker, topic_root: str, tmp_path: Path
) -> None:
    now = session_now().replace(second=0)
    yesterday = (now.astimezone(TZ) - timedelta(days=1)).date()
    # from yesterday's local midnight: a whole day to report on, complete 6-hour windows
    start = datetime.combine(yesterday, datetime.min.time(), TZ).astimezone(UTC)
    ids = history.add_site(db, "plant")
    sag = (Event("sag", (now - timedelta(hours=3)).timestamp(), 1800),)
    history.write(db, ids["m1"], 1, start, now, step=60, events=sag)
    history.refresh(db, start, now)

    delivery = tmp_path / "delivery.yaml"  # reports due from 00:00, kept in tmp_path
    delivery.write_text(f"reports_dir: {tmp_path / 'reports'}\ndaily_send_time: '00:00'\n")
    env = {
        **os.environ,
        "EMUSA_DATABASE_URL": db,
        "EMUSA_MQTT_URL": mqtt_broker.url,
        "EMUSA_TOPIC_ROOT": topic_root,
        "EMUSA_DELIVERY_CONFIG": str(delivery),
    }
    log = (tmp_path / "analytics.log").open("w")
    collector = Collector(mqtt_broker, f"{topic_root}/plant/#")
    proc = subprocess.Popen(
        [sys.executable, "-m", "analytics", "run", "--tick", "0.5", "--settle-minutes", "0",
         "--no-model", "--clock-start", now.isoformat()],
        env=env, stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    try:
        summaries = collector.wait_for("/plant/summaries", 1, timeout=60)
        daily = _wait_for_report(db, "daily", yesterday, timeout=60)
        alerts = collector.wait_until(
            lambda msgs: any(
                m.topic.endswith("/alerts") and json.loads(m.payload)["kind"] == "voltage_band"
                for m in msgs
            ),
            timeout=60,
        )
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            code = proc.wait(timeout=30)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait(10)
            collector.close()
            log.close()
    output = (tmp_path / "analytics.log").read_text()
    assert code == 0, output
    assert "scheduler stopped" in output
    assert summaries, output
    body = json.loads(summaries[0].payload)
    assert body["type"] == "summary" and body["text"]["pt-BR"].startswith("Resumo de 6 h - plant")
    sag_alerts = [json.loads(m.payload) for m in alerts if m.topic.endswith("/alerts")]
    assert any(a["kind"] == "voltage_band" and a["event"] == "opened" for a in sag_alerts)
    with psycopg.connect(db) as conn:
        published = conn.execute(
            "SELECT count(*) FROM analytics_outbox WHERE published_at IS NOT NULL"
        ).fetchone()
    assert published is not None and published[0] >= len(sag_alerts) + 1  # marked after PUBACK
    assert daily is not None, f"the scheduler built yesterday's daily report\n{output}"
    assert Path(daily).is_file()
    assert Path(daily).is_relative_to(tmp_path / "reports")


def _wait_for_report(db: str, kind: str, day: date, timeout: float) -> str | None:
    """Path of the ``kind`` report whose local period starts on ``day``, once recorded."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with psycopg.connect(db) as conn:
            row = conn.execute(
                "SELECT r.path FROM reports r JOIN sites s USING (site_id)"
                " WHERE r.kind = %s AND (r.period_start AT TIME ZONE s.timezone)::date = %s",
                (kind, day),
            ).fetchone()
        if row:
            return str(row[0])
        time.sleep(0.5)
    return None
