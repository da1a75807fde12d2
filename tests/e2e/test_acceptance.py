# ruff: noqa: RUF001  (pt-BR typography in the expected texts)
"""End-to-end acceptance: the native stack started once (``stack.run_stack``), then each
test reads one outcome of that run — readings stored exactly once through four faults,
rollups, anomalies and alerts (MQTT, e-mail, webhook), the 6-hour summaries, the daily PDF
e-mail, the MQTT state topics, Modbus diagnostics of the unplugged meter, the demand
controller's projection and alert, each service logged in to the shipped broker as its
own user, and services that recovered by themselves."""

from __future__ import annotations

import io
import itertools
import json
from collections.abc import Iterator
from datetime import datetime, timedelta
from email.message import EmailMessage, Message
from typing import Any

import pytest
from pypdf import PdfReader

from analytics import i18n
from gateway.registers import builtin_map
from tests.conftest import PgServer
from tests.e2e.stack import (
    ALERTS_TO,
    BUSES,
    DAILY_TO,
    DEMAND_KW,
    DIAGNOSTICS_EVERY,
    GATEWAY_ID,
    KRON,
    PAC,
    ROOT,
    SITE,
    SITE_NAME,
    TZ,
    Run,
    run_stack,
)

# the stack runs once, in the first test's setup: about 2.5 minutes
pytestmark = [pytest.mark.e2e, pytest.mark.timeout(600)]

FAULTS = ("broker restart", "database restart", "ingestor SIGKILL", "meter unplugged")
MAPS = {KRON: "kron_konect", PAC: "siemens_pac3200"}
MIN_POLLED = {KRON: 30, PAC: 90}  # about 2 minutes at 1 Hz; the KRON is silent for one
FAR = datetime(2100, 1, 1, tzinfo=TZ)


@pytest.fixture(scope="module")
def run(
    pg_server: PgServer, template_db: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Run]:
    workdir = tmp_path_factory.mktemp("e2e")
    with run_stack(pg_server, template_db, workdir) as r:
        yield r


def _waited(run: Run, *names: str) -> None:
    missing = [n for n in names if not run.waited.get(n)]
    assert not missing, f"not seen before the deadline: {missing} (logs in {run.logs})"


def _mails_to(run: Run, address: str) -> list[EmailMessage]:
    out: list[EmailMessage] = []
    for envelope, message in run.mailbox.messages:
        if address in envelope.rcpt_tos:
            assert isinstance(message, EmailMessage)
            out.append(message)
    return out


def _body(message: Message) -> str:
    assert isinstance(message, EmailMessage)
    part = message.get_body(preferencelist=("plain",))
    return "" if part is None else str(part.get_content())


def _pt(v: object, k: int = 1) -> str:
    return i18n.number(float(v), k, "pt-BR")  # type: ignore[arg-type]


def test_stack_came_up_and_both_meters_reached_the_database(run: Run) -> None:
    _waited(run, "ingestor subscribed before the gateway started", "both meters stored")


def test_every_polled_reading_is_stored_exactly_once(run: Run) -> None:
    rejects = run.query("SELECT reason, topic, payload FROM ingest_rejects")
    assert not rejects, f"the ingestor refused readings of the gateway: {rejects}"
    for meter in (KRON, PAC):
        n = run.polled.get(meter, 0)
        least = MIN_POLLED[meter]
        assert n >= least, f"{meter}: the gateway polled {n} readings in the live run (< {least})"
        polled = set(range(1, n + 1))  # the gateway's sequence: a gap would be a lost poll
        on_mqtt = {d["seq"]: d["ts"] for d in run.published(meter)}
        stored = run.stored_seqs(meter, run.live_start, FAR)
        lost = {s: on_mqtt.get(s, "never on MQTT") for s in sorted(polled - set(stored))}
        assert not lost, f"{meter}: polled but not stored (seq: MQTT ts): {lost}"
        assert len(stored) == len(set(stored)), f"{meter}: duplicated readings in the database"
        assert not set(stored) - polled, f"{meter}: stored but never polled: {set(stored) - polled}"
        assert set(on_mqtt) == polled, f"{meter}: polled but never on MQTT: {polled - set(on_mqtt)}"
    _waited(run, "every polled reading stored")


@pytest.mark.parametrize("fault", FAULTS)
def test_fault_window_polled_equals_stored(run: Run, fault: str) -> None:
    windows = [w for w in run.windows if w.name == fault]
    assert len(windows) == 1, f"{fault}: not injected (windows: {[w.name for w in run.windows]})"
    w = windows[0]
    assert w.recovered, f"{fault}: no new reading stored within 60 s after it (logs: {run.logs})"
    for meter in (KRON, PAC):
        polled = run.published_seqs(meter, w.start, w.end)
        stored = run.stored_seqs(meter, w.start, w.end)
        assert len(stored) == len(set(stored)), f"{fault}: {meter}: duplicates stored"
        assert set(stored) == polled, (
            f"{fault}: {meter}: lost {sorted(polled - set(stored))},"
            f" never polled {sorted(set(stored) - polled)}"
        )
    pac_polled = run.published_seqs(PAC, w.start, w.end)
    assert len(pac_polled) >= 3, f"{fault}: the PAC3200 was barely polled during the fault"


def test_unplugged_meter_went_unreachable_and_came_back_by_itself(run: Run) -> None:
    _waited(run, "KRON unreachable and back online", "KRON read again")
    statuses = run.statuses(KRON)
    first_down = statuses.index(b"unreachable")
    assert b"online" in statuses[:first_down], f"{KRON}: never online before the unplug"
    assert statuses[-1] == b"online", f"{KRON}: statuses {statuses}"
    inside = (run.unplug[0] + timedelta(seconds=2), run.unplug[1] - timedelta(seconds=2))
    during = run.published_seqs(KRON, *inside)
    assert not during, f"{KRON}: readings published while the meter was silent: {during}"
    stamps = [datetime.fromisoformat(d["ts"]) for d in run.published(KRON)]
    longest = max(b - a for a, b in itertools.pairwise(stamps))
    assert longest >= timedelta(seconds=55), f"{KRON}: longest gap only {longest}"
    assert run.statuses(PAC)[-1] == b"online", f"{PAC}: the other bus was affected"


def test_rollups_hold_every_live_reading(run: Run) -> None:
    _waited(run, "rollups current")
    rows = run.query(
        "WITH raw AS (SELECT meter_id, date_trunc('minute', time) AS bucket, count(*) AS n"
        "  FROM readings WHERE time >= %s GROUP BY 1, 2)"
        " SELECT raw.meter_id, raw.bucket, raw.n, a.samples"
        " FROM raw LEFT JOIN rollup.agg_1m a USING (meter_id, bucket)"
        " WHERE a.samples IS DISTINCT FROM raw.n ORDER BY 2",
        run.live_start,
    )
    assert not rows, (
        f"rollup.agg_1m minutes that differ from readings (meter, minute, n, samples): {rows}"
    )
    for meter in (KRON, PAC):
        ((minutes, samples),) = run.query(
            "SELECT count(*), sum(samples) FROM rollup.agg_1m a JOIN meters m USING (meter_id)"
            " WHERE m.name = %s AND a.bucket >= date_trunc('minute', %s::timestamptz)",
            meter, run.live_start,
        )  # fmt: skip
        assert minutes >= 2, f"{meter}: only {minutes} live minutes in rollup.agg_1m"
        assert samples == run.polled[meter], (
            f"{meter}: {samples} samples, {run.polled[meter]} polled"
        )


def test_live_phase_loss_becomes_an_anomaly_an_mqtt_alert_and_an_email(run: Run) -> None:
    _waited(run, "live phase loss anomaly", "live phase loss alert on MQTT",
            "live phase loss alert e-mailed")  # fmt: skip
    rows = run.query(
        "SELECT a.anomaly_id, a.severity, a.started_at FROM anomalies a JOIN meters m"
        " USING (meter_id) WHERE m.name = %s AND a.kind = 'phase_loss'",
        PAC,
    )
    assert len(rows) == 1, f"{PAC}: one phase-loss event expected, got {rows}"
    anomaly_id, severity, started = rows[0]
    assert severity == "critical"
    lo, hi = run.phase_loss
    assert lo - timedelta(minutes=1) <= started <= hi, (
        f"phase loss at {started}, injected {lo}..{hi}"
    )
    opened = [
        a for a in run.json_messages("alerts") if a["id"] == anomaly_id and a["event"] == "opened"
    ]
    assert opened, f"no MQTT alert 'opened' for anomaly {anomaly_id}"
    assert opened[0]["kind"] == "phase_loss" and opened[0]["meter"] == PAC
    mails = [m for m in _mails_to(run, ALERTS_TO) if PAC in str(m["Subject"])]
    assert len(mails) == 1, f"{PAC}: alert e-mails {[str(m['Subject']) for m in mails]}"


def test_history_sag_becomes_a_critical_anomaly_and_is_alerted(run: Run) -> None:
    _waited(run, "history sag alert e-mailed")
    rows = run.query(
        "SELECT a.anomaly_id, a.started_at, a.measured FROM anomalies a JOIN meters m"
        " USING (meter_id) WHERE m.name = %s AND a.kind = 'voltage_band'"
        " AND a.severity = 'critical'",
        KRON,
    )
    assert len(rows) == 1, f"{KRON}: one critical voltage event expected, got {rows}"
    anomaly_id, started, measured = rows[0]
    assert run.sag[0] - timedelta(minutes=10) <= started <= run.sag[1], started
    assert measured < 110, f"sag measured {measured} V"
    mails = [m for m in _mails_to(run, ALERTS_TO) if KRON in str(m["Subject"])]
    assert len(mails) == 1, f"{KRON}: alert e-mails {[str(m['Subject']) for m in mails]}"
    assert any(a["id"] == anomaly_id for a in run.json_messages("alerts")), "no MQTT alert"


def test_six_hour_summaries_are_written_once_and_published(run: Run) -> None:
    _waited(run, "summaries on MQTT")
    day0 = run.day[0]
    windows = [(day0 + timedelta(hours=h), day0 + timedelta(hours=h + 6)) for h in (0, 6, 12, 18)]
    published = {m["id"]: m for m in run.json_messages("summaries")}
    for start, end in windows:
        rows = run.query(
            "SELECT summary_id, metrics, text_pt FROM summaries WHERE site_id = %s"
            " AND period_start = %s AND period_end = %s",
            SITE, start, end,
        )  # fmt: skip
        assert len(rows) == 1, f"summary {start}..{end}: {len(rows)} rows"
        summary_id, metrics, text_pt = rows[0]
        ((energy,),) = run.query(
            "SELECT sum(energy_kwh) FROM bi.site_demand_15m WHERE site_id = %s"
            " AND time_utc >= %s AND time_utc < %s",
            SITE, start, end,
        )  # fmt: skip
        assert abs(metrics["energy_kwh"] - float(energy)) < 2e-3, (start, metrics, energy)
        assert _pt(metrics["energy_kwh"]) in text_pt, f"summary {start}: energy not in the text"
        assert summary_id in published, f"summary {summary_id} ({start}) not on MQTT"
        assert published[summary_id]["metrics"]["energy_kwh"] == metrics["energy_kwh"]
    (sag_window,) = [w for w in windows if w[0] <= run.sag[0] < w[1]]
    ((metrics,),) = run.query(
        "SELECT metrics FROM summaries WHERE site_id = %s AND period_start = %s",
        SITE,
        sag_window[0],
    )
    assert metrics["anomalies"]["by_kind"].get("voltage_band", 0) >= 1, metrics["anomalies"]


def test_daily_pdf_is_emailed_with_the_numbers_of_the_database(run: Run) -> None:
    _waited(run, "daily report e-mailed")
    day = run.day[0].astimezone(TZ).date()
    subject = f"[EMUSA] Relatório de energia – 24 horas – {SITE_NAME} – {i18n.day(day, 'pt-BR')}"
    mails = [m for m in _mails_to(run, DAILY_TO) if str(m["Subject"]) == subject]
    assert len(mails) == 1, (
        f"daily e-mails: {[str(m['Subject']) for m in _mails_to(run, DAILY_TO)]}"
    )
    pdfs = [p for p in mails[0].walk() if p.get_content_disposition() == "attachment"]
    assert [p.get_content_type() for p in pdfs] == ["application/pdf"]
    payload = pdfs[0].get_payload(decode=True)
    assert isinstance(payload, bytes)
    text = "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(payload)).pages)
    start, end = run.day
    for meter in (KRON, PAC):
        ((avg_p, max_p, min_p, avg_v, max_v, min_v, avg_pf, avg_f),) = run.query(
            "SELECT avg(p_total), max(p_total), min(p_total),"
            " avg((v_l12 + v_l23 + v_l31) / 3), max((v_l12 + v_l23 + v_l31) / 3),"
            " min((v_l12 + v_l23 + v_l31) / 3), avg(pf_total), avg(freq)"
            " FROM readings r JOIN meters m USING (meter_id)"
            " WHERE m.name = %s AND time >= %s AND time < %s",
            meter, start, end,
        )  # fmt: skip
        for what, value, k in (
            ("avg kW", avg_p, 1), ("max kW", max_p, 1), ("min kW", min_p, 1),
            ("avg V", avg_v, 1), ("max V", max_v, 1), ("min V", min_v, 1),
            ("PF", avg_pf, 3), ("Hz", avg_f, 2),
        ):  # fmt: skip
            assert _pt(value, k) in text, f"{meter}: {what} {_pt(value, k)} not in the PDF"
        ((energy, e_ponta, e_fora),) = run.query(
            "SELECT energy_kwh, energy_ponta_kwh, energy_fora_ponta_kwh FROM bi.energy_daily"
            " WHERE meter = %s AND day = %s",
            meter, day,
        )  # fmt: skip
        if e_ponta is None:  # yesterday had no ponta (weekend, holiday): all of it fora ponta
            assert e_fora == pytest.approx(energy), f"{meter}: {e_fora} != {energy} kWh"
        for what, value in (("energy", energy), ("ponta", e_ponta), ("fora ponta", e_fora)):
            if value is not None:
                assert _pt(value) in text, f"{meter}: {what} {_pt(value)} kWh not in the PDF"
    ((sag_message,),) = run.query(
        "SELECT message_pt FROM anomalies WHERE kind = 'voltage_band' AND severity = 'critical'"
    )
    flat = " ".join(text.split())
    assert " ".join(sag_message.split())[:40] in flat, f"the sag ({sag_message}) not in the PDF"
    assert "Relatório" in _body(mails[0]) or "relatório" in _body(mails[0])


def test_state_topics_carry_the_last_reading(run: Run) -> None:
    for meter in (KRON, PAC):
        last = run.published(meter)[-1]
        state = run.state.get(meter, {})
        names = set(builtin_map(MAPS[meter]).names)
        assert set(state) == names, f"{meter}: state topics {sorted(names - set(state))} missing"
        wrong = {q: (state[q], v) for q, v in last["values"].items() if float(state[q]) != v}
        assert not wrong, f"{meter}: retained state differs from reading {last['seq']}: {wrong}"


def test_services_recovered_by_themselves_and_stop_cleanly(run: Run) -> None:
    # the gateway and the analytics worker ran through every fault without a restart; the
    # ingestor was restarted once after its SIGKILL, as docker's restart policy would
    assert run.never_restarted == {"gateway": True, "analytics": True}, run.never_restarted
    assert run.exit_codes == {"gateway": 0, "analytics": 0, "ingestor": 0}, run.exit_codes
    ((mark,),) = run.query(
        "SELECT watermark FROM analytics_watermarks WHERE job = 'detect' AND site_id = %s", SITE
    )
    db_restart = next(w for w in run.windows if w.name == "database restart")
    assert mark > db_restart.end, f"detection stopped at {mark}, before the database restart ended"


def test_each_service_logged_in_to_the_shipped_broker_as_its_own_user(run: Run) -> None:
    # mosquitto.conf: connection_messages true -> "New client connected ... u'<user>')"
    # the gateway logs in with its own account, gw-<site>-<gateway_id> (mosquitto/acl)
    expected = {f"gw-{SITE}-{GATEWAY_ID}", "ingestor", "analytics", "reader"}
    users = {u for u in expected if f"u'{u}'" in run.broker_log}
    assert users == expected, f"logins seen by the broker: {users}\n{run.broker_log[-3000:]}"
    refused = [ln for ln in run.broker_log.splitlines() if "not authori" in ln.lower()]
    assert not refused, f"the broker refused a login: {refused}"


def _in(doc: dict[str, Any], start: datetime, end: datetime) -> bool:
    return start <= datetime.fromisoformat(doc["ts"]) < end


def test_modbus_diagnostics_show_the_unplugged_meter(run: Run) -> None:
    _waited(run, "KRON unreachable diagnostics stored", "every diagnostics message stored",
            "KRON diagnostics online again")  # fmt: skip
    kron = run.diagnostics(KRON)
    lo, hi = run.unplug
    # a period that ends inside the silence, at least two periods after it began
    silent = [d for d in kron if _in(d, lo + timedelta(seconds=2 * DIAGNOSTICS_EVERY), hi)]
    assert len(silent) >= 6, f"{KRON}: {len(silent)} diagnostics while unplugged"
    assert {d["status"] for d in silent} == {"unreachable"}, [d["status"] for d in silent]
    assert sum(d["timeouts"] for d in silent) > 0, f"{KRON}: no timeouts counted while silent"
    assert sum(d["successes"] for d in silent) == 0, f"{KRON}: successes while silent"
    since = [float(d["seconds_since_good_read"]) for d in silent]
    assert all(b > a for a, b in itertools.pairwise(since)), f"not growing: {since}"
    assert since[-1] >= 40, f"{KRON}: seconds_since_good_read peaked at {since[-1]}"
    before = [d for d in kron if datetime.fromisoformat(d["ts"]) < lo]
    assert before and before[-1]["status"] == "online", f"{KRON}: not online before the unplug"
    assert kron[-1]["status"] == "online" and kron[-1]["seconds_since_good_read"] < 5, kron[-1]
    pac = run.diagnostics(PAC)
    assert pac and all(d["status"] == "online" for d in pac[1:]), [d["status"] for d in pac]
    assert sum(d["timeouts"] for d in pac) == 0, f"{PAC}: timeouts on the other bus"
    # retained: a new subscriber gets each meter's and each bus's latest diagnostics
    for meter in (KRON, PAC):
        assert f"{ROOT}/{SITE}/{meter}/diagnostics" in run.retained, f"{meter}: not retained"
    for bus in BUSES:
        topic = f"{ROOT}/{SITE}/gateway/{GATEWAY_ID}/bus/{bus}/diagnostics"
        assert topic in run.retained, f"bus {bus}: diagnostics not retained"
        doc = json.loads(run.retained[topic])
        assert doc["bus"] == bus and doc["meters"] == 1, doc
    # the ingestor stored every message the gateway published, once
    for meter in (KRON, PAC):
        rows = run.query(
            "SELECT d.time, d.status, d.timeouts, d.seconds_since_good_read"
            " FROM modbus_meter_diagnostics d JOIN meters m USING (meter_id)"
            " WHERE m.name = %s AND d.time >= %s ORDER BY d.time",
            meter, run.live_start,
        )  # fmt: skip
        published = {datetime.fromisoformat(d["ts"]) for d in run.diagnostics(meter)}
        stored = {r[0] for r in rows}
        assert stored == published, (
            f"{meter}: diagnostics lost {sorted(published - stored)},"
            f" never published {sorted(stored - published)}"
        )
        if meter == KRON:
            inside = [r for r in rows if lo + timedelta(seconds=10) <= r[0] < hi]
            assert inside and all(r[1] == "unreachable" for r in inside), inside
            assert sum(r[2] for r in inside) > 0, f"{KRON}: no timeouts stored"
            assert max(r[3] for r in inside) >= 40, f"{KRON}: the silence is not in the history"
    ((buses,),) = run.query(
        "SELECT count(DISTINCT bus) FROM modbus_bus_diagnostics WHERE gateway = %s AND time >= %s",
        GATEWAY_ID, run.live_start,
    )  # fmt: skip
    assert buses == len(BUSES), f"bus diagnostics stored for {buses} buses"


def test_demand_controller_projects_the_excess_and_alerts(run: Run) -> None:
    _waited(run, "demand projection alert on MQTT", "demand projection alert on the webhook")
    limit = DEMAND_KW * 1.05  # sites.demand_tolerance defaults to 5 %
    projections = run.json_messages("demand/projection")
    alerting = [p for p in projections if p["alert"]]
    assert alerting, f"no projection alerted: {[p['status'] for p in projections]}"
    p = alerting[0]
    assert p["status"] == "ok" and p["site"] == SITE, p
    assert p["contracted_kw"] == DEMAND_KW and abs(p["limit_kw"] - limit) < 1e-9, p
    assert p["projected_kw"] > limit and p["shed_kw"] > 0, p
    assert set(p["sources"]) <= {KRON, PAC} and PAC in p["sources"], p["sources"]
    retained = run.retained.get(f"{ROOT}/{SITE}/demand/projection")
    assert retained is not None, "the projection is not retained"
    assert json.loads(retained)["type"] == "demand_projection"
    events = run.query(
        "SELECT anomaly_id, started_at, ended_at, severity, meter_id, measured FROM anomalies"
        " WHERE kind = 'demand_projection' ORDER BY started_at"
    )
    assert events, "no demand_projection event"
    starts = [e[1] for e in events]
    assert len(starts) == len(set(starts)), f"more than one event per interval: {starts}"
    for _id, start, end, severity, meter_id, measured in events:
        assert start.minute % 15 == 0 and start.second == 0 and end - start == timedelta(minutes=15)
        assert (
            run.live_start - timedelta(minutes=15) < start <= run.live_start + timedelta(minutes=10)
        )
        assert severity == "critical" and meter_id is None and measured > limit
    opened = [
        a for a in run.json_messages("alerts")
        if a["kind"] == "demand_projection" and a["event"] == "opened"
    ]  # fmt: skip
    assert {a["id"] for a in opened} == {e[0] for e in events}, (opened, events)
    hooks = [h for h in run.hook.received if h["kind"] == "demand_projection"]
    # one alert per site and kind within the cooldown, even if the run spans two intervals
    assert len(hooks) == 1, f"demand webhook posts: {hooks}"
    assert hooks[0]["anomaly_id"] == events[0][0] and hooks[0]["site"] == SITE, hooks[0]
    ((channels,),) = run.query(
        "SELECT channels FROM alert_deliveries WHERE anomaly_id = %s AND outcome = 'sent'",
        events[0][0],
    )
    assert set(channels) == {"email", "webhook"}, channels


def test_phase_loss_alert_reached_the_webhook_once(run: Run) -> None:
    _waited(run, "live phase loss alert on the webhook")
    ((anomaly_id,),) = run.query(
        "SELECT a.anomaly_id FROM anomalies a JOIN meters m USING (meter_id)"
        " WHERE m.name = %s AND a.kind = 'phase_loss'",
        PAC,
    )
    hooks = [h for h in run.hook.received if h["kind"] == "phase_loss"]
    assert len(hooks) == 1, f"phase-loss webhook posts: {hooks}"
    h = hooks[0]
    assert h["type"] == "emusa.alert" and h["anomaly_id"] == anomaly_id, h
    assert (h["site"], h["meter"], h["severity"]) == (SITE, PAC, "critical"), h
    assert PAC in h["text"] and h["message"], h
    ((channels,),) = run.query(
        "SELECT channels FROM alert_deliveries WHERE anomaly_id = %s AND outcome = 'sent'",
        anomaly_id,
    )
    assert set(channels) == {"email", "webhook"}, channels
