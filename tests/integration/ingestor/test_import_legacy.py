"""``emusa-ingestor import-legacy`` against a real old-app database and a real TimescaleDB.

The old app's table lives in a database of its own on the test server, created with the
old app's own DDL (its db.py: ``leituras`` with an index on ts). Instants are fixed and
the import's clock is injected, so nothing depends on the wall clock.
"""

from __future__ import annotations

import argparse
import json
import logging
import math
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
import pytest

from ingestor.__main__ import _parser
from ingestor.cli_legacy import run
from ingestor.errors import ConfigError, IngestorError, LegacySourceError
from tests.conftest import PgServer

pytestmark = pytest.mark.integration

T0 = datetime(2026, 3, 2, 13, 0, tzinfo=UTC)  # 10:00 in Sao Paulo
NOW = T0 + timedelta(days=20)
ENV = {"EMUSA_LANG": "pt-BR"}

OLD_DDL = """
CREATE TABLE leituras (
  id bigserial PRIMARY KEY,
  ts timestamptz NOT NULL DEFAULT now(),
  tensao_l1 double precision, tensao_l2 double precision, tensao_l3 double precision,
  tensao_ll_l1 double precision, tensao_ll_l2 double precision, tensao_ll_l3 double precision,
  tensao_ll_avg double precision,
  corrente_l1 double precision, corrente_l2 double precision, corrente_l3 double precision,
  potencia_kw_inst double precision, energia_kwh_a double precision,
  energia_kwh_b double precision, frequencia double precision, fp_avg double precision
);
CREATE INDEX idx_leituras_ts ON leituras(ts);
"""
COLUMNS = [
    "tensao_l1",
    "tensao_l2",
    "tensao_l3",
    "tensao_ll_l1",
    "tensao_ll_l2",
    "tensao_ll_l3",
    "tensao_ll_avg",
    "corrente_l1",
    "corrente_l2",
    "corrente_l3",
    "potencia_kw_inst",
    "energia_kwh_a",
    "energia_kwh_b",
    "frequencia",
    "fp_avg",
]
#: legacy column -> canonical quantity (the alias table of the plant's register file)
QUANTITY = {
    "tensao_l1": "v_l1n",
    "tensao_l2": "v_l2n",
    "tensao_l3": "v_l3n",
    "tensao_ll_l1": "v_l12",
    "tensao_ll_l2": "v_l23",
    "tensao_ll_l3": "v_l31",
    "corrente_l1": "i_l1",
    "corrente_l2": "i_l2",
    "corrente_l3": "i_l3",
    "potencia_kw_inst": "p_total",
    "energia_kwh_a": "e_imp_kwh",
    "energia_kwh_b": "e_b_kwh",
    "frequencia": "freq",
    "fp_avg": "pf_total",
}


def full(seq: int, energy_a: float) -> dict[str, float | None]:
    return {
        "tensao_l1": 127.1 + seq / 100,
        "tensao_l2": 126.9,
        "tensao_l3": 127.4,
        "tensao_ll_l1": 220.3,
        "tensao_ll_l2": 219.8,
        "tensao_ll_l3": 220.9,
        "tensao_ll_avg": 220.33,
        "corrente_l1": 41.25,
        "corrente_l2": 39.5,
        "corrente_l3": 40.125,
        "potencia_kw_inst": 15.375 + seq,
        "energia_kwh_a": energy_a,
        "energia_kwh_b": 512.5 + seq / 8,
        "frequencia": 59.98,
        "fp_avg": 0.93,
    }


# (ts, values) in insertion order: ids 1..12. Kept: 1, 2, 4, 7, 8, 11, 12.
ROWS: list[tuple[datetime, dict[str, float | None]]] = [
    (T0, full(1, 10_234.5)),  # 1
    (T0 + timedelta(seconds=1), full(2, 10_234.75) | {"tensao_l2": None, "energia_kwh_b": None}),
    (T0 + timedelta(seconds=2), dict.fromkeys(COLUMNS)),  # 3: every read failed -> bad_type
    (T0 + timedelta(seconds=3), full(4, 10_235.0)),  # 4: kept (lowest id of the instant)
    (T0 + timedelta(seconds=3), full(5, 99.0)),  # 5: same instant -> duplicate in source
    (T0 + timedelta(seconds=4), full(6, 10_235.2) | {"frequencia": 0.0}),  # 6: implausible
    (T0 + timedelta(seconds=5), full(7, 0.25)),  # 7: counter reset, stored as read
    (T0 + timedelta(seconds=6, microseconds=123_456), full(8, 0.5)),  # 8: microseconds kept
    (T0 + timedelta(seconds=7), full(9, 0.75) | {"potencia_kw_inst": math.nan}),  # 9: not_finite
    (T0 + timedelta(seconds=6, microseconds=123_456), full(10, 7.0)),  # 10: dup, later page
    (T0 + timedelta(minutes=2), full(11, 1.0)),  # 11
    (T0 + timedelta(minutes=2, seconds=1), full(12, 1.25) | {"fp_avg": None}),  # 12
]
KEPT = (1, 2, 4, 7, 8, 11, 12)


@pytest.fixture
def old_db(pg_server: PgServer) -> Iterator[str]:
    """The old app's database (a database of its own) holding ``ROWS``."""
    name = pg_server.create_database()
    dsn = pg_server.dsn(name)
    with psycopg.connect(dsn) as conn:
        conn.execute(OLD_DDL)
        insert = (
            f"INSERT INTO leituras (ts, {', '.join(COLUMNS)}) VALUES (%s{', %s' * len(COLUMNS)})"
        )
        for ts, values in ROWS:
            conn.execute(insert, (ts, *(values[c] for c in COLUMNS)))
    yield dsn
    pg_server.drop_database(name)


def args(source: str, db: str, *extra: str, page_rows: int = 3) -> argparse.Namespace:
    argv = ["import-legacy", "--source-url", source, "--database-url", db]
    argv += ["--site", "plant", "--meter", "kron1", "--page-rows", str(page_rows), *extra]
    return _parser().parse_args(argv)


def stored(db: str) -> list[tuple[Any, ...]]:
    quantities = ", ".join(QUANTITY.values())
    with psycopg.connect(db) as conn:
        return conn.execute(
            f"SELECT time, seq, {quantities} FROM readings r JOIN meters m USING (meter_id)"
            " WHERE m.site_id = 'plant' AND m.name = 'kron1' ORDER BY time"
        ).fetchall()


def one(db: str, query: str) -> Any:
    with psycopg.connect(db) as conn:
        row = conn.execute(query).fetchone()
    assert row is not None
    return row[0]


def figures(out: str) -> dict[str, str]:
    """``label: value`` lines of the summary."""
    pairs = (line.strip().rsplit(":", 1) for line in out.splitlines() if line.count(":") == 1)
    return {k.strip(): v.strip() for k, v in pairs}


def expected_row(i: int) -> tuple[Any, ...]:
    ts, values = ROWS[i - 1]
    return (ts, i, *(values[c] for c in QUANTITY))


def test_import_stores_exact_values_and_a_second_run_adds_nothing(
    old_db: str, db: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(args(old_db, db), ENV, now=NOW) == 0
    out = capsys.readouterr().out
    assert stored(db) == [expected_row(i) for i in KEPT]  # NULLs absent, reset kept, µs kept
    f = figures(out)
    assert f["lidas"] == "12"
    assert f["importadas"] == "7"
    assert f["duplicadas"] == "2"
    assert f["mesmo instante na origem"] == "2"
    assert f["já gravadas"] == "0"
    assert f["rejeitadas (em ingest_rejects)"] == "3"
    assert (f["bad_type"], f["implausible"], f["not_finite"]) == ("1", "1", "1")
    assert "tensao_ll_avg" in out  # listed as not imported (derived)
    assert "medidor novo registrado: plant/kron1" in out
    with psycopg.connect(db) as conn:
        rejects = conn.execute(
            "SELECT topic, reason, convert_from(payload, 'UTF8') FROM ingest_rejects ORDER BY reject_id"
        ).fetchall()
    assert [(t, r) for t, r, _ in rejects] == [
        ("emusa/plant/kron1/reading", "bad_type"),
        ("emusa/plant/kron1/reading", "implausible"),
        ("emusa/plant/kron1/reading", "not_finite"),
    ]
    assert [json.loads(p.replace("NaN", "null"))["seq"] for _, _, p in rejects] == [3, 6, 9]

    assert run(args(old_db, db, page_rows=5), ENV, now=NOW) == 0
    out = capsys.readouterr().out
    f = figures(out)
    assert (f["lidas"], f["importadas"], f["já gravadas"]) == ("12", "0", "7")
    assert f["destas, já em ingest_rejects (não repetidas)"] == "3"
    assert "medidor novo" not in out
    assert stored(db) == [expected_row(i) for i in KEPT]
    assert one(db, "SELECT count(*) FROM ingest_rejects") == 3
    assert one(db, "SELECT count(*) FROM meters WHERE name = 'kron1'") == 1


def test_rollups_hold_the_imported_range(old_db: str, db: str) -> None:
    assert run(args(old_db, db), ENV, now=NOW) == 0
    with psycopg.connect(db) as conn:
        minutes = conn.execute(
            "SELECT bucket, samples, p_total_avg, e_imp_kwh_last, e_imp_kwh_delta >= 0"
            " FROM readings_1m ORDER BY bucket"
        ).fetchall()
        hours = conn.execute("SELECT bucket, samples FROM readings_1h").fetchall()
        days = conn.execute("SELECT bucket, samples FROM readings_1d").fetchall()
    assert minutes == [
        # rows 1, 2, 4, 7, 8; the counter reset (row 7) is in the data as read
        (T0, 5, pytest.approx(15.375 + (1 + 2 + 4 + 7 + 8) / 5), 0.5, True),
        (T0 + timedelta(minutes=2), 2, pytest.approx(15.375 + 11.5), 1.25, True),
    ]
    assert hours == [(T0, 7)]
    assert days == [(datetime(2026, 3, 2, 3, 0, tzinfo=UTC), 7)]  # the local day


def test_since_until_select_a_half_open_range(old_db: str, db: str) -> None:
    since = (T0 + timedelta(seconds=1)).isoformat()
    until = "2026-03-02T10:00:05-03:00"  # T0 + 5 s, excluded
    assert run(args(old_db, db, "--since", since, "--until", until), ENV, now=NOW) == 0
    assert stored(db) == [expected_row(i) for i in (2, 4)]
    # a date without an offset is local time (America/Sao_Paulo)
    assert run(args(old_db, db, "--since", "2026-03-02T10:02:00"), ENV, now=NOW) == 0
    assert stored(db) == [expected_row(i) for i in (2, 4, 11, 12)]


def test_dry_run_writes_nothing_and_counts_what_would_be_imported(
    old_db: str, db: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(args(old_db, db, "--dry-run", "--lang", "en"), ENV, now=NOW) == 0
    out = capsys.readouterr().out
    f = figures(out)
    assert (f["read"], f["imported"], f["duplicates"], f["rejected"]) == ("12", "7", "2", "3")
    assert "new meter (would be registered): plant/kron1" in out
    for table in ("readings", "ingest_rejects", "meters", "sites"):
        assert one(db, f"SELECT count(*) FROM {table}") == 0, table


def test_old_readings_beyond_the_retention_are_refused_as_live_ones_are(
    old_db: str, db: str, capsys: pytest.CaptureFixture[str]
) -> None:
    env = {**ENV, "EMUSA_INGESTOR_RETENTION_DAYS": "1"}
    assert run(args(old_db, db), env, now=T0 + timedelta(days=1, seconds=90)) == 0
    f = figures(capsys.readouterr().out)
    assert f["old_ts"] == "10"  # the rows of the first minute; the two at T0 + 2 min are kept
    assert [r[1] for r in stored(db)] == [11, 12]


def test_progress_lines_go_to_the_log_when_not_on_a_terminal(
    old_db: str, db: str, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, logger="ingestor.progress"):
        assert run(args(old_db, db, "--lang", "en"), ENV, now=NOW) == 0
    lines = [r.getMessage() for r in caplog.records if r.name == "ingestor.progress"]
    assert lines[-1].startswith("import: 12 of 12 rows (100%), ")
    assert "rows/s" in lines[-1]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ("DROP TABLE leituras", "a tabela 'leituras' não existe no banco do app antigo"),
        (
            "ALTER TABLE leituras DROP COLUMN energia_kwh_b, DROP COLUMN fp_avg",
            "não tem as colunas do app antigo: energia_kwh_b, fp_avg",
        ),
    ],
)
def test_a_missing_table_or_columns_are_named(
    old_db: str, db: str, change: str, message: str
) -> None:
    with psycopg.connect(old_db) as conn:
        conn.execute(change)
    with pytest.raises(LegacySourceError, match=message):
        run(args(old_db, db), ENV, now=NOW)
    assert one(db, "SELECT count(*) FROM meters") == 0


def test_a_wrong_url_or_name_is_an_error_naming_it(old_db: str, db: str) -> None:
    wrong = psycopg.conninfo.make_conninfo(old_db, dbname="emusa_energy_nao_existe")
    with pytest.raises(
        LegacySourceError, match=r"não foi possível conectar .*emusa_energy_nao_existe"
    ):
        run(args(wrong, db), ENV, now=NOW)
    with pytest.raises(LegacySourceError, match="--source-url não é uma URL libpq válida"):
        run(args("postgresql://[broken", db), ENV, now=NOW)
    bad = _parser().parse_args(
        [
            "import-legacy",
            "--source-url",
            old_db,
            "--database-url",
            db,
            "--site",
            "plant",
            "--meter",
            "kron 1",
        ]
    )
    with pytest.raises(ConfigError, match="--meter: meter 'kron 1' must be"):
        run(bad, ENV, now=NOW)


def test_cli_prints_the_error_and_exits_2(
    db: str, capsys: pytest.CaptureFixture[str], pg_server: PgServer
) -> None:
    from ingestor.__main__ import main

    missing = pg_server.dsn("emusa_energy_missing_" + "x")
    code = main(
        [
            "import-legacy",
            "--source-url",
            missing,
            "--database-url",
            db,
            "--site",
            "plant",
            "--meter",
            "kron1",
            "--lang",
            "en",
        ]
    )
    assert code == 2
    assert "cannot connect to the old app's database" in capsys.readouterr().err


def test_an_unknown_meter_over_the_registration_limit_is_an_error_naming_it(
    old_db: str, db: str
) -> None:
    with psycopg.connect(db) as conn:
        conn.execute("INSERT INTO sites (site_id, name) VALUES ('plant', 'plant')")
        conn.execute("INSERT INTO meters (site_id, name) VALUES ('plant', 'other')")
    env = {**ENV, "EMUSA_INGESTOR_MAX_METERS": "1"}
    with pytest.raises(IngestorError, match="admit-meter plant kron1"):
        run(args(old_db, db), env, now=NOW)
    assert one(db, "SELECT count(*) FROM readings") == 0
    assert one(db, "SELECT count(*) FROM meters WHERE name = 'kron1'") == 0
