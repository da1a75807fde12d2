"""Role passwords reach the server only as SCRAM verifiers (issue 13, item 5).

The test server logs every statement of the test database (``log_statement = all``);
after ``set_role_passwords`` the log holds no password, pg_authid holds SCRAM-SHA-256
verifiers, and each role logs in with its password (and not with another).
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from contract.settings import ROLE_PASSWORD_VARS
from ingestor.migrate import set_role_passwords
from tests.conftest import PgServer

pytestmark = pytest.mark.integration


@pytest.fixture
def password_auth(pg_server: PgServer, db: str) -> Iterator[str]:
    """The test cluster trusts every login; for the system's roles on this test's database
    it asks for the password (SCRAM) until the test ends. Yields the database name."""
    dbname = str(conninfo_to_dict(db)["dbname"])
    roles = ",".join(ROLE_PASSWORD_VARS)
    line = f"host {dbname} {roles} 127.0.0.1/32 scram-sha-256\n"
    with psycopg.connect(pg_server.admin_dsn, autocommit=True) as conn:
        row = conn.execute("SHOW hba_file").fetchone()
        assert row is not None
        hba = Path(str(row[0]))
        original = hba.read_text(encoding="utf-8")
        hba.write_text(line + original, encoding="utf-8")
    _reload(pg_server.admin_dsn)
    try:
        yield dbname
    finally:
        hba.write_text(original, encoding="utf-8")
        _reload(pg_server.admin_dsn)


def _reload(dsn: str) -> None:
    """Reload the server's configuration and wait until new sessions see it."""

    def loaded() -> object:
        with psycopg.connect(dsn, autocommit=True) as conn:
            row = conn.execute("SELECT pg_conf_load_time()").fetchone()
            assert row is not None
            return row[0]

    before = loaded()
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("SELECT pg_reload_conf()")
    for _ in range(200):
        if loaded() != before:
            return
        time.sleep(0.05)
    raise AssertionError("the server did not reload its configuration")


def test_passwords_never_reach_the_server_log(
    pg_server: PgServer, db: str, password_auth: str
) -> None:
    if pg_server.local is None:
        pytest.skip("needs the server log of the local test cluster")
    log = pg_server.local.base / "postgres.log"
    with psycopg.connect(pg_server.admin_dsn, autocommit=True) as conn:
        conn.execute(
            sql.SQL("ALTER DATABASE {} SET log_statement = 'all'").format(
                sql.Identifier(password_auth)
            )
        )
    passwords = {role: f"pw-{role}-{secrets.token_hex(8)}" for role in ROLE_PASSWORD_VARS}
    logged_before = log.stat().st_size
    env = {var: passwords[role] for role, var in ROLE_PASSWORD_VARS.items()}

    assert set_role_passwords(db, env) == list(ROLE_PASSWORD_VARS)

    written = log.read_bytes()[logged_before:].decode("utf-8", "replace")
    assert "ALTER ROLE" in written  # the statements were logged...
    for password in passwords.values():
        assert password not in written  # ...without the passwords
    with psycopg.connect(pg_server.admin_dsn) as conn:
        stored = dict(
            conn.execute(
                "SELECT rolname, rolpassword FROM pg_authid WHERE rolname = ANY(%s)",
                (list(passwords),),
            ).fetchall()
        )
    for role, password in passwords.items():
        assert str(stored[role]).startswith("SCRAM-SHA-256$4096:"), role
        assert password not in str(stored[role])
        with psycopg.connect(make_conninfo(db, user=role, password=password)) as conn:
            assert conn.execute("SELECT current_user").fetchone() == (role,)
        with pytest.raises(psycopg.OperationalError, match="password authentication failed"):
            psycopg.connect(make_conninfo(db, user=role, password=password + "x")).close()
