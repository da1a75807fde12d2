"""Production shifts (migration 0010): defaults, configured shifts, validation, the
shift of an instant and bi.energy_by_shift against bi.energy_daily."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest

from analytics import shifts as shifts_module
from analytics.__main__ import main
from analytics.shifts.config import load as load_shifts
from analytics.shifts.store import apply as apply_shifts
from analytics.worker.rollups import refresh
from ingestor.migrate import migrate
from tests.harness.migrations import migrate_up_to

pytestmark = pytest.mark.integration

Conn = psycopg.Connection[tuple[Any, ...]]


@pytest.fixture
def conn(db: str) -> Iterator[Conn]:
    with psycopg.connect(db, autocommit=True) as c:
        c.execute("INSERT INTO sites (site_id, name) VALUES ('fab', 'Fábrica')")
        yield c


def shift_of(conn: Conn, ts: str, site: str = "fab") -> tuple[str, str]:
    row = conn.execute("SELECT * FROM emusa_shift(%s, %s::timestamptz)", (site, ts)).fetchone()
    assert row is not None, ts
    return str(row[0]), str(row[1])


@pytest.mark.parametrize(
    ("ts", "day", "shift"),
    [
        # Wednesday 2026-11-25 (local = UTC-3)
        ("2026-11-25 06:00-03", "2026-11-25", "A"),
        ("2026-11-25 13:59:59-03", "2026-11-25", "A"),
        ("2026-11-25 14:00-03", "2026-11-25", "B"),
        ("2026-11-25 22:00-03", "2026-11-25", "C"),
        # the night shift belongs to the production day it started on
        ("2026-11-26 05:59-03", "2026-11-25", "C"),
        ("2026-11-26 01:00Z", "2026-11-25", "C"),  # 22:00 local
        # Friday night shift runs into Saturday; the weekend bucket starts at 06:00
        ("2026-11-28 03:00-03", "2026-11-27", "C"),
        ("2026-11-28 06:00-03", "2026-11-28", "fim de semana"),
        ("2026-11-30 05:00-03", "2026-11-29", "fim de semana"),  # Sunday's bucket
        ("2026-11-30 06:00-03", "2026-11-30", "A"),  # Monday
        # Friday 20 November 2026 is a national holiday; Thursday's C ends at 06:00
        ("2026-11-20 05:00-03", "2026-11-19", "C"),
        ("2026-11-20 15:00-03", "2026-11-20", "fim de semana"),
    ],
)
def test_default_shifts(conn: Conn, ts: str, day: str, shift: str) -> None:
    assert shift_of(conn, ts) == (day, shift)


def test_site_holiday_and_unknown_site(conn: Conn) -> None:
    conn.execute(
        "INSERT INTO holidays (site_id, day, name) VALUES ('fab', '2026-11-25', 'Padroeira')"
    )
    assert shift_of(conn, "2026-11-25 15:00-03") == ("2026-11-25", "fim de semana")
    with pytest.raises(psycopg.errors.ForeignKeyViolation, match="unknown site nope"):
        shift_of(conn, "2026-11-25 15:00-03", site="nope")


def configure(
    conn: Conn, rows: list[tuple[str, list[str], str, str, str]], *, replace: bool = True
) -> None:
    """Write ``rows`` in one transaction (validated at its commit)."""
    with conn.transaction():
        if replace:
            conn.execute("DELETE FROM site_shifts WHERE site_id = 'fab'")
        for shift, days, starts, ends, valid_from in rows:
            conn.execute(
                "INSERT INTO site_shifts (site_id, shift, days, starts, ends, valid_from)"
                " VALUES ('fab', %s, %s, %s, %s, %s)",
                (shift, days, starts, ends, valid_from),
            )


TWO_SHIFTS = [
    ("dia", ["working", "saturday"], "07:00", "19:00", "2026-11-01"),
    ("noite", ["working", "saturday"], "19:00", "07:00", "2026-11-01"),
    ("folga", ["sunday", "holiday"], "07:00", "07:00", "2026-11-01"),
]


def test_configured_shifts_and_versions(conn: Conn) -> None:
    configure(conn, TWO_SHIFTS)
    assert shift_of(conn, "2026-11-25 06:59-03") == ("2026-11-24", "noite")
    assert shift_of(conn, "2026-11-25 07:00-03") == ("2026-11-25", "dia")
    assert shift_of(conn, "2026-11-28 20:00-03") == ("2026-11-28", "noite")  # Saturday
    assert shift_of(conn, "2026-11-29 20:00-03") == ("2026-11-29", "folga")  # Sunday
    # before the first version: the defaults
    assert shift_of(conn, "2026-10-28 07:00-03") == ("2026-10-28", "A")
    rows = conn.execute(
        "SELECT production_date, shift, starts_at, ends_at"
        " FROM emusa_shift_intervals('fab', '2026-11-25', '2026-11-25') ORDER BY starts_at"
    ).fetchall()
    assert [r[1] for r in rows] == ["dia", "noite"]
    assert rows[0][2] == datetime(2026, 11, 25, 10, tzinfo=UTC)
    assert rows[1][3] == datetime(2026, 11, 26, 10, tzinfo=UTC)


@pytest.mark.parametrize(
    ("rows", "message"),
    [
        (
            [
                (
                    "dia",
                    ["working", "saturday", "sunday", "holiday"],
                    "07:00",
                    "19:00",
                    "2026-11-01",
                ),
                (
                    "noite",
                    ["working", "saturday", "sunday", "holiday"],
                    "18:00",
                    "07:00",
                    "2026-11-01",
                ),
            ],
            r'site fab, version 2026-11-01, working days: shift "noite" \(18:00:00 - 07:00:00\) overlaps',
        ),
        (
            [
                (
                    "dia",
                    ["working", "saturday", "sunday", "holiday"],
                    "07:00",
                    "19:00",
                    "2026-11-01",
                ),
                (
                    "noite",
                    ["working", "saturday", "sunday", "holiday"],
                    "20:00",
                    "07:00",
                    "2026-11-01",
                ),
            ],
            r'site fab, version 2026-11-01, working days: no shift covers 19:00:00 - 20:00:00 \(before shift "noite"\)',
        ),
        (
            [
                (
                    "dia",
                    ["working", "saturday", "sunday", "holiday"],
                    "07:00",
                    "19:00",
                    "2026-11-01",
                ),
                (
                    "noite",
                    ["working", "saturday", "sunday", "holiday"],
                    "19:00",
                    "06:00",
                    "2026-11-01",
                ),
            ],
            r"site fab, version 2026-11-01, working days: no shift covers 06:00:00 - 07:00:00",
        ),
        (
            [
                ("dia", ["working"], "07:00", "19:00", "2026-11-01"),
                ("noite", ["working"], "19:00", "07:00", "2026-11-01"),
            ],
            r"site fab, version 2026-11-01: no shift on saturday days",
        ),
        (
            [
                ("dia", ["working", "saturday", "sunday"], "07:00", "19:00", "2026-11-01"),
                ("noite", ["working", "saturday", "sunday"], "19:00", "07:00", "2026-11-01"),
                ("feriado", ["holiday"], "06:00", "06:00", "2026-11-01"),
            ],
            r'site fab, version 2026-11-01, working days: the first shift "dia" starts at 07:00:00, other day types at 06:00:00',
        ),
    ],
    ids=["overlap", "gap", "short-day", "missing-day-type", "different-day-start"],
)
def test_invalid_configurations_are_rejected(
    conn: Conn, rows: list[tuple[str, list[str], str, str, str]], message: str
) -> None:
    with pytest.raises(psycopg.errors.CheckViolation, match=message):
        configure(conn, rows)
    assert conn.execute("SELECT count(*) FROM site_shifts").fetchone() == (0,)


def test_versions_must_share_the_day_start(conn: Conn) -> None:
    configure(conn, TWO_SHIFTS)
    later = [(s, d, a, b, "2027-01-01") for s, d, a, b, _ in TWO_SHIFTS]
    later = [
        (s, d, "08:00" if a == "07:00" else a, "08:00" if b == "07:00" else b, v)
        for s, d, a, b, v in later
    ]
    with pytest.raises(
        psycopg.errors.CheckViolation,
        match="version 2027-01-01: the production day starts at 08:00:00",
    ):
        configure(conn, later, replace=False)


def test_quarter_hours_only(conn: Conn) -> None:
    with pytest.raises(psycopg.errors.CheckViolation, match="site_shifts_quarter_hours"):
        conn.execute(
            "INSERT INTO site_shifts (site_id, shift, days, starts, ends)"
            " VALUES ('fab', 'x', '{working}', '06:10', '06:10')"
        )


def _write_day(conn: Conn, start: datetime, hours: int, gap: tuple[datetime, datetime]) -> None:
    """One reading a minute of one meter: 100 kW constant (counter +100/60 kWh a minute),
    PF 0.9, except for the outage ``gap``."""
    row = conn.execute(
        "INSERT INTO meters (site_id, name) VALUES ('fab', 'm1') RETURNING meter_id"
    ).fetchone()
    assert row
    with (
        conn.cursor() as cur,
        cur.copy(
            "COPY readings (time, meter_id, p_total, q_total, pf_total, e_imp_kwh) FROM STDIN"
        ) as cp,
    ):
        for k in range(hours * 60):
            t = start + timedelta(minutes=k)
            if gap[0] <= t < gap[1]:
                continue
            cp.write_row((t, row[0], 100.0, 48.4, 0.9, 1000.0 + k * 100 / 60))


def test_energy_by_shift_matches_energy_daily_and_shows_the_gap(db: str, conn: Conn) -> None:
    start = datetime(2026, 11, 25, 3, tzinfo=UTC)  # Wednesday 00:00 local
    gap = (
        datetime(2026, 11, 25, 18, tzinfo=UTC),
        datetime(2026, 11, 25, 19, tzinfo=UTC),
    )  # 15-16 h, B
    _write_day(conn, start, 24, gap)
    refresh(db, start - timedelta(hours=1), start + timedelta(hours=25))
    rows = conn.execute(
        "SELECT production_date::text, shift, energy_kwh, max_demand_kw, power_factor_avg,"
        " intervals, intervals_expected, completeness"
        " FROM bi.energy_by_shift WHERE meter = 'm1' ORDER BY start_utc"
    ).fetchall()
    by = {(r[0], r[1]): r for r in rows}
    # 00-06 local belongs to Tuesday's C; A full; B lost one hour; C until midnight
    c_prev, a, b, c = (by[("2026-11-24", "C")], by[("2026-11-25", "A")],
                       by[("2026-11-25", "B")], by[("2026-11-25", "C")])  # fmt: skip
    assert a[5:8] == (32, 32, 1.0)
    assert b[5] == 28 and b[6] == 32 and b[7] == pytest.approx(28 / 32)
    assert c[5] == 8 and c[7] == pytest.approx(8 / 32)
    assert c_prev[5] == 24
    assert a[2] == pytest.approx(800.0, rel=1e-6)
    assert a[3] == pytest.approx(100.0)
    assert a[4] == pytest.approx(0.9)
    # nothing is invented for the outage: B has the energy of its 28 intervals with data,
    # the first after the outage counted from its own first reading (14 of 15 minutes)
    assert b[2] == pytest.approx(700.0 - 100 / 60, rel=1e-6)
    daily = conn.execute(
        "SELECT energy_kwh FROM bi.energy_daily WHERE meter = 'm1' AND day = '2026-11-25'"
    ).fetchone()
    assert daily is not None
    assert c_prev[2] + a[2] + b[2] + c[2] == pytest.approx(daily[0], rel=1e-9)
    site = conn.execute(
        "SELECT energy_kwh, max_demand_kw FROM bi.energy_by_shift"
        " WHERE site_total AND production_date = '2026-11-25' AND shift = 'B'"
    ).fetchone()
    assert site is not None and site[0] == pytest.approx(b[2]) and site[1] == pytest.approx(b[3])


YAML_OK = """\
site: fab
valid_from: 2026-11-01
shifts:
  - {name: dia, days: [working, saturday], start: 07:00, end: "19:00"}
  - {name: noite, days: [working, saturday], start: "19:00", end: "07:00"}
  - {name: folga, days: [sunday, holiday], start: "07:00", end: "07:00"}
"""


def test_cli_set_show_clear(
    db: str, conn: Conn, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "shifts.yaml"
    path.write_text(YAML_OK, encoding="utf-8")
    assert main(["--database-url", db, "shifts", "set", str(path)]) == 0
    assert "fab: 3 shifts from 2026-11-01" in capsys.readouterr().out
    assert shift_of(conn, "2026-11-25 20:00-03") == ("2026-11-25", "noite")
    assert (
        main(["--database-url", db, "shifts", "show", "--site", "fab", "--date", "2026-11-29"]) == 0
    )
    assert capsys.readouterr().out.splitlines() == [
        "folga\tsunday\t2026-11-29 07:00\t2026-11-30 07:00"
    ]
    # setting the same version again replaces it (no duplicate-key error)
    assert main(["--database-url", db, "shifts", "set", str(path)]) == 0
    assert conn.execute("SELECT count(*) FROM site_shifts").fetchone() == (3,)
    assert main(["--database-url", db, "shifts", "clear", "--site", "fab"]) == 0
    assert "removed 3 shifts" in capsys.readouterr().out
    assert shift_of(conn, "2026-11-25 20:00-03") == ("2026-11-25", "B")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            YAML_OK.replace('start: "19:00"', 'start: "18:00"'),
            'working days: shift "noite" (18:00:00 - 07:00:00) overlaps the previous shift',
        ),
        (YAML_OK.replace("site: fab", "site: nope"), "unknown site 'nope'"),
        (YAML_OK + "extra: 1\n", "extra: Extra inputs are not permitted"),
        (YAML_OK.replace('end: "19:00"', 'end: "19:10"'), "'19:10' is not on a quarter hour"),
    ],
    ids=["overlap", "unknown-site", "unknown-key", "quarter-hour"],
)
def test_cli_rejects_bad_configurations(
    db: str,
    conn: Conn,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    text: str,
    message: str,
) -> None:
    path = tmp_path / "shifts.yaml"
    path.write_text(text, encoding="utf-8")
    assert main(["--database-url", db, "shifts", "set", str(path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("emusa-analytics shifts: error:") and message in err, err
    assert conn.execute("SELECT count(*) FROM site_shifts").fetchone() == (0,)


def test_the_example_file_is_valid(db: str, conn: Conn) -> None:
    cfg = load_shifts(Path(shifts_module.__file__).with_name("shifts.example.yaml"))
    cfg = cfg.model_copy(update={"site": "fab"})
    assert apply_shifts(db, cfg) == 5
    assert shift_of(conn, "2026-12-05 07:00-03") == ("2026-12-05", "sábado")
    assert shift_of(conn, "2026-12-25 07:00-03") == ("2026-12-25", "domingo e feriado")


def test_energy_by_shift_returns_what_it_returned_before_0022(
    empty_db: str, tmp_path: Path
) -> None:
    """The same data read through bi.energy_by_shift at migration 0021 (the rollups joined
    to each shift on a range) and after 0022 (on each shift's 15-minute bucket starts):
    equal row for row. Five local days from Thursday 26 November 2026: Wednesday's night
    shift C cut by the first reading, the default shifts until Saturday's "fim de semana",
    a version of 06-18 / 18-06 shifts from Sunday (folga) and Monday (dia, noite crossing
    midnight, cut by the last reading); Friday's B without data, m2 missing for 90 minutes
    of Thursday's A (complete site intervals drop, the meter's too), a sub-meter outside
    the site total. Integer energies and powers, meter power factors in quarters and no
    reactive power (site power factor 1): sums and averages are exact in any order."""
    migrate_up_to(empty_db, 21, tmp_path)
    start = datetime(2026, 11, 26, 3, tzinfo=UTC)  # Thursday 00:00 local
    end = start + timedelta(days=5)
    with psycopg.connect(empty_db, autocommit=True) as c:
        c.execute("INSERT INTO sites (site_id, name) VALUES ('fab', 'Fábrica')")
        c.execute(
            "INSERT INTO meters (site_id, name, include_in_site_total) VALUES"
            " ('fab', 'm1', true), ('fab', 'm2', true), ('fab', 'sub', false)"
        )
        configure(
            c,
            [
                ("dia", ["working", "saturday"], "06:00", "18:00", "2026-11-29"),
                ("noite", ["working", "saturday"], "18:00", "06:00", "2026-11-29"),
                ("folga", ["sunday", "holiday"], "06:00", "06:00", "2026-11-29"),
            ],
        )
        c.execute(
            "INSERT INTO readings (time, meter_id, p_total, q_total, pf_total, e_imp_kwh)"
            " SELECT t, m.meter_id, 10 + (i + m.meter_id) %% 13, 0, 0.25 * (m.meter_id %% 3 + 1),"
            "        i * (m.meter_id + 1) + i / 97"
            " FROM meters m, generate_series(0, 5 * 1440 - 1) AS i,"
            "      LATERAL (SELECT %s::timestamptz + i * interval '1 minute' AS t) x"
            " WHERE NOT (t >= '2026-11-27 14:00-03' AND t < '2026-11-27 22:00-03')"
            "   AND NOT (m.name = 'm2' AND t >= '2026-11-26 09:00-03' AND t < '2026-11-26 10:30-03')",
            (start,),
        )
    refresh(empty_db, start - timedelta(hours=1), end + timedelta(hours=1))
    query = "SELECT * FROM bi.energy_by_shift ORDER BY site_id, meter, start_utc"
    with psycopg.connect(empty_db) as c:
        old = c.execute(query).fetchall()
    assert len(migrate(empty_db)) >= 1  # 0022 and anything after it
    with psycopg.connect(empty_db) as c:
        new = c.execute(query).fetchall()
        cols = [d.name for d in c.execute(query).description or []]
    assert new == old
    by = {(r[cols.index("meter")], str(r[cols.index("production_date")]), r[6]): r for r in new}
    intervals = cols.index("intervals")
    energy = cols.index("energy_kwh")
    # 4 meter/site rows of: Wed C, Thu A B C, Fri A B C, Sat fim de semana, Sun folga,
    # Mon dia noite
    assert len(new) == 4 * 11
    for meter in ("m1", "m2", "sub", None):
        assert by[(meter, "2026-11-27", "B")][energy] is None
        assert by[(meter, "2026-11-27", "B")][intervals] == 0
        assert by[(meter, "2026-11-25", "C")][intervals] == 24  # 00-06 of 22-06
        assert by[(meter, "2026-11-30", "noite")][intervals] == 24  # 18-24 of 18-06
        assert by[(meter, "2026-11-29", "folga")][intervals] == 96
    assert by[("m2", "2026-11-26", "A")][intervals] == 32 - 6
    assert by[(None, "2026-11-26", "A")][intervals] == 32 - 6
    assert by[("sub", "2026-11-26", "A")][intervals] == 32
    assert by[(None, "2026-11-28", "fim de semana")][energy] == (
        by[("m1", "2026-11-28", "fim de semana")][energy]
        + by[("m2", "2026-11-28", "fim de semana")][energy]
    )
