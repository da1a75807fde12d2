"""WhatsApp alerts against a local server speaking the Cloud API's request and error shape
(tests/harness/whatsapp.py): template messages, recipients per site and severity, the
e-mail cooldown, and each error class of the API handled as the API means it."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime

import psycopg
import pytest

from analytics.delivery import whatsapp
from analytics.delivery.alerts import deliver_alerts
from analytics.delivery.config import (
    Alerts,
    DeliveryConfig,
    DeliveryConfigError,
    WhatsApp,
    WhatsAppRecipient,
    load,
)
from tests.harness.whatsapp import PHONE_NUMBER_ID, Graph, error, graph_server
from tests.integration.reports.conftest import TZ
from tests.integration.reports.plant import SITE, insert_anomaly

pytestmark = pytest.mark.integration

PLANTAO = "5511987650001"
GERENTE = "5511987650002"
OUTRA_UNIDADE = "5521987650003"


@pytest.fixture
def graph() -> Iterator[Graph]:
    with graph_server() as g:
        yield g


def _client(graph: Graph, sleeps: list[float], attempts: int = 4) -> whatsapp.Client:
    return whatsapp.Client(
        graph.url, PHONE_NUMBER_ID, graph.token, timeout=5, attempts=attempts, backoff=2.0,
        sleep=sleeps.append,
    )  # fmt: skip


TEMPLATE = whatsapp.Template(
    "emusa_alerta",
    "pt_BR",
    ("CRÍTICA", "Planta/m1", "10/11/2026 09:12", "Afundamento de tensão\nem L1:\t101,6 V"),
)


def test_template_message_shape_and_parameters(graph: Graph) -> None:
    result = _client(graph, []).send(PLANTAO, TEMPLATE)
    assert result.ok and result.message_id == "wamid.TEST1"
    (body,) = graph.received
    assert body["to"] == PLANTAO and body["type"] == "template"
    assert body["template"]["name"] == "emusa_alerta"
    assert body["template"]["language"] == {"code": "pt_BR"}
    texts = [p["text"] for p in body["template"]["components"][0]["parameters"]]
    # new lines and tabs are refused by the API inside parameters: flattened
    assert texts == [
        "CRÍTICA",
        "Planta/m1",
        "10/11/2026 09:12",
        "Afundamento de tensão em L1: 101,6 V",
    ]


def test_expired_token_stops_at_once_and_names_the_variable(graph: Graph) -> None:
    sleeps: list[float] = []
    client = whatsapp.Client(graph.url, PHONE_NUMBER_ID, "expired", sleep=sleeps.append)
    with pytest.raises(whatsapp.WhatsAppAuthError, match=r"190.*EMUSA_WHATSAPP_TOKEN"):
        client.send(PLANTAO, TEMPLATE)
    assert sleeps == [] and graph.received == []  # not retried


def test_undeliverable_and_outside_window_are_final_for_that_number(graph: Graph) -> None:
    sleeps: list[float] = []
    graph.script[PLANTAO] = [error(131026)]
    graph.script[GERENTE] = [error(131047)]
    client = _client(graph, sleeps)
    first, second = client.send(PLANTAO, TEMPLATE), client.send(GERENTE, TEMPLATE)
    assert (first.ok, first.code) == (False, 131026)
    assert first.error is not None and "undeliverable" in first.error
    assert (second.ok, second.code) == (False, 131047)
    assert second.error is not None and "24-hour" in second.error
    assert sleeps == [] and graph.received == []
    assert client.send(PLANTAO, TEMPLATE).ok  # nothing remembered: the next alert tries again


def test_rate_limits_back_off_then_succeed(graph: Graph) -> None:
    sleeps: list[float] = []
    graph.script[PLANTAO] = [error(130429), error(130429, status=429), error(131056, retry_after=7)]
    result = _client(graph, sleeps).send(PLANTAO, TEMPLATE)
    assert result.ok
    assert sleeps == [2.0, 4.0, 7.0]  # doubling delay; Retry-After when given
    assert len(graph.received) == 1


def test_rate_limit_that_outlasts_the_attempts_fails_with_its_code(graph: Graph) -> None:
    sleeps: list[float] = []
    graph.script[PLANTAO] = [error(130429)] * 5
    result = _client(graph, sleeps, attempts=3).send(PLANTAO, TEMPLATE)
    assert (result.ok, result.code) == (False, 130429)
    assert sleeps == [2.0, 4.0]


def test_server_errors_are_retried_unknown_client_errors_are_not(graph: Graph) -> None:
    sleeps: list[float] = []
    graph.script[PLANTAO] = [error(1, status=500)]
    assert _client(graph, sleeps).send(PLANTAO, TEMPLATE).ok and sleeps == [2.0]
    graph.script[PLANTAO] = [error(100)]
    failed = _client(graph, sleeps).send(PLANTAO, TEMPLATE)
    assert (failed.ok, failed.code) == (False, 100) and sleeps == [2.0]


def test_unknown_template_is_a_configuration_error(graph: Graph) -> None:
    graph.script[PLANTAO] = [error(132001)]
    with pytest.raises(whatsapp.WhatsAppTemplateError, match=r"'emusa_alerta'.*132001"):
        _client(graph, []).send(PLANTAO, TEMPLATE)


def test_unreachable_api_is_retried_then_reported() -> None:
    sleeps: list[float] = []
    client = whatsapp.Client(
        "http://127.0.0.1:9/v21.0", PHONE_NUMBER_ID, "t", timeout=1, attempts=2,
        sleep=sleeps.append,
    )  # fmt: skip
    result = client.send(PLANTAO, TEMPLATE)
    assert not result.ok and result.error is not None and "cannot reach" in result.error
    assert sleeps == [2.0]


# --- configuration ------------------------------------------------------------------


def _yaml(tmp_path: pytest.TempPathFactory | object, text: str) -> str:
    from pathlib import Path

    path = Path(str(tmp_path)) / "delivery.yaml"
    path.write_text(text, encoding="utf-8")
    return str(path)


WA_YAML = """
alerts:
  severities: [critical, warning]
  whatsapp:
    phone_number_id: "106540352242922"
    recipients:
      - {to: "+5511987650001", severities: [critical, warning]}
"""


def test_config_needs_the_token_from_the_environment(tmp_path: object) -> None:
    path = _yaml(tmp_path, WA_YAML)
    with pytest.raises(DeliveryConfigError, match="EMUSA_WHATSAPP_TOKEN is not set"):
        load(path, env={})
    cfg = load(path, env={"EMUSA_WHATSAPP_TOKEN": "tok"})
    assert cfg.whatsapp_token == "tok" and cfg.whatsapp_language == "pt_BR"
    assert cfg.alerts.whatsapp is not None
    assert cfg.alerts.whatsapp.recipients[0].to == "5511987650001"


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (("+5511987650001", "011 98765-0001"), "alerts.whatsapp.recipients.0.to"),
        (("[critical, warning]}", "[info]}"), "info not in alerts.severities"),
        (('"106540352242922"', '"abc"'), "alerts.whatsapp.phone_number_id"),
        (("    recipients:", "    token: x\n    recipients:"), "alerts.whatsapp.token"),
    ],
)
def test_config_errors_name_the_key(tmp_path: object, edit: tuple[str, str], message: str) -> None:
    path = _yaml(tmp_path, WA_YAML.replace(*edit))
    with pytest.raises(DeliveryConfigError, match=message):
        load(path, env={"EMUSA_WHATSAPP_TOKEN": "tok"})


def test_token_is_refused_in_the_yaml(tmp_path: object) -> None:
    path = _yaml(tmp_path, "whatsapp_token: abc\n")
    with pytest.raises(
        DeliveryConfigError, match="whatsapp_token: secrets are read from the environment"
    ):
        load(path, env={})


# --- delivery with the database's cooldown ------------------------------------------


def _at(h: int, m: int) -> datetime:
    return datetime(2026, 11, 10, h, m, tzinfo=TZ)


_anomaly = insert_anomaly


def _wa_config(config: DeliveryConfig, graph: Graph, token: str) -> DeliveryConfig:
    wa = WhatsApp(
        phone_number_id=PHONE_NUMBER_ID, api_url=graph.url, backoff_s=0,
        recipients=[
            WhatsAppRecipient(to=PLANTAO, severities=["critical", "warning"]),
            WhatsAppRecipient(to=GERENTE, sites=[SITE], severities=["critical"]),
            WhatsAppRecipient(to=OUTRA_UNIDADE, sites=["outra"], severities=["critical"]),
        ],
    )  # fmt: skip
    alerts = Alerts(severities=["critical", "warning"], email=False, whatsapp=wa, max_attempts=3)
    return config.model_copy(update={"alerts": alerts, "whatsapp_token": token})


def test_alerts_reach_the_recipients_of_their_site_and_severity_with_cooldown(
    plant_db: str, config: DeliveryConfig, graph: Graph
) -> None:
    cfg = _wa_config(config, graph, graph.token)
    first = deliver_alerts(plant_db, _at(14, 5), cfg)
    # the fixture's critical sag (m1, 09:12) and warning PF (m2, 14:00)
    assert [(r.outcome, r.channels, r.error) for r in first] == [("sent", ("whatsapp",), None)] * 2
    sent_to = [
        (b["to"], b["template"]["components"][0]["parameters"][0]["text"]) for b in graph.received
    ]
    assert sent_to == [(PLANTAO, "CRÍTICA"), (GERENTE, "CRÍTICA"), (PLANTAO, "ALERTA")]
    sag = [p["text"] for p in graph.received[0]["template"]["components"][0]["parameters"]]
    assert sag == [
        "CRÍTICA",
        "Planta Teste/m1",
        "10/11/2026 09:12",
        "Afundamento de tensão em L1: 101,6 V",
    ]
    # same meter and kind inside the cooldown: suppressed on WhatsApp as on e-mail
    again = _anomaly(plant_db, "m1", "voltage_band", "critical", _at(14, 30))
    assert [(r.anomaly_id, r.outcome) for r in deliver_alerts(plant_db, _at(14, 35), cfg)] == [
        (again, "suppressed")
    ]
    assert len(graph.received) == 3


def test_expired_token_fails_the_alert_and_it_is_sent_once_renewed(
    plant_db: str, config: DeliveryConfig, graph: Graph
) -> None:
    expired = _wa_config(config, graph, "expired-token")
    failed = deliver_alerts(plant_db, _at(14, 5), expired)
    assert [r.outcome for r in failed] == ["failed", "failed"]
    assert failed[0].error is not None and "190" in failed[0].error
    assert "EMUSA_WHATSAPP_TOKEN" in failed[0].error
    renewed = _wa_config(config, graph, graph.token)
    assert [r.outcome for r in deliver_alerts(plant_db, _at(14, 6), renewed)] == ["sent", "sent"]
    with psycopg.connect(plant_db) as conn:
        rows = conn.execute("SELECT outcome, attempts, channels FROM alert_deliveries").fetchall()
    assert rows == [("sent", 2, ["whatsapp"])] * 2


def test_one_undeliverable_number_does_not_fail_the_alert(
    plant_db: str, config: DeliveryConfig, graph: Graph
) -> None:
    graph.script[GERENTE] = [error(131026)]
    results = deliver_alerts(plant_db, _at(14, 5), _wa_config(config, graph, graph.token))
    sag = results[0]
    assert (sag.outcome, sag.channels) == ("sent", ("whatsapp",))
    assert sag.error is not None and "131026" in sag.error and "+55…0002" in sag.error
    assert [b["to"] for b in graph.received] == [PLANTAO, PLANTAO]
