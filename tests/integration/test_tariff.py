"""Tariff calendar: ponta / intermediario / fora_ponta of instants, in Sao Paulo time
(no daylight saving since 2019), weekends and Brazilian national holidays."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime
from pathlib import Path
from typing import Any

import psycopg
import pytest

from analytics.reports.data import queries as report_queries
from analytics.worker.rollups import refresh
from ingestor.migrate import migrate
from tests.harness.migrations import migrate_up_to

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


# The set-based calendar (migration 0021) ---------------------------------------------

# Each query: per site, the buckets of [start, end), how many the set-based calendar
# (emusa_tariff_period_local) and emusa_tariff_period() classify differently, and how
# many are ponta / intermediario. A bucket the calendar missed would lower the count.
COMPARE = """
SELECT s.site_id, count(*),
       count(*) FILTER (WHERE t.period IS DISTINCT FROM emusa_tariff_period(s.site_id, g.t)),
       count(*) FILTER (WHERE t.period = 'ponta'),
       count(*) FILTER (WHERE t.period = 'intermediario')
FROM sites s
CROSS JOIN generate_series(%(start)s::timestamptz, %(end)s::timestamptz - %(step)s::interval,
                           %(step)s::interval) AS g (t)
CROSS JOIN LATERAL emusa_tariff_period_local(s.site_id, g.t AT TIME ZONE s.timezone) AS t
GROUP BY s.site_id
ORDER BY s.site_id
"""


def local_period(conn: psycopg.Connection[tuple[object, ...]], site: str, local: str) -> str:
    row = conn.execute(
        "SELECT period FROM emusa_tariff_period_local(%s, %s::timestamp)", (site, local)
    ).fetchone()
    assert row is not None
    return str(row[0])


@pytest.fixture
def calendars(db: str) -> Iterator[psycopg.Connection[tuple[object, ...]]]:
    """Three sites in Sao Paulo: tarifa azul, verde (with a municipal holiday) and branca
    (its windows move 30 minutes earlier on 2019-06-01)."""
    with psycopg.connect(db, autocommit=True) as conn:
        conn.execute(
            "INSERT INTO sites (site_id, name, tariff_modality) VALUES"
            " ('azul', 'A', 'azul'), ('verde', 'V', 'verde'), ('branca', 'B', 'branca')"
        )
        conn.execute(
            "INSERT INTO holidays (site_id, day, name) VALUES"
            " ('verde', '2019-01-25', 'Aniversário de São Paulo')"
        )
        conn.execute(
            "INSERT INTO tariff_windows (site_id, period, starts, ends, valid_from) VALUES"
            " ('branca', 'ponta', '17:30', '20:30', '2019-06-01'),"
            " ('branca', 'intermediario', '16:30', '17:30', '2019-06-01'),"
            " ('branca', 'intermediario', '20:30', '21:30', '2019-06-01')"
        )
        yield conn


def test_calendar_equals_the_function_bucket_by_bucket_over_two_years(
    calendars: psycopg.Connection[tuple[object, ...]],
) -> None:
    """2018-2019 in Sao Paulo: Brazil's last daylight saving time (2018-11-04 to
    2019-02-17), Carnival, Good Friday and Corpus Christi of both years, a site holiday,
    a change of windows in the middle."""
    rows = calendars.execute(
        COMPARE, {"start": "2018-01-01 00:00-02", "end": "2020-01-01 00:00-03", "step": "15 min"}
    ).fetchall()
    # 2018 and 2019 in local time, 730 days, plus the hour that two winters gave back and
    # one summer took (2018-02-18 and 2019-02-17 had 25 hours, 2018-11-04 23)
    buckets = 730 * 96 + 4
    assert [r[:3] for r in rows] == [
        ("azul", buckets, 0),
        ("branca", buckets, 0),
        ("verde", buckets, 0),
    ]
    by_site = {str(r[0]): (int(str(r[3])), int(str(r[4]))) for r in rows}
    assert by_site["azul"][0] > 0 and by_site["azul"][1] == 0
    assert by_site["verde"][0] == by_site["azul"][0] - 12  # its holiday: 3 h of ponta
    assert by_site["branca"][1] > 0  # intermediario: tarifa branca only
    for day in ("2019-03-05", "2019-04-19", "2019-06-20"):  # Carnival, Good Friday, Corpus
        assert local_period(calendars, "azul", f"{day} 19:00") == "fora_ponta"
        assert local_period(calendars, "azul", f"{day} 12:00") == "fora_ponta"
    assert local_period(calendars, "azul", "2019-03-06 19:00") == "ponta"  # Ash Wednesday
    assert local_period(calendars, "verde", "2019-01-25 19:00") == "fora_ponta"
    assert local_period(calendars, "azul", "2019-01-25 19:00") == "ponta"
    # 17:45 on a Monday: intermediario before the change, ponta after it
    assert local_period(calendars, "branca", "2019-05-27 17:45") == "intermediario"
    assert local_period(calendars, "branca", "2019-06-03 17:45") == "ponta"
    assert local_period(calendars, "branca", "2019-06-03 21:15") == "intermediario"
    # DST: 20:30Z was 18:30 local on 2018-11-05, and 17:30 local on 2019-03-11
    assert period(calendars, "azul", "2018-11-05 20:30Z") == "ponta"
    assert period(calendars, "azul", "2019-03-11 20:30Z") == "fora_ponta"


def test_calendar_equals_the_function_with_odd_windows_and_zones(
    calendars: psycopg.Connection[tuple[object, ...]],
) -> None:
    """Overlapping windows, a window to midnight, edges off the quarter hour, a site
    without windows, a version with intermediario only on a verde site, another time zone;
    every 5 minutes over a month, and around 2000 and 2100, where the calendar asks
    emusa_br_national_holidays() for the year."""
    calendars.execute(
        "INSERT INTO sites (site_id, name, tariff_modality, timezone) VALUES"
        " ('odd', 'O', 'branca', 'America/Manaus'), ('none', 'N', 'verde', 'America/Recife')"
    )
    calendars.execute("DELETE FROM tariff_windows WHERE site_id = 'none'")
    calendars.execute(
        "INSERT INTO tariff_windows (site_id, period, starts, ends, valid_from) VALUES"
        " ('odd', 'ponta', '23:00', '24:00', '2019-03-01'),"
        " ('odd', 'intermediario', '22:00', '23:30', '2019-03-01'),"
        " ('odd', 'ponta', '06:07', '06:53', '2019-03-01'),"
        " ('odd', 'ponta', '06:30', '07:00', '2019-03-01'),"
        " ('odd', 'intermediario', '00:00', '00:10', '2019-03-01'),"
        " ('verde', 'intermediario', '10:00', '12:00', '2019-04-01')"
    )
    for start, end, step in (
        ("2019-02-20 00:00Z", "2019-03-20 00:00Z", "5 min"),  # the version of 2019-03-01
        ("2019-03-25 00:00Z", "2019-04-10 00:00Z", "15 min"),  # verde's of 2019-04-01
        ("1999-12-24 00:00Z", "2000-01-03 00:00Z", "15 min"),
        ("2100-12-24 00:00Z", "2101-01-03 00:00Z", "15 min"),
    ):
        rows = calendars.execute(COMPARE, {"start": start, "end": end, "step": step}).fetchall()
        assert len(rows) == 5, (start, rows)
        for site, n, wrong, ponta, _ in rows:
            assert wrong == 0 and n == rows[0][1], (start, site, rows)
            if site == "none":
                assert ponta == 0
    assert local_period(calendars, "odd", "2019-03-12 23:15") == "ponta"  # ponta wins
    assert local_period(calendars, "odd", "2019-03-12 22:59:59") == "intermediario"
    assert local_period(calendars, "odd", "2019-03-12 06:52") == "ponta"
    assert local_period(calendars, "verde", "2019-04-02 19:00") == "fora_ponta"  # new version


def test_calendar_cuts_every_day_into_pieces_without_gap_or_overlap(
    calendars: psycopg.Connection[tuple[object, ...]],
) -> None:
    """Every local instant of a site falls in one row of tariff_calendar: per site the
    versions follow each other from -infinity to infinity, and per version and day kind
    the pieces follow each other from 00:00 to 24:00."""
    bad_versions = calendars.execute(
        "SELECT site_id FROM (SELECT DISTINCT site_id, valid_from, valid_until FROM tariff_calendar) v"
        " GROUP BY site_id"
        " HAVING min(valid_from) <> '-infinity' OR max(valid_until) <> 'infinity'"
        " OR count(*) <> count(DISTINCT valid_until)"
        " OR count(*) - 1 <> (SELECT count(*) FROM tariff_calendar a"
        "   JOIN tariff_calendar b ON b.site_id = a.site_id AND b.valid_from = a.valid_until"
        "   WHERE a.site_id = v.site_id AND NOT a.working AND NOT b.working)"
    ).fetchall()
    bad_pieces = calendars.execute(
        "SELECT site_id, valid_from, working FROM ("
        "  SELECT *, lag(ends) OVER (PARTITION BY site_id, valid_from, working ORDER BY starts) AS prev"
        "  FROM tariff_calendar) p"
        " GROUP BY 1, 2, 3"
        " HAVING min(starts) <> '00:00' OR max(ends) <> '24:00'"
        " OR bool_or(prev IS NOT NULL AND prev <> starts) OR bool_or(starts >= ends)"
    ).fetchall()
    off_days = calendars.execute(
        "SELECT DISTINCT period FROM tariff_calendar WHERE NOT working"
    ).fetchall()
    assert bad_versions == [] and bad_pieces == []
    assert off_days == [("fora_ponta",)]


def test_national_holidays_set_is_the_one_year_function(
    cal: psycopg.Connection[tuple[object, ...]],
) -> None:
    """tariff_national_holidays (2000-2100 in one pass) lists what
    emusa_br_national_holidays(year) answers, year by year."""
    row = cal.execute(
        "SELECT (SELECT count(*) FROM tariff_national_holidays),"
        " (SELECT count(*) FROM ("
        "   SELECT day, name FROM tariff_national_holidays"
        "   EXCEPT SELECT h.day, h.name FROM generate_series(2000, 2100) y,"
        "   LATERAL emusa_br_national_holidays(y) h) x),"
        " (SELECT count(*) FROM generate_series(2000, 2100) y, LATERAL emusa_br_national_holidays(y) h)"
    ).fetchone()
    assert row == (1188, 0, 1188)  # 11 a year, 12 from 2024


# The reports' splits as they were before 0021: emusa_tariff_period() per interval.
SPLITS_BEFORE = {
    "meter_splits": "SELECT m.name, emusa_tariff_period(m.site_id, d.bucket) AS period,"
    " sum(d.e_imp_kwh_delta), max(d.demand_kw) FROM demand_15m d"
    " JOIN meters m ON m.meter_id = d.meter_id"
    " WHERE m.site_id = %(site)s AND d.bucket >= %(start)s AND d.bucket < %(end)s"
    " GROUP BY 1, 2 ORDER BY 1, 2",
    "site_splits": "SELECT emusa_tariff_period(d.site_id, d.bucket) AS period,"
    " sum(d.e_imp_kwh_delta), max(d.demand_kw) FROM site_demand_15m d"
    " WHERE d.site_id = %(site)s AND d.bucket >= %(start)s AND d.bucket < %(end)s"
    " GROUP BY 1 ORDER BY 1",
}

BI_SNAPSHOTS = {
    "bi.demand_15m": "SELECT * FROM bi.demand_15m ORDER BY site_id, meter, time_utc",
    "bi.site_demand_15m": "SELECT * FROM bi.site_demand_15m ORDER BY site_id, time_utc",
    "bi.energy_daily": "SELECT * FROM bi.energy_daily ORDER BY site_id, meter, day",
}


def _bi_snapshot(dsn: str) -> dict[str, list[tuple[Any, ...]]]:
    with psycopg.connect(dsn) as conn:
        return {view: conn.execute(sql).fetchall() for view, sql in BI_SNAPSHOTS.items()}


def test_bi_views_return_what_they_returned_before_0021(empty_db: str, tmp_path: Path) -> None:
    """The same data read through the bi views at migration 0020 (emusa_tariff_period()
    per row) and after 0021 (the set-based calendar): equal row for row, and equal to
    emusa_tariff_period() applied to each row. Eight days around Carnival 2019 (Tuesday
    5 March), a weekend, a site holiday and a change of windows; 1-minute readings whose
    energies, powers and power factors add up exactly in any order."""
    migrate_up_to(empty_db, 20, tmp_path)
    start, end = "2019-02-28 03:00Z", "2019-03-08 03:00Z"
    with psycopg.connect(empty_db) as conn:
        conn.execute(
            "INSERT INTO sites (site_id, name, tariff_modality, contracted_demand_kw,"
            " contracted_demand_ponta_kw) VALUES ('azul', 'A', 'azul', 100, 60),"
            " ('branca', 'B', 'branca', 80, NULL)"
        )
        conn.execute(
            "INSERT INTO meters (site_id, name) VALUES ('azul', 'm1'), ('azul', 'm2'), ('branca', 'b1')"
        )
        conn.execute(
            "INSERT INTO holidays (site_id, day, name) VALUES ('branca', '2019-03-07', 'x')"
        )
        conn.execute(
            "INSERT INTO tariff_windows (site_id, period, starts, ends, valid_from) VALUES"
            " ('azul', 'ponta', '17:00', '20:00', '2019-03-06')"
        )
        # counter kWh: integers; power factor: one exact value per meter
        conn.execute(
            "INSERT INTO readings (time, meter_id, p_total, q_total, pf_total, e_imp_kwh)"
            " SELECT %s::timestamptz + i * interval '1 minute', m.meter_id,"
            "        10 + (i + m.meter_id) %% 13, 3, 0.25 * (m.meter_id + 1),"
            "        i * (m.meter_id + 1) + i / 97"
            " FROM meters m, generate_series(0, 8 * 1440 - 1) AS i",
            (start,),
        )
    refresh(empty_db, datetime.fromisoformat(start), datetime.fromisoformat(end))
    old = _bi_snapshot(empty_db)

    assert len(migrate(empty_db)) >= 1  # 0021 and anything after it
    new = _bi_snapshot(empty_db)
    assert [len(new[v]) for v in BI_SNAPSHOTS] == [3 * 8 * 96, 2 * 8 * 96, 3 * 8]
    for view in BI_SNAPSHOTS:
        assert new[view] == old[view], view
    with psycopg.connect(empty_db) as conn:
        row = conn.execute(
            "SELECT (SELECT count(*) FILTER (WHERE tariff_period IS DISTINCT FROM"
            "          emusa_tariff_period(site_id, time_utc)) FROM bi.demand_15m),"
            "       (SELECT count(*) FILTER (WHERE tariff_period IS DISTINCT FROM"
            "          emusa_tariff_period(site_id, time_utc)) FROM bi.site_demand_15m),"
            "       (SELECT array_agg(DISTINCT tariff_period ORDER BY tariff_period)"
            "          FROM bi.site_demand_15m)"
        ).fetchone()
        carnival = conn.execute(
            "SELECT energy_ponta_kwh FROM bi.energy_daily WHERE day = '2019-03-05'"
        ).fetchall()
        # the reports' splits (analytics/reports/queries.sql) over a day and over the week
        splits = []
        for site in ("azul", "branca"):
            for frm, to in ((start, end), ("2019-03-06 03:00Z", "2019-03-07 03:00Z")):
                params = {"site": site, "start": frm, "end": to}
                for name, old_sql in SPLITS_BEFORE.items():
                    got = conn.execute(report_queries()[name], params).fetchall()
                    assert got == conn.execute(old_sql, params).fetchall(), (name, params)
                    splits.append(len(got))
    assert row == (0, 0, ["fora_ponta", "intermediario", "ponta"])
    assert carnival == [(None,)] * 3  # no ponta on Carnival Tuesday
    assert min(splits) >= 2
