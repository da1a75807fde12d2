"""Floods (issue 13, item 4): registration limits, the admit command, bounded dead letters.

Everything runs as emusa_ingestor on a real TimescaleDB, readings and diagnostics carried
by the messages they came from, as the service passes them.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import psycopg
import pytest

import contract
from contract import Reading
from ingestor.__main__ import main
from ingestor.bounds import METER_LIMIT, SITE_LIMIT, Limits
from ingestor.migrate import default_directory
from ingestor.validate import make_reject
from ingestor.writer import Message, Writer
from tests.harness.services import Broker
from tests.integration.ingestor.conftest import (
    count,
    make_config,
    publisher,
    reading,
    running,
    wait_until,
)
from tests.integration.roles import as_role

pytestmark = pytest.mark.integration

ROOT = "emusa"


def _ingestor_dsn(db: str) -> str:
    with as_role(db, "emusa_ingestor") as conn:
        return conn.info.dsn + " password=pw"


def _messages(items: Sequence[Reading]) -> list[Message]:
    return [
        Message(r, contract.reading_topic(ROOT, r.site, r.meter), contract.encode(r)) for r in items
    ]


def _write(w: Writer, items: Sequence[Reading]) -> tuple[int, int]:
    result = w.write(items, sources=_messages(items))
    return result.inserted, result.rejected


def _rows(db: str, query: str) -> list[tuple[object, ...]]:
    with psycopg.connect(db) as conn:
        return conn.execute(query).fetchall()


def test_a_flood_registers_up_to_the_limit_and_never_blocks_known_meters(db: str) -> None:
    known = [reading("plant", f"m{i}", 0) for i in range(3)]
    n, k = 4, 6
    flood = [reading("plant", f"fake{i:03d}", 1) for i in range(n + k)]
    later = [reading("plant", f"m{i}", 2) for i in range(3)]
    with Writer(_ingestor_dsn(db), limits=Limits(max_meters=3 + n)) as w:
        assert _write(w, known) == (3, 0)
        # the known meters' readings interleaved with the flood, in one batch
        batch = [*flood]
        for i, r in enumerate(later):
            batch.insert(3 * i + 2, r)
        result = w.write(batch, sources=_messages(batch))
        assert result.new_meters == [("plant", f"fake{i:03d}") for i in range(n)]
        assert result.rejected == k
        assert result.inserted == len(batch) - k
    assert count(db, "SELECT count(*) FROM meters") == 3 + n
    assert count(db, "SELECT count(*) FROM readings r JOIN meters m USING (meter_id)"
                     " WHERE m.name LIKE 'm%'") == 6  # fmt: skip
    refused = _rows(db, "SELECT topic, reason, payload FROM ingest_rejects ORDER BY topic")
    assert [(t, r) for t, r, _ in refused] == [
        (f"{ROOT}/plant/fake{i:03d}/reading", METER_LIMIT) for i in range(n, n + k)
    ]
    assert bytes(refused[0][2]) == contract.encode(flood[n])  # the message as received


def test_a_flood_through_the_broker_is_bounded_and_the_service_keeps_running(
    db: str, mqtt_broker: Broker, topic_root: str, tmp_path: Path
) -> None:
    known = [reading("plant", f"m{i}", seq) for seq in range(4) for i in range(2)]
    flood = [reading("zz", f"fake{i:03d}", 0) for i in range(60)]
    # a new meter seen first is registered first, whatever its name
    mixed = [*known[:2], reading("plant", "new1", 0), *flood, *known[2:]]
    config = make_config(db, mqtt_broker, topic_root, tmp_path, max_meters=13)
    with running(config) as service:
        with publisher(mqtt_broker) as pub:
            pub.publish_readings(topic_root, mixed)
            pub.wait_all(30)
        wait_until(lambda: service.counters.acked == len(mixed), 30, "every acknowledgement")
        assert service.counters.rejected == 50
        assert service.fatal is None
    assert count(db, "SELECT count(*) FROM meters") == 13
    assert count(db, "SELECT count(*) FROM readings") == len(known) + 1 + 10
    assert count(db, f"SELECT count(*) FROM ingest_rejects WHERE reason = '{METER_LIMIT}'") == 50


def test_sites_over_their_limit_are_refused_without_a_tariff_calendar(db: str) -> None:
    fakes = [reading(f"fake{i}", "m1", 0) for i in range(5)]
    with Writer(_ingestor_dsn(db), limits=Limits(max_sites=2)) as w:
        assert _write(w, [reading("plant", "m1", 0)]) == (1, 0)
        assert _write(w, fakes) == (1, 4)
    assert _rows(db, "SELECT site_id FROM sites ORDER BY 1") == [("fake0",), ("plant",)]
    assert count(db, "SELECT count(DISTINCT site_id) FROM tariff_windows") == 2
    reasons = _rows(db, "SELECT DISTINCT reason FROM ingest_rejects")
    assert reasons == [(SITE_LIMIT,)]


def test_an_admitted_meter_gets_in_without_restarting_the_writer(
    db: str, capsys: pytest.CaptureFixture[str]
) -> None:
    dsn = _ingestor_dsn(db)
    with Writer(dsn, limits=Limits(max_meters=1)) as w:
        assert _write(w, [reading("plant", "m1", 0)]) == (1, 0)
        assert _write(w, [reading("plant", "m2", 0), reading("plant", "m2", 1)]) == (0, 2)

        assert main(["refused-meters", "--database-url", dsn, "--lang", "en"]) == 0
        listed = capsys.readouterr().out.splitlines()
        assert listed[1].split()[:4] == ["plant", "m2", METER_LIMIT, "2"]
        assert listed[1].endswith("pending")

        assert main(["admit-meter", "plant", "m2", "--database-url", dsn]) == 0
        assert "medidor plant/m2 admitido" in capsys.readouterr().out
        assert _write(w, [reading("plant", "m2", 2)]) == (1, 0)

    assert main(["admit-meter", "plant", "m2", "--database-url", dsn, "--lang", "en"]) == 0
    assert "meter plant/m2 was already registered" in capsys.readouterr().out
    assert main(["refused-meters", "--database-url", dsn]) == 0
    assert capsys.readouterr().out.splitlines()[1].endswith("admitido")
    assert main(["admit-meter", "plant", "bad\n", "--database-url", dsn]) == 2
    assert count(db, "SELECT count(*) FROM meters") == 2


def test_dead_letters_per_reason_are_bounded_between_trims(db: str) -> None:
    now = [0.0]
    rejects = [make_reject(f"{ROOT}/p/m/reading", b"{", "bad_json", "eof", 64)] * 12
    with Writer(_ingestor_dsn(db), limits=Limits(rejects_per_reason=5), clock=lambda: now[0]) as w:
        first = w.write([], rejects)  # stores 5; the first trim is due at once
        assert (first.rejected, first.rejects_unstored) == (12, 7)
        second = w.write([], rejects)  # a new budget of 5, no trim before a minute
        assert (second.rejected, second.rejects_unstored) == (12, 7)
        assert count(db, "SELECT count(*) FROM ingest_rejects") == 10  # at most 2 x 5
        third = w.write([], rejects)
        assert third.rejects_unstored == 12  # budget used up until the next trim
        now[0] += 61  # a trim is due once a minute: after the next commit
        assert w.write([reading("plant", "m1", 0)]).rejects_unstored == 0
        assert count(db, "SELECT count(*) FROM ingest_rejects") == 5  # the newest 5 kept
        fourth = w.write([], rejects[:6])  # a new budget
        assert fourth.rejects_unstored == 1
    assert count(db, "SELECT count(*) FROM ingest_rejects") == 10


def test_old_dead_letters_are_dropped(db: str) -> None:
    with psycopg.connect(db, autocommit=True) as conn:
        conn.execute(
            "INSERT INTO ingest_rejects (received_at, topic, reason, payload, payload_bytes)"
            " SELECT now() - d * interval '1 day', 't', 'bad_json', 'x', 1"
            " FROM generate_series(0, 60, 5) AS d"
        )
        lic = conn.execute("SHOW timescaledb.license").fetchone()
        policy = conn.execute(
            "SELECT config->>'drop_after' FROM timescaledb_information.jobs"
            " WHERE proc_name = 'policy_retention' AND hypertable_name = 'ingest_rejects'"
        ).fetchall()
    with as_role(db, "emusa_ingestor") as conn:
        conn.execute("SELECT * FROM emusa_trim_ingest_rejects()")
    ages = _rows(
        db, "SELECT DISTINCT (now() - received_at) > interval '31 days' FROM ingest_rejects"
    )
    assert ages == [(False,)]  # one-day chunks: nothing older than 31 days is left
    assert count(db, "SELECT count(*) FROM ingest_rejects") == 7  # 0, 5, ... 30 days old
    if lic == ("timescale",):
        assert policy == [("30 days",)]  # also dropped without an ingestor running


def test_the_community_build_has_a_retention_policy_for_dead_letters() -> None:
    (sql_file,) = Path(default_directory()).glob("0013_*.sql")
    text = sql_file.read_text(encoding="utf-8")
    assert "add_retention_policy('ingest_rejects', drop_after => INTERVAL '30 days')" in text
