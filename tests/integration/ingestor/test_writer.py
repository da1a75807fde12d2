"""The batch writer against a real TimescaleDB: one transaction per batch, idempotent."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import psycopg
import pytest
from psycopg.conninfo import make_conninfo

import contract
from ingestor.errors import BatchError, DatabaseUnavailable
from ingestor.migrate import set_role_passwords
from ingestor.validate import make_reject
from ingestor.writer import Message, Writer
from tests.harness.services import Broker
from tests.integration.ingestor.conftest import (
    count,
    make_config,
    publisher,
    reading,
    readings,
    running,
    wait_until,
)

pytestmark = pytest.mark.integration


@pytest.fixture
def writer(db: str) -> Iterator[Writer]:
    with Writer(db) as w:
        yield w


def _license(db: str) -> str:
    with psycopg.connect(db) as conn:
        row = conn.execute("SHOW timescaledb.license").fetchone()
    assert row is not None
    return str(row[0])


def test_batch_registers_meters_and_counts_duplicates(db: str, writer: Writer) -> None:
    batch = readings(60, meters=3)
    first = writer.write(batch)
    assert (first.inserted, first.duplicates) == (60, 0)
    assert first.new_meters == [("plant", "m0"), ("plant", "m1"), ("plant", "m2")]
    again = writer.write([*batch[:10], *readings(70, meters=3)[60:]])
    assert (again.inserted, again.duplicates, again.new_meters) == (10, 10, [])
    assert count(db) == 70
    assert count(db, "SELECT count(*) FROM meters") == 3


def test_duplicates_inside_one_batch_are_stored_once(db: str, writer: Writer) -> None:
    r = reading("plant", "m0", 1)
    result = writer.write([r, r, r])
    assert (result.inserted, result.duplicates) == (1, 2)
    assert count(db) == 1


def test_batch_logs_its_time_ranges_for_the_rollups(db: str, writer: Writer) -> None:
    """Branches on the build: Apache logs every batch (nothing else refreshes its rollup
    tables); Community only readings older than 12 hours, which its refresh policies no
    longer reach. A replayed old reading is a range of its own, not one spanning to now."""
    batch = readings(30, meters=2)
    old = replace(batch[0], ts=batch[0].ts - timedelta(days=10), seq=10_000)
    writer.write([*batch, old])
    assert writer.logs_invalidations
    with psycopg.connect(db) as conn:
        rows = conn.execute(
            "SELECT range_start, range_end FROM rollup.invalidations ORDER BY range_start"
        ).fetchall()
    live = (min(r.ts for r in batch), max(r.ts for r in batch))
    assert rows == ([(old.ts, old.ts), live] if _license(db) == "apache" else [(old.ts, old.ts)])


def test_rejects_are_stored_with_the_batch(db: str, writer: Writer) -> None:
    rejects = [
        make_reject("emusa/plant/m0/reading", b"x" * 10_000, "too_large", "big", 4096),
        make_reject("emusa/plant/m0/reading", b"{", "bad_json", "eof", 4096),
    ]
    result = writer.write(readings(5, meters=1), rejects)
    assert (result.inserted, result.rejected) == (5, 2)
    with psycopg.connect(db) as conn:
        rows = conn.execute(
            "SELECT reason, length(payload), payload_bytes, truncated FROM ingest_rejects"
            " ORDER BY reject_id"
        ).fetchall()
    assert rows == [("too_large", 4096, 10_000, True), ("bad_json", 1, 1, False)]


def test_refused_data_is_a_batch_error_and_isolation_dead_letters_only_it(
    db: str, writer: Writer
) -> None:
    with psycopg.connect(db) as conn:
        conn.execute("ALTER TABLE readings ADD CONSTRAINT test_no_seq_7 CHECK (seq <> 7)")
    batch = readings(20, meters=1)
    with pytest.raises(BatchError) as exc:
        writer.write(batch)
    assert isinstance(exc.value.__cause__, psycopg.errors.CheckViolation)
    assert count(db) == 0  # the whole transaction rolled back
    messages = [Message(r, f"emusa/{r.site}/{r.meter}/reading", contract.encode(r)) for r in batch]
    result = writer.write_isolated(messages, [], keep_bytes=4096)
    assert (result.inserted, result.rejected) == (19, 1)
    with psycopg.connect(db) as conn:
        row = conn.execute("SELECT reason, payload FROM ingest_rejects").fetchone()
    assert row is not None
    assert row[0] == "db_refused"
    assert bytes(row[1]) == contract.encode(batch[7])
    assert count(db) == 19


def test_unreachable_database_is_transient(pg_server: object) -> None:
    with (
        Writer("postgresql://nobody@127.0.0.1:1/none", connect_timeout=2) as w,
        pytest.raises(DatabaseUnavailable) as exc,
    ):
        w.write(readings(1))
    assert isinstance(exc.value.__cause__, psycopg.OperationalError)


def test_refused_reading_is_dead_lettered_by_the_service(
    db: str, mqtt_broker: Broker, topic_root: str, tmp_path: Path
) -> None:
    with psycopg.connect(db) as conn:
        conn.execute("ALTER TABLE readings ADD CONSTRAINT test_no_seq_7 CHECK (seq <> 7)")
    items = readings(40, meters=2)
    with running(make_config(db, mqtt_broker, topic_root, tmp_path)) as service:
        with publisher(mqtt_broker) as pub:
            pub.publish_readings(topic_root, items)
            pub.wait_all(30)
        wait_until(lambda: service.counters.acked == 40, 30, "40 acknowledgements")
        assert (service.counters.written, service.counters.rejected) == (38, 2)
    assert count(db, "SELECT count(*) FROM ingest_rejects WHERE reason = 'db_refused'") == 2


# --- as the emusa_ingestor role ---------------------------------------------------------


def _as_ingestor(db: str) -> str:
    set_role_passwords(db, {"EMUSA_INGESTOR_DB_PASSWORD": "pw"})
    return make_conninfo(db, user="emusa_ingestor", password="pw")


def test_batch_as_the_ingestor_role(db: str) -> None:
    with psycopg.connect(db) as conn:
        conn.execute("INSERT INTO sites (site_id, name) VALUES ('plant', 'Plant')")
    reject = make_reject("emusa/plant/m0/reading", b"{", "bad_json", "eof", 4096)
    with Writer(_as_ingestor(db)) as w:
        result = w.write(readings(50, meters=5), [reject])
        assert (result.inserted, result.rejected, len(result.new_meters)) == (50, 1, 5)
        assert w.write(readings(50, meters=5)).duplicates == 50
        assert w.logs_invalidations  # both builds (0015)
    assert count(db) == 50
    assert count(db, "SELECT count(*) FROM ingest_rejects") == 1


def test_new_site_as_the_ingestor_role_gets_its_tariff_windows(db: str) -> None:
    with Writer(_as_ingestor(db)) as w:
        result = w.write(readings(5, meters=1, site="newplant"))
    assert result.new_meters == [("newplant", "m0")]
    assert count(db, "SELECT count(*) FROM sites WHERE site_id = 'newplant'") == 1
    assert count(db, "SELECT count(*) FROM tariff_windows WHERE site_id = 'newplant'") == 3
