from __future__ import annotations

import re
from datetime import time
from pathlib import Path

import pytest

from analytics.delivery.config import DEFAULT_BRANDING, DeliveryConfigError, load

pytestmark = pytest.mark.unit


def test_defaults() -> None:
    cfg = load(env={})
    assert cfg.lang == "pt-BR" and cfg.timezone == "America/Sao_Paulo"
    assert cfg.branding == DEFAULT_BRANDING == "EMUSA BRASIL – Controle e Monitoramento de Energia"  # noqa: RUF001
    assert cfg.daily_send_time == time(7) and cfg.alerts.severities == ["critical"]
    assert not cfg.tariff.configured and cfg.smtp_url is None


def test_yaml_then_environment(tmp_path: Path) -> None:
    f = tmp_path / "delivery.yaml"
    f.write_text(
        "lang: en\nbranding: ACME\ndaily_send_time: '06:30'\n"
        "recipients: {daily: [gerente@acme.com.br], fortnightly: [dir@acme.com.br]}\n"
        "tariff: {demand_kw: 38.5, energy_ponta_kwh: 2.2, energy_fora_ponta_kwh: 0.41}\n"
        "alerts: {severities: [critical, warning], cooldown_minutes: 30}\n"
    )
    cfg = load(f, env={"EMUSA_LANG": "pt-BR", "EMUSA_SMTP_URL": "smtp://h:25",
                       "EMUSA_WEBHOOK_URL": "https://hook.example/x"})  # fmt: skip
    assert cfg.lang == "pt-BR"  # the environment wins
    assert cfg.branding == "ACME" and cfg.daily_send_time == time(6, 30)
    assert cfg.recipients.daily == ["gerente@acme.com.br"]
    assert cfg.tariff.demand_kw == 38.5 and cfg.tariff.configured
    assert cfg.alerts.cooldown_minutes == 30 and cfg.alerts.webhook_url == "https://hook.example/x"
    assert cfg.smtp_url == "smtp://h:25"


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("tarif: {}\n", "tarif: Extra inputs are not permitted"),
        ("tariff: {demand_kw: cheap}\n", "tariff.demand_kw: Input should be a valid number"),
        (
            "recipients: {daily: [not-an-address]}\n",
            "recipients.daily: Value error, not an e-mail address",
        ),
        ("timezone: Mars/Olympus\n", "timezone: Value error, unknown time zone"),
        ("alerts: {severities: [fatal]}\n", "alerts.severities.0: Input should be"),
        ("smtp_url: smtp://u:p@h\n", "smtp_url: secrets are read from the environment only"),
        ("- a\n", "the top level must be a mapping"),
    ],
)
def test_errors_name_file_and_key(tmp_path: Path, text: str, fragment: str) -> None:
    f = tmp_path / "delivery.yaml"
    f.write_text(text)
    with pytest.raises(DeliveryConfigError) as err:
        load(f, env={})
    assert str(err.value).startswith(f"{f}: ") and fragment in str(err.value)


def test_environment_errors_name_the_variable() -> None:
    with pytest.raises(DeliveryConfigError, match=r"^EMUSA_LANG: lang: Input should be"):
        load(env={"EMUSA_LANG": "fr"})
    with pytest.raises(DeliveryConfigError, match="cannot read"):
        load(env={"EMUSA_DELIVERY_CONFIG": "/nonexistent/delivery.yaml"})


def test_the_shipped_example_loads(tmp_path: Path) -> None:
    example = Path(__file__).resolve().parents[3] / "analytics/delivery/delivery.example.yaml"
    # its WhatsApp block, commented out, loads too once uncommented
    text = example.read_text(encoding="utf-8")
    uncommented = re.sub(r"(?m)^  # ( *(whatsapp|phone_number_id|template|language|recipients|- \{to))",
                         r"  \1", text)  # fmt: skip
    assert uncommented != text
    (tmp_path / "wa.yaml").write_text(uncommented, encoding="utf-8")
    wa = load(tmp_path / "wa.yaml", env={"EMUSA_WHATSAPP_TOKEN": "t"}).alerts.whatsapp
    assert wa is not None and [r.to for r in wa.recipients] == ["5511987654321", "5511912345678"]
    cfg = load(example, env={})
    assert cfg.site == "plant" and cfg.tariff.demand_kw == 38.5
    assert cfg.recipients.fortnightly == [
        "gerente.manutencao@example.com.br",
        "diretoria@example.com.br",
    ]
