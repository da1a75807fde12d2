"""The read-only roles cannot stall ingestion with a lock request (issue 13, item 3).

TimescaleDB's TRUNCATE queues an ACCESS EXCLUSIVE lock on the table it names before the
privilege check; behind an open query that request would make every insert wait. Each
test holds such an open query (the blocker), makes the attempt as the role, and requires
the attempt to fail *before the blocker is released*: the attacking session runs with
``lock_timeout = 0`` (wait forever), so a queued lock would only end when the blocker
ends, which this test does last. Then an insert as emusa_ingestor, also with no lock
timeout, completes while the blocker is still open. No duration is measured.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator

import psycopg
import pytest

from tests.integration.roles import as_role

pytestmark = pytest.mark.integration

Conn = psycopg.Connection[tuple[object, ...]]
LIVENESS_S = 60  # only a bound for a hung test, never an assertion on speed


@pytest.fixture
def blocked(db: str) -> Iterator[tuple[str, str]]:
    """A database with one chunk of readings, and an open transaction reading it and the
    catalog (AccessShare locks held until the test ends). Yields (dsn, chunk name)."""
    with psycopg.connect(db, autocommit=True) as conn:
        conn.execute("INSERT INTO sites (site_id, name) VALUES ('plant', 'Plant')")
        conn.execute("INSERT INTO meters (site_id, name) VALUES ('plant', 'm1')")
        conn.execute(
            "INSERT INTO readings (time, meter_id, p_total)"
            " VALUES ('2026-11-25 12:00Z', 1, 10), ('2026-11-25 12:00:10Z', 1, 11)"
        )
        row = conn.execute("SELECT show_chunks('readings')::text").fetchone()
    assert row is not None
    blocker = psycopg.connect(db)  # a transaction stays open
    blocker.execute("SELECT count(*) FROM readings").fetchone()
    blocker.execute("SELECT count(*) FROM pg_catalog.pg_class").fetchone()
    try:
        yield db, str(row[0])
    finally:
        blocker.close()


def _attempt(conn: Conn, statement: str) -> BaseException | None:
    """Run ``statement`` in a thread; the error it ended with (None if it succeeded)."""
    outcome: list[BaseException | None] = []

    def target() -> None:
        try:
            if statement.startswith("LOCK"):
                with conn.transaction():
                    conn.execute(statement)
            else:
                conn.execute(statement)
            outcome.append(None)
        except psycopg.Error as exc:
            outcome.append(exc)

    t = threading.Thread(target=target, daemon=True)
    t.start()
    t.join(LIVENESS_S)
    if t.is_alive():
        conn.cancel()
        t.join(5)
        pytest.fail(f"{statement!r} waited for the blocker: it queued a lock")
    return outcome[0]


def _waiting_on_locks(db: str) -> list[tuple[object, ...]]:
    with psycopg.connect(db, autocommit=True) as conn:
        return conn.execute(
            "SELECT usename, query FROM pg_stat_activity"
            " WHERE datname = current_database() AND wait_event_type = 'Lock'"
        ).fetchall()


def _insert_as_ingestor(db: str) -> None:
    with as_role(db, "emusa_ingestor") as conn:
        conn.execute("SET lock_timeout = 0")
        cur = conn.execute(
            "INSERT INTO readings (time, meter_id, p_total) VALUES ('2026-11-25 12:00:20Z', 1, 12)"
        )
        assert cur.rowcount == 1


DENIED = (
    psycopg.errors.InsufficientPrivilege,  # no USAGE on the schema, or not the owner
    psycopg.errors.ReadOnlySqlTransaction,  # the role's sessions are read-only by default
    psycopg.errors.UndefinedTable,  # public is not on its path: the name is unknown
)


def _statements(chunk: str) -> list[str]:
    return [
        "TRUNCATE public.readings",
        "TRUNCATE readings",
        "TRUNCATE public.meters",
        f"TRUNCATE {chunk}",
        "TRUNCATE pg_catalog.pg_class",
        "DROP TABLE public.readings",
        "DROP TABLE readings",
        "LOCK TABLE public.readings IN ACCESS EXCLUSIVE MODE",
        f"LOCK TABLE {chunk} IN ACCESS EXCLUSIVE MODE",
        "ALTER TABLE public.readings ADD COLUMN evil int",
        "VACUUM FULL public.readings",
    ]


@pytest.mark.parametrize("role", ["emusa_bi", "emusa_grafana"])
def test_reader_lock_attempts_fail_before_the_blocker_ends(
    blocked: tuple[str, str], role: str
) -> None:
    db, chunk = blocked
    with as_role(db, role) as conn:
        conn.execute("SET lock_timeout = 0")  # a queued request would wait for the blocker
        for statement in _statements(chunk):
            error = _attempt(conn, statement)
            if statement.startswith("VACUUM"):
                # skipped for a non-owner with a warning, without waiting for the lock
                assert error is None or isinstance(error, DENIED), statement
                continue
            assert isinstance(error, DENIED), f"{role}: {statement}: {error!r}"
            assert not _waiting_on_locks(db)
    _insert_as_ingestor(db)
    assert not _waiting_on_locks(db)


def test_bi_cannot_even_name_the_raw_tables(blocked: tuple[str, str]) -> None:
    """Without the read-only default (a session may turn it off) emusa_bi still fails at
    once: it has no USAGE on schema public."""
    db, _ = blocked
    with as_role(db, "emusa_bi") as conn:
        conn.execute("SET default_transaction_read_only = off")
        conn.execute("SET lock_timeout = 0")
        for statement in (
            "TRUNCATE public.readings",
            "DROP TABLE public.readings",
            "LOCK TABLE public.readings IN ACCESS EXCLUSIVE MODE",
            "TRUNCATE rollup.invalidations",
        ):
            error = _attempt(conn, statement)
            assert isinstance(error, psycopg.errors.InsufficientPrivilege), statement
            assert "permission denied for schema" in str(error), statement
    _insert_as_ingestor(db)


def test_grafana_gives_up_at_its_lock_timeout(blocked: tuple[str, str]) -> None:
    """emusa_grafana must name public's tables to read them. If a session turns the
    read-only default off, TimescaleDB's TRUNCATE still queues before the privilege
    check: the role's lock_timeout ends the request while the blocker is still open."""
    db, _ = blocked
    with as_role(db, "emusa_grafana") as conn:
        conn.execute("SET default_transaction_read_only = off")
        error = _attempt(conn, "TRUNCATE public.readings")
    assert isinstance(error, psycopg.errors.LockNotAvailable), repr(error)
    _insert_as_ingestor(db)


EXPECTED_DEFAULTS = {
    "emusa_bi": {
        "default_transaction_read_only": "on",
        "lock_timeout": "1s",
        "statement_timeout": "15min",
        "idle_in_transaction_session_timeout": "5min",
    },
    "emusa_grafana": {
        "default_transaction_read_only": "on",
        "lock_timeout": "1s",
        "statement_timeout": "30s",
        "idle_in_transaction_session_timeout": "1min",
    },
}


@pytest.mark.parametrize("role", sorted(EXPECTED_DEFAULTS))
def test_reader_sessions_start_with_the_role_defaults(db: str, role: str) -> None:
    with as_role(db, role) as conn:
        show: Callable[[str], object] = lambda name: conn.execute(f"SHOW {name}").fetchone()  # noqa: E731
        assert {k: show(k) for k in EXPECTED_DEFAULTS[role]} == {
            k: (v,) for k, v in EXPECTED_DEFAULTS[role].items()
        }
