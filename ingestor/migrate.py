"""Apply the ordered plain-SQL migrations of ``sql/migrations`` to a database.

File names: ``NNNN_name.sql``, or a pair ``NNNN_name.apache.sql`` / ``NNNN_name.timescale.sql``
when the two TimescaleDB builds need different SQL (continuous aggregates and policies
exist only in the Community build, ``SHOW timescaledb.license`` = ``timescale``).

Each migration runs in its own transaction and is recorded with its SHA-256 in
``emusa_schema_migrations``. Applying again is a no-op. A migration edited after it was
applied, or removed, is refused: schema changes are new migrations.
"""

from __future__ import annotations

import hashlib
import logging
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

import psycopg
from psycopg import sql

from contract.settings import ROLE_PASSWORD_VARS
from ingestor.errors import DatabaseError, MigrationError

log = logging.getLogger(__name__)

LICENSES = ("apache", "timescale")
_FILE_RE = re.compile(
    r"(?P<version>[0-9]{4})_(?P<name>[a-z0-9_]+)(?:\.(?P<variant>apache|timescale))?\.sql"
)
_LOCK_KEY = "emusa.migrate"

_HISTORY_DDL = """
CREATE TABLE IF NOT EXISTS emusa_schema_migrations (
    version    integer PRIMARY KEY,
    file       text NOT NULL,
    checksum   text NOT NULL,
    license    text NOT NULL,
    applied_at timestamptz NOT NULL DEFAULT now()
)
"""


@dataclass(frozen=True, slots=True)
class Migration:
    version: int
    file: str
    sql: str

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.sql.encode()).hexdigest()


def default_directory() -> Path:
    """``sql/migrations`` of the source tree, or the copy packaged inside a wheel."""
    here = Path(__file__).resolve().parent
    for candidate in (here / "_sql" / "migrations", here.parent / "sql" / "migrations"):
        if candidate.is_dir():
            return candidate
    raise MigrationError(f"no migrations directory found near {here}")


def discover(directory: Path, license_: str) -> list[Migration]:
    """The migrations to apply on a server with ``license_``, in version order."""
    if license_ not in LICENSES:
        raise MigrationError(
            f"unknown TimescaleDB license {license_!r} (expected one of {LICENSES})"
        )
    by_version: dict[int, dict[str | None, Path]] = {}
    for path in sorted(directory.iterdir()):
        if path.suffix != ".sql":
            continue
        m = _FILE_RE.fullmatch(path.name)
        if m is None:
            raise MigrationError(
                f"{path.name}: not a migration name (NNNN_name.sql or NNNN_name.<apache|timescale>.sql)"
            )
        variants = by_version.setdefault(int(m["version"]), {})
        variants[m["variant"]] = path
    migrations = []
    for expected, version in enumerate(sorted(by_version), start=1):
        if version != expected:
            raise MigrationError(
                f"{directory}: migration {expected:04d} is missing (found {version:04d})"
            )
        variants = by_version[version]
        if None in variants and len(variants) > 1:
            names = ", ".join(sorted(p.name for p in variants.values()))
            raise MigrationError(
                f"migration {version:04d} has both a plain file and variants: {names}"
            )
        chosen = variants.get(None) or variants.get(license_)
        if chosen is None:
            present = ", ".join(sorted(p.name for p in variants.values()))
            raise MigrationError(
                f"migration {version:04d} has no variant for the {license_!r} build (found {present})"
            )
        migrations.append(Migration(version, chosen.name, chosen.read_text(encoding="utf-8")))
    return migrations


def server_license(conn: psycopg.Connection[tuple[object, ...]]) -> str:
    """Ensure the TimescaleDB extension exists and return its license ('apache'/'timescale').

    The license setting only exists once the extension library is loaded in the database,
    so the extension is created first (the one statement that precedes the migrations).
    """
    try:
        row = conn.execute("SELECT current_setting('shared_preload_libraries')").fetchone()
        if row is None or "timescaledb" not in str(row[0]):
            raise MigrationError(
                "TimescaleDB is not preloaded on this server: set shared_preload_libraries ="
                " 'timescaledb' in postgresql.conf and restart PostgreSQL"
            )
        conn.execute("CREATE EXTENSION IF NOT EXISTS timescaledb")
        row = conn.execute("SELECT current_setting('timescaledb.license', true)").fetchone()
    except psycopg.Error as exc:
        raise DatabaseError(f"cannot load the timescaledb extension: {exc}") from exc
    if row is None or not row[0]:
        raise MigrationError("timescaledb.license is not set although the extension is loaded")
    return str(row[0])


def _applied(conn: psycopg.Connection[tuple[object, ...]]) -> dict[int, tuple[str, str]]:
    rows = conn.execute("SELECT version, file, checksum FROM emusa_schema_migrations").fetchall()
    return {int(str(v)): (str(f), str(c)) for v, f, c in rows}


def check_history(applied: Mapping[int, tuple[str, str]], available: Iterable[Migration]) -> None:
    """Refuse a history that the files no longer describe (edited or removed migrations)."""
    files = {m.version: m for m in available}
    for version, (file, checksum) in sorted(applied.items()):
        current = files.get(version)
        if current is None or current.file != file:
            raise MigrationError(
                f"migration {file} was applied to this database but is no longer in the migrations directory"
            )
        if current.checksum != checksum:
            raise MigrationError(
                f"migration {file} was edited after it was applied (recorded sha256 {checksum[:12]}…, "
                f"file now {current.checksum[:12]}…): restore it and put the change in a new migration"
            )


def migrate(conninfo: str, directory: Path | None = None) -> list[Migration]:
    """Apply pending migrations; returns those applied now (empty when up to date)."""
    directory = directory or default_directory()
    try:
        with psycopg.connect(conninfo, autocommit=True) as conn:
            conn.execute("SELECT pg_advisory_lock(hashtext(%s))", (_LOCK_KEY,))
            try:
                return _migrate_locked(conn, directory)
            finally:
                conn.execute("SELECT pg_advisory_unlock(hashtext(%s))", (_LOCK_KEY,))
    except psycopg.OperationalError as exc:
        raise DatabaseError(f"cannot connect to the database: {exc}") from exc


def _migrate_locked(
    conn: psycopg.Connection[tuple[object, ...]], directory: Path
) -> list[Migration]:
    license_ = server_license(conn)
    available = discover(directory, license_)
    conn.execute(_HISTORY_DDL)
    applied = _applied(conn)
    check_history(applied, available)
    done = []
    for m in available:
        if m.version in applied:
            continue
        log.info("applying migration %s", m.file, extra={"action": "migrate", "license": license_})
        try:
            with conn.transaction():
                conn.execute(m.sql.encode())
                conn.execute(
                    "INSERT INTO emusa_schema_migrations (version, file, checksum, license)"
                    " VALUES (%s, %s, %s, %s)",
                    (m.version, m.file, m.checksum, license_),
                )
        except psycopg.Error as exc:
            raise MigrationError(f"migration {m.file} failed and was rolled back: {exc}") from exc
        done.append(m)
    return done


def status(conninfo: str, directory: Path | None = None) -> list[tuple[Migration, bool]]:
    """Each available migration and whether it is applied."""
    directory = directory or default_directory()
    try:
        with psycopg.connect(conninfo, autocommit=True) as conn:
            available = discover(directory, server_license(conn))
            exists = conn.execute("SELECT to_regclass('emusa_schema_migrations')").fetchone()
            applied = _applied(conn) if exists and exists[0] else {}
    except psycopg.OperationalError as exc:
        raise DatabaseError(f"cannot connect to the database: {exc}") from exc
    check_history(applied, available)
    return [(m, m.version in applied) for m in available]


def scram_verifier(conn: psycopg.Connection[tuple[object, ...]], role: str, password: str) -> str:
    """The SCRAM-SHA-256 verifier of ``password`` for ``role``, computed by libpq on the
    client (``PQencryptPasswordConn``, as psql's ``\\password`` does)."""
    return conn.pgconn.encrypt_password(password.encode(), role.encode(), b"scram-sha-256").decode(
        "ascii"
    )


def set_role_passwords(conninfo: str, env: Mapping[str, str]) -> list[str]:
    """Give LOGIN and a password to each role whose password variable is set.

    The server receives only the role's SCRAM-SHA-256 verifier, never the password, so
    the statement (logged with ``log_statement``, or on an error) does not reveal it.
    """
    changed = []
    try:
        with psycopg.connect(conninfo, autocommit=True) as conn:
            for role, var in ROLE_PASSWORD_VARS.items():
                password = env.get(var)
                if not password:
                    continue
                conn.execute(
                    sql.SQL("ALTER ROLE {} WITH LOGIN PASSWORD {}").format(
                        sql.Identifier(role), sql.Literal(scram_verifier(conn, role, password))
                    )
                )
                changed.append(role)
    except psycopg.Error as exc:
        raise DatabaseError(f"cannot set role passwords: {exc}") from exc
    return changed
