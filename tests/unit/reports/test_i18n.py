# ruff: noqa: RUF001  (the en dash is the expected output)
from __future__ import annotations

from datetime import date, datetime

import pytest

from analytics import i18n

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(
    ("value", "decimals", "pt", "en"),
    [
        (1234.5, 1, "1.234,5", "1,234.5"),
        (1234567.891, 2, "1.234.567,89", "1,234,567.89"),
        (0.8923, 3, "0,892", "0.892"),
        (-12.25, 1, "-12,2", "-12.2"),
        (999.96, 1, "1.000,0", "1,000.0"),
        (5, 0, "5", "5"),
    ],
)
def test_numbers(value: float, decimals: int, pt: str, en: str) -> None:
    assert i18n.number(value, decimals, "pt-BR") == pt
    assert i18n.number(value, decimals, "en") == en


def test_missing_values_and_money() -> None:
    assert i18n.number(None) == "–"
    assert i18n.number(float("nan")) == "–"
    assert i18n.money(22807.99, "pt-BR") == "R$ 22.807,99"
    assert i18n.money(22807.99, "en") == "R$ 22,807.99"
    assert i18n.percent(0.154, 1, "pt-BR") == "15,4 %"
    assert i18n.signed_percent(0.1, 1, "en") == "+10.0 %"
    assert i18n.signed_percent(-0.085, 1, "pt-BR") == "-8,5 %"


def test_dates_and_labels() -> None:
    assert i18n.day(date(2026, 11, 5), "pt-BR") == "05/11/2026"
    assert i18n.day(date(2026, 11, 5), "en") == "2026-11-05"
    assert i18n.when(datetime(2026, 11, 5, 18, 30), "pt-BR") == "05/11/2026 18:30"
    assert i18n.period_label("fora_ponta", "pt-BR") == "Fora de ponta"
    assert i18n.severity_label("critical", "pt-BR") == "crítica"
    assert i18n.t("daily_title", "en") == "Energy report – 24 hours"


def test_every_string_has_both_languages() -> None:
    for key, (pt, en) in i18n._STRINGS.items():
        assert pt and en, key
