# ruff: noqa: RUF001  (pt-BR titles of the dashboard panels)
"""The demand controller on real TimescaleDB, Mosquitto and SMTP with simulator history:
an interval that will exceed its limit is alerted before it ends, once, with the kW to
shed; a load that stays under is silent; ponta and fora-ponta limits follow the tariff
calendar; the outcome is recorded when the interval ends."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any

import psycopg
import pytest
from psycopg.conninfo import make_conninfo
from psycopg.rows import dict_row

from analytics import config
from analytics.__main__ import main
from analytics.db import connect
from analytics.delivery.alerts import deliver_alerts
from analytics.delivery.config import DeliveryConfig, Recipients
from analytics.demand import control as dc
from analytics.demand import job as demand_job
from analytics.detection.job import detect
from analytics.worker.context import Context
from gateway.simulator.model import Event
from ingestor.migrate import set_role_passwords
from tests.harness.mqtt import Collector
from tests.harness.services import Broker
from tests.harness.worker import worker_context
from tests.integration.analytics import history
from tests.integration.grafana import dashboards, macros, runner
from tests.integration.reports.conftest import SmtpServer, smtp_server  # noqa: F401  (fixture)
from tests.unit.analytics.simframes import ts

pytestmark = pytest.mark.integration

W = ts("2026-11-23 10:15")  # a Monday; seed 1 draws 263-276 kW here, under 315 kW
PARAMS = dc.DemandParams()


def _ctx(db: str, broker: Broker | None = None, root: str = "emusa") -> Context:
    flags: dict[str, Any] = {"database_url": db, "model_enabled": False, "topic_root": root}
    if broker is not None:
        flags["mqtt_url"] = broker.url
    return worker_context(config.load(flags, env={}))


def _write(db: str, events: tuple[Event, ...], start: datetime, end: datetime) -> int:
    ids = history.add_site(db, "plant")  # contracted 300 kW, tolerance 5 %: limit 315 kW
    history.write(db, ids["m1"], 1, start, end, step=5, events=events)
    return ids["m1"]


def _events(db: str) -> list[dict[str, Any]]:
    with psycopg.connect(db, row_factory=dict_row) as conn:
        return conn.execute(
            "SELECT * FROM anomalies WHERE kind = 'demand_projection' ORDER BY started_at"
        ).fetchall()


def _opened(collector: Collector, count: int) -> list[dict[str, Any]]:
    msgs = collector.wait_for("/plant/alerts", count, timeout=10)
    return [json.loads(m.payload) for m in msgs]


def _minutes(m: float) -> datetime:
    return W + timedelta(minutes=m)


def test_peak_is_alerted_before_the_interval_ends_once_with_the_kw_to_shed(
    db: str,
    mqtt_broker: Broker,
    topic_root: str,
    smtp_server: SmtpServer,  # noqa: F811
) -> None:
    peak = (Event("demand_peak", W.timestamp(), 3600),)  # ~370 kW from 10:15
    _write(db, peak, W - timedelta(hours=1), W + timedelta(minutes=45))
    ctx = _ctx(db, mqtt_broker, topic_root)
    mail = DeliveryConfig(
        site="plant",
        smtp_url=smtp_server.url,
        recipients=Recipients(alerts=["plantao@example.com"]),
    )
    collector = Collector(mqtt_broker, f"{topic_root}/plant/#")
    try:
        # the first 3 minutes: projected far above, but no alert yet
        for m in (0.5, 1.5, 2.5):
            p = demand_job.run(ctx, _minutes(m), PARAMS)["plant"]
            assert p.exceeds and p.status == "warming_up" and not p.alert
        assert _events(db) == []
        live = collector.wait_for("/plant/demand/projection", 3, timeout=10)
        first = json.loads(live[-1].payload)
        assert first["status"] == "warming_up" and first["alert"] is False

        p = demand_job.run(ctx, _minutes(3.5), PARAMS)["plant"]
        assert p.alert and p.window_end == W + dc.WINDOW
        (opened,) = _opened(collector, 1)
        assert opened["event"] == "opened" and opened["kind"] == "demand_projection"
        assert opened["meter"] is None and opened["severity"] == "critical"
        demand = opened["demand"]
        assert demand["limit_kw"] == pytest.approx(315.0) and demand["period"] == "fora_ponta"
        assert demand["window_end"] == "2026-11-23T13:30:00.000Z"
        assert demand["projected_kw"] > 350
        remaining = (W + dc.WINDOW - _minutes(3.5)).total_seconds()
        expected_shed = (demand["projected_kw"] - 315.0) * 900 / remaining
        assert demand["shed_kw"] == pytest.approx(expected_shed, rel=1e-3)
        assert opened["measured"] == pytest.approx(demand["projected_kw"], rel=1e-6)
        assert "reduzir" in opened["message"]["pt-BR"] and "shed" in opened["message"]["en"]

        # the e-mail: once, with the kW to shed
        (sent,) = deliver_alerts(db, _minutes(4), mail)
        assert sent.outcome == "sent" and sent.channels == ("email",)
        (_env, msg) = smtp_server.box.messages[0]
        assert "reduzir" in msg.get_content() and "kW" in str(msg["Subject"])

        # the rest of the interval: the event is updated, never raised again
        for m in (5, 8, 12, 14.9):
            demand_job.run(ctx, _minutes(m), PARAMS)
        (event,) = _events(db)
        assert event["started_at"] == W and event["ended_at"] == W + dc.WINDOW
        assert event["details"]["raised_at"] == "2026-11-23T13:18:30.000Z"
        assert "outcome" not in event["details"]
        assert deliver_alerts(db, _minutes(14.9), mail) == []

        # the interval ends above the limit; the next one is alerted again (MQTT), and its
        # e-mail falls inside the 60-minute cooldown
        demand_job.run(ctx, _minutes(15.7), PARAMS)
        demand_job.run(ctx, _minutes(19), PARAMS)
        msgs = _opened(collector, 3)
        assert [(m["event"], m["started_at"]) for m in msgs] == [
            ("opened", "2026-11-23T13:15:00.000Z"),
            ("closed", "2026-11-23T13:15:00.000Z"),
            ("opened", "2026-11-23T13:30:00.000Z"),
        ]
        assert msgs[1]["demand"]["outcome"] == "exceeded"
        (second,) = deliver_alerts(db, _minutes(19.5), mail)
        assert second.outcome == "suppressed" and len(smtp_server.box.messages) == 1
    finally:
        collector.close()
        ctx.close()

    # the final demand agrees with the billing view the demand_exceeded rule reads
    history.refresh(db, W - timedelta(hours=1), W + timedelta(minutes=45))
    with psycopg.connect(db) as conn:
        row = conn.execute(
            "SELECT demand_kw, limit_kw FROM bi.site_demand_15m WHERE time_utc = %s", (W,)
        ).fetchone()
    assert row is not None
    final = _events(db)[0]["details"]["final_kw"]
    assert final == pytest.approx(row[0], rel=2e-3) and final > row[1]


def test_load_shed_in_time_closes_the_interval_as_avoided(db: str) -> None:
    # a 3-minute peak at 10:18: alerted, then the load comes back and the interval ends under
    peak = (Event("demand_peak", _minutes(3).timestamp(), 180),)
    _write(db, peak, W - timedelta(hours=1), W + timedelta(minutes=20))
    ctx = _ctx(db)
    try:
        raised = [demand_job.run(ctx, _minutes(m), PARAMS)["plant"] for m in (2, 4, 5.5)]
        assert [p.alert for p in raised] == [False, True, True]
        later = demand_job.run(ctx, _minutes(10), PARAMS)["plant"]
        assert not later.alert and later.headroom_kw is not None and later.headroom_kw > 0
        demand_job.run(ctx, _minutes(15.6), PARAMS)
    finally:
        ctx.close()
    (event,) = _events(db)
    assert event["details"]["outcome"] == "avoided"
    assert event["details"]["final_kw"] < 315.0
    assert event["measured"] == pytest.approx(max(p.projected_kw or 0 for p in raised), rel=1e-6)
    with psycopg.connect(db) as conn:
        sent = conn.execute(
            "SELECT event, payload FROM analytics_outbox ORDER BY message_id"
        ).fetchall()
    assert [e for e, _ in sent] == ["opened", "closed"]
    assert sent[1][1]["demand"]["outcome"] == "avoided"


def test_load_under_the_limit_stays_silent(db: str, mqtt_broker: Broker, topic_root: str) -> None:
    _write(db, (), W - timedelta(hours=1), W + timedelta(minutes=45))
    ctx = _ctx(db, mqtt_broker, topic_root)
    collector = Collector(mqtt_broker, f"{topic_root}/plant/#")
    try:
        projections = [
            demand_job.run(ctx, W + timedelta(seconds=s), PARAMS)["plant"]
            for s in range(200, 45 * 60, 130)
        ]
        assert all(not p.exceeds and not p.alert for p in projections)
        assert {p.status for p in projections} == {"ok", "warming_up"}
        assert all(260 < (p.projected_kw or 0) < 290 for p in projections)
        live = collector.wait_for("/plant/demand/projection", len(projections), timeout=10)
        last = json.loads(live[-1].payload)
        assert last["alert"] is False and last["shed_kw"] == 0.0 and last["headroom_kw"] > 0
        assert collector.matching("/plant/alerts") == []
    finally:
        collector.close()
        ctx.close()
    assert _events(db) == []
    # a late subscriber gets the latest projection (retained)
    late = Collector(mqtt_broker, f"{topic_root}/plant/demand/projection")
    try:
        (kept,) = late.wait_for("/demand/projection", 1, timeout=10)
        assert kept.retain and json.loads(kept.payload)["at"] == last["at"]
    finally:
        late.close()


def test_ponta_and_fora_ponta_limits_follow_the_tariff_calendar(db: str) -> None:
    _write(db, (), ts("2026-11-23 17:00"), ts("2026-11-23 18:45"))
    with psycopg.connect(db) as conn:  # tarifa azul: 300 kW fora de ponta, 200 kW in ponta
        conn.execute(
            "UPDATE sites SET tariff_modality = 'azul', contracted_demand_ponta_kw = 200"
            " WHERE site_id = 'plant'"
        )
    ctx = _ctx(db)
    try:
        before = demand_job.run(ctx, ts("2026-11-23 17:55"), PARAMS)["plant"]
        ponta = demand_job.run(ctx, ts("2026-11-23 18:25"), PARAMS)["plant"]
    finally:
        ctx.close()
    assert before.period == "fora_ponta" and before.limit_kw == pytest.approx(315.0)
    assert not before.alert  # ~255 kW
    assert ponta.period == "ponta" and ponta.limit_kw == pytest.approx(210.0)
    assert ponta.alert  # ~235 kW against 210 kW
    (event,) = _events(db)
    assert event["started_at"] == ts("2026-11-23 18:15") and event["limit_value"] == 210.0
    assert "(ponta, contratada + tolerância)" in event["message_pt"]


def test_detection_leaves_the_controller_events_alone(db: str) -> None:
    peak = (Event("demand_peak", W.timestamp(), 600),)
    _write(db, peak, W - timedelta(hours=1), W + timedelta(minutes=20))
    history.refresh(db, W - timedelta(hours=1), W + timedelta(minutes=20))
    ctx = _ctx(db)
    try:
        assert demand_job.run(ctx, _minutes(5), PARAMS)["plant"].alert
        detect(ctx, _minutes(9))  # detection closes open events its rules do not see
        demand_job.run(ctx, _minutes(9), PARAMS)
    finally:
        ctx.close()
    (event,) = _events(db)
    assert event["ended_at"] == W + dc.WINDOW and "outcome" not in event["details"]
    assert event["details"]["at"] == "2026-11-23T13:24:00.000Z"  # still updated


def test_dashboard_projection_matches_the_controller(db: str) -> None:
    """The Grafana panel (minute rollups, as emusa_grafana) draws what the controller sees."""
    peak = (Event("demand_peak", _minutes(6).timestamp(), 600),)
    _write(db, peak, W - timedelta(hours=1), W + timedelta(minutes=30))
    history.refresh(db, W - timedelta(hours=1), W + timedelta(minutes=30))
    panel = next(
        q
        for q in dashboards.all_queries()
        if q.panel and q.panel["title"] == "Projeção da demanda do intervalo × limite"
    )
    ctx = macros.Context(W, W + timedelta(minutes=30), {"site": "plant", "meter": ["m1"]})
    with runner.connect(db) as conn:
        res = runner.run(conn, macros.expand(panel.sql, ctx))
    drawn = dict(zip(res.column("time"), res.column("Projeção do intervalo"), strict=True))
    limits = set(res.column("Limite"))
    assert limits == {315.0}
    assert len(drawn) == 30  # one point at the end of every minute
    with connect(db) as conn:
        for minute in (2, 5, 7, 10, 14, 16, 25):
            at = _minutes(minute)
            p = demand_job.project_site(conn, "plant", at, PARAMS)
            assert drawn[at] == pytest.approx(p.projected_kw, rel=0.01), minute
    assert max(drawn.values()) > 315.0 > min(drawn.values())


def test_cli_projects_and_alerts_as_the_analytics_role(
    db: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    peak = (Event("demand_peak", W.timestamp(), 900),)
    _write(db, peak, W - timedelta(minutes=30), W + timedelta(minutes=15))
    set_role_passwords(db, {"EMUSA_ANALYTICS_DB_PASSWORD": "pw"})
    dsn = make_conninfo(db, user="emusa_analytics", password="pw")
    monkeypatch.delenv("EMUSA_MQTT_URL", raising=False)
    monkeypatch.setenv("EMUSA_DEMAND_MIN_ELAPSED", "60")
    assert main(["--database-url", dsn, "demand", "--at", "2026-11-23T10:16:30-03:00"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("plant 2026-11-23T13:15:00+00:00..13:30:00 fora_ponta [ok]: energy ")
    assert "limit 315.0 kW; shed " in out and out.rstrip().endswith("; ALERT")
    (event,) = _events(db)
    assert event["details"]["raised_at"] == "2026-11-23T13:16:30.000Z"
    monkeypatch.setenv("EMUSA_DEMAND_MIN_ELAPSED", "soon")
    assert main(["--database-url", dsn, "demand"]) == 2
    assert "EMUSA_DEMAND_MIN_ELAPSED: not a number" in capsys.readouterr().err
