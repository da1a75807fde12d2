"""Summary texts from the numbers: pt-BR with decimal comma, English, key numbers."""

from __future__ import annotations

import pytest

from analytics import i18n
from analytics.detection.texts import describe
from analytics.summaries import text as summary

pytestmark = pytest.mark.unit

METRICS: summary.Metrics = {
    "site": "plant",
    "tz": "America/Sao_Paulo",
    "period_start": "2026-11-23T09:00:00+00:00",
    "period_end": "2026-11-23T15:00:00+00:00",
    "pf_reference": 0.92,
    "intervals": 24,
    "energy_kwh": 1637.84,
    "peak_demand_kw": 373.49,
    "peak_at": "2026-11-23T12:15:00+00:00",
    "limit_kw": 315.0,
    "pf_avg": 0.9351,
    "voltage": {
        "readings": 108,
        "adequate_pct": 88.89,
        "precarious_pct": 0.0,
        "critical_pct": 11.11,
    },
    "anomalies": {
        "total": 2,
        "by_kind": {"voltage_band": 1, "demand_exceeded": 1},
        "by_severity": {"critical": 2},
        "top": [
            {
                "kind": "voltage_band",
                "message_pt": "medidor m1: afundamento",
                "message_en": "meter m1: sag",
            }
        ],
    },
    "previous": {"energy_kwh": 1500.0, "peak_demand_kw": 280.0, "intervals": 24},
    "last_week": {"energy_kwh": 1700.0, "peak_demand_kw": 300.0, "intervals": 24},
}


def test_number_formats() -> None:
    assert i18n.text_number(1234.5, "pt-BR") == "1.234,5"
    assert i18n.text_number(1234.5, "en") == "1,234.5"
    assert i18n.text_number(-0.5, "pt-BR", 2) == "\u22120,50"
    assert i18n.percent_change(0.0919, "pt-BR") == "+9,2%"


def test_pt_br_text_carries_the_numbers() -> None:
    text = summary.render(METRICS, "pt-BR")
    assert text.startswith("Resumo de 6 h - plant, 23/11/2026 06h00-12h00.")
    assert (
        "Consumo: 1.637,8 kWh (+9,2% frente às 6 h anteriores; \u22123,7% frente ao mesmo período da semana passada)."
        in text
    )
    assert "Demanda máxima (15 min): 373,5 kW às 09h15, ACIMA do limite de 315,0 kW" in text
    assert "Fator de potência médio: 0,94 (referência 0,92)." in text
    assert "88,9% das medições de 10 min na faixa adequada" in text
    assert "Anomalias: 2 (2 crítica(s))" in text and "medidor m1: afundamento" in text


def test_english_text() -> None:
    text = summary.render(METRICS, "en")
    assert "Energy: 1,637.8 kWh (+9.2% vs the previous 6 h" in text
    assert "Peak 15-min demand: 373.5 kW at 09:15, ABOVE the 315.0 kW limit" in text
    assert "meter m1: sag" in text


def test_key_numbers_per_language() -> None:
    assert summary.key_numbers(METRICS, "pt-BR") == ["1.637,8", "373,5", "0,94"]
    assert summary.key_numbers(METRICS, "en") == ["1,637.8", "373.5", "0.94"]


def test_window_without_data_says_so() -> None:
    empty = {k: METRICS[k] for k in ("site", "tz", "period_start", "period_end")}
    text = summary.render(empty, "pt-BR")
    assert "Sem dados de medição neste período." in text and "Nenhuma anomalia" in text
    assert summary.key_numbers(empty, "pt-BR") == []


def test_no_comparison_without_reference() -> None:
    text = summary.render({**METRICS, "previous": None, "last_week": None}, "pt-BR")
    assert "Consumo: 1.637,8 kWh." in text


def test_event_messages_in_both_languages() -> None:
    pt, en = describe("demand_exceeded", None, 373.49, 315.0, {})
    assert (
        pt
        == "site (total): demanda de 15 min de 373,5 kW acima do limite de 315,0 kW (contratada + tolerância)"
    )
    assert en.startswith("site total: 15-min demand of 373.5 kW above the 315.0 kW limit")
    pt, en = describe(
        "voltage_band",
        "m1",
        98.27,
        117.0,
        {"band": "critical", "phase": "L1", "adequate_low": 117.0, "adequate_high": 133.0},
    )
    assert "tensão L1 em faixa crítica: 98,3 V" in pt and "critical band: 98.3 V" in en
    drivers = [
        {
            "feature": "p_kw",
            "label_pt": "potência ativa (kW)",
            "label_en": "active power (kW)",
            "value": 410.0,
            "typical": 95.0,
            "decimals": 1,
        }
    ]
    pt, en = describe("model_outlier", "m1", 3.0, 1.0, {"drivers": drivers})
    assert (
        "potência ativa (kW) 410,0 (típico 95,0)" in pt
        and "active power (kW) 410.0 (typical 95.0)" in en
    )


def test_the_model_warm_up_is_told_and_a_ready_model_is_not() -> None:
    status = {"ready": ["working"], "warming_up": ["weekend_holiday"], "min_days": 3,
              "days": {"working": 5, "weekend_holiday": 2}}  # fmt: skip
    ready = {"ready": ["working"], "warming_up": [], "min_days": 3, "days": {"working": 5}}
    warming = {**METRICS, "model": {"meters": {"m2": ready, "m1": status}}}
    pt, en = summary.render(warming, "pt-BR"), summary.render(warming, "en")
    assert pt.splitlines()[-1] == (
        "Modelo estatístico: histórico ainda insuficiente em m1 (fins de semana/feriados: "
        "2 de 3 dias) - esses horários não são avaliados pelo modelo."
    )
    assert en.splitlines()[-1].startswith(
        "Statistical model: not enough history yet for m1 (weekends/holidays: 2 of 3 days)"
    )
    assert "m2" not in pt
    quiet = {**METRICS, "model": {"meters": {"m2": ready}}}
    assert "Modelo" not in summary.render(quiet, "pt-BR")
