"""Tariff calendar: ponta / intermediario / fora_ponta of instants, in Sao Paulo time
(no daylight saving since 2019), weekends and Brazilian national holidays."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime

import psycopg
import pytest

from analytics.worker.rollups import refresh

pytestmark = pytest.mark.integration


@pytest.fixture
def cal(db: str) -> Iterator[psycopg.Connection[tuple[object, ...]]]:
    with psycopg.connect(db, autocommit=True) as conn:
        conn.execute(
            "INSERT INTO sites (site_id, name, tariff_modality) VALUES ('verde', 'V', 'verde')"
        )
        conn.execute(
            "INSERT INTO sites (site_id, name, tariff_modality) VALUES ('branca', 'B', 'branca')"
        )
        yield conn


def period(conn: psycopg.Connection[tuple[object, ...]], site: str, ts: str) -> str:
    row = conn.execute("SELECT emusa_tariff_period(%s, %s::timestamptz)", (site, ts)).fetchone()
    assert row is not None
    return str(row[0])


@pytest.mark.parametrize(
    ("ts", "verde", "branca"),
    [
        # Wednesday 2026-11-25, local = UTC-3
        ("2026-11-25 18:30-03", "ponta", "ponta"),
        ("2026-11-25 21:30Z", "ponta", "ponta"),  # same instant in UTC
        ("2026-11-25 18:00-03", "ponta", "ponta"),  # window start is inside
        ("2026-11-25 17:59:59-03", "fora_ponta", "intermediario"),
        ("2026-11-25 21:00-03", "fora_ponta", "intermediario"),  # window end is outside
        ("2026-11-25 21:59:59-03", "fora_ponta", "intermediario"),
        ("2026-11-25 22:00-03", "fora_ponta", "fora_ponta"),
        ("2026-11-25 12:00-03", "fora_ponta", "fora_ponta"),
        # Saturday and Sunday: no ponta at all
        ("2026-11-28 18:30-03", "fora_ponta", "fora_ponta"),
        ("2026-11-29 19:00-03", "fora_ponta", "fora_ponta"),
        # January, when Brazil had daylight saving until 2019: 21:30Z is 18:30 local now
        ("2026-01-14 21:30Z", "ponta", "ponta"),
        ("2026-01-14 20:30Z", "fora_ponta", "intermediario"),
        # ... but in December 2018 Sao Paulo was UTC-2: 20:30Z was 18:30 local
        ("2018-12-12 20:30Z", "ponta", "ponta"),
    ],
)
def test_classification(
    cal: psycopg.Connection[tuple[object, ...]], ts: str, verde: str, branca: str
) -> None:
    assert period(cal, "verde", ts) == verde
    assert period(cal, "branca", ts) == branca


@pytest.mark.parametrize(
    "day",
    [
        "2026-01-01",  # Confraternização (Thursday)
        "2026-02-17",  # Carnival Tuesday
        "2026-04-03",  # Good Friday
        "2026-04-21",  # Tiradentes (Tuesday)
        "2026-06-04",  # Corpus Christi (Thursday)
        "2026-09-07",  # Independência (Monday)
        "2026-10-12",  # Nossa Senhora Aparecida (Monday)
        "2026-11-02",  # Finados (Monday)
        "2026-11-20",  # Consciência Negra (Friday), national since 2024
        "2025-12-25",  # Natal (Thursday)
    ],
)
def test_national_holidays_have_no_ponta(
    cal: psycopg.Connection[tuple[object, ...]], day: str
) -> None:
    assert period(cal, "verde", f"{day} 19:00-03") == "fora_ponta"
    assert period(cal, "branca", f"{day} 17:30-03") == "fora_ponta"


def test_day_after_a_holiday_has_ponta(cal: psycopg.Connection[tuple[object, ...]]) -> None:
    assert period(cal, "verde", "2026-04-06 19:00-03") == "ponta"  # Monday after Easter
    assert period(cal, "verde", "2023-11-20 19:00-03") == "ponta"  # before Lei 14.759/2023


@pytest.mark.parametrize(
    ("year", "easter"),
    [
        (2019, date(2019, 4, 21)),
        (2024, date(2024, 3, 31)),
        (2025, date(2025, 4, 20)),
        (2026, date(2026, 4, 5)),
        (2027, date(2027, 3, 28)),
        (2038, date(2038, 4, 25)),
    ],
)
def test_easter(cal: psycopg.Connection[tuple[object, ...]], year: int, easter: date) -> None:
    assert cal.execute("SELECT emusa_easter(%s)", (year,)).fetchone() == (easter,)


def test_site_holiday_and_custom_windows(cal: psycopg.Connection[tuple[object, ...]]) -> None:
    assert period(cal, "verde", "2026-01-20 19:00-03") == "ponta"
    cal.execute(
        "INSERT INTO holidays (site_id, day, name) VALUES ('verde', '2026-01-20', 'São Sebastião')"
    )
    assert period(cal, "verde", "2026-01-20 19:00-03") == "fora_ponta"
    assert period(cal, "branca", "2026-01-20 19:00-03") == "ponta"  # other site unaffected
    # The distributor moves ponta to 17:30-20:30 from 2027
    cal.execute(
        "INSERT INTO tariff_windows (site_id, period, starts, ends, valid_from)"
        " VALUES ('verde', 'ponta', '17:30', '20:30', '2027-01-01')"
    )
    assert period(cal, "verde", "2026-12-01 17:45-03") == "fora_ponta"
    assert period(cal, "verde", "2027-02-02 17:45-03") == "ponta"
    assert period(cal, "verde", "2027-02-02 20:45-03") == "fora_ponta"


def test_unknown_site_is_an_error_naming_it(cal: psycopg.Connection[tuple[object, ...]]) -> None:
    with pytest.raises(psycopg.errors.ForeignKeyViolation, match="unknown site nowhere"):
        period(cal, "nowhere", "2026-11-25 18:30-03")


def test_site_demand_uses_the_ponta_contract_for_tarifa_azul(db: str) -> None:
    with psycopg.connect(db) as conn:
        conn.execute(
            "INSERT INTO sites (site_id, name, tariff_modality, contracted_demand_kw, contracted_demand_ponta_kw)"
            " VALUES ('azul', 'A', 'azul', 100, 60)"
        )
        conn.execute("INSERT INTO meters (site_id, name) VALUES ('azul', 'main')")
        # 64 kW all day on a Wednesday: above the ponta limit (60 x 1.05 = 63), below fora-ponta
        conn.execute(
            "INSERT INTO readings (time, meter_id, p_total, e_imp_kwh)"
            " SELECT t, 1, 64, 64 * extract(epoch FROM t - '2026-11-25 03:00Z') / 3600"
            " FROM generate_series('2026-11-25 03:00Z'::timestamptz, '2026-11-26 03:00Z', '10 s') t"
        )
    refresh(
        db,
        datetime.fromisoformat("2026-11-25T03:00+00:00"),
        datetime.fromisoformat("2026-11-26T03:00+00:00"),
    )
    with psycopg.connect(db) as conn:
        rows = conn.execute(
            "SELECT tariff_period, contracted_kw, limit_kw, bool_and(exceeds_limit), bool_or(exceeds_limit), count(*)"
            " FROM bi.site_demand_15m WHERE time_local >= '2026-11-25' AND time_local < '2026-11-26'"
            " GROUP BY 1, 2, 3 ORDER BY 1"
        ).fetchall()
        daily = conn.execute(
            "SELECT energy_kwh, energy_ponta_kwh, max_demand_ponta_kw FROM bi.energy_daily WHERE day = '2026-11-25'"
        ).fetchone()
    assert rows == [
        ("fora_ponta", 100.0, pytest.approx(105.0), False, False, 84),
        ("ponta", 60.0, pytest.approx(63.0), True, True, 12),
    ]
    assert daily is not None
    assert daily[0] == pytest.approx(64 * 24, rel=1e-3)
    assert daily[1] == pytest.approx(64 * 3, rel=1e-6)
    assert daily[2] == pytest.approx(64.0, rel=1e-6)
