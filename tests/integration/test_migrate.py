"""Migrations: empty -> head, idempotent, recorded with checksums, edits refused."""

from __future__ import annotations

import shutil
import subprocess
import sys
import threading
from pathlib import Path

import psycopg
import pytest

from ingestor.errors import MigrationError
from ingestor.migrate import default_directory, migrate, set_role_passwords, status

pytestmark = pytest.mark.integration


def _history(dsn: str) -> list[tuple[int, str, str]]:
    with psycopg.connect(dsn) as conn:
        rows = conn.execute(
            "SELECT version, file, checksum FROM emusa_schema_migrations ORDER BY version"
        ).fetchall()
    return [(int(v), str(f), str(c)) for v, f, c in rows]


def test_empty_to_head_then_noop(empty_db: str) -> None:
    applied = migrate(empty_db)
    assert [m.version for m in applied] == list(range(1, len(applied) + 1))
    assert len(applied) >= 4
    history = _history(empty_db)
    assert [(v, f) for v, f, _ in history] == [(m.version, m.file) for m in applied]
    assert all(c == m.checksum for (_, _, c), m in zip(history, applied, strict=True))
    # the variant matches the server's build
    with psycopg.connect(empty_db) as conn:
        lic = conn.execute("SHOW timescaledb.license").fetchone()
    assert lic is not None
    rollup_file = next(f for _, f, _ in history if f.startswith("0002_"))
    assert rollup_file.endswith(f".{lic[0]}.sql")

    assert migrate(empty_db) == []
    assert _history(empty_db) == history
    assert all(applied_ for _, applied_ in status(empty_db))


def test_edited_migration_is_refused(empty_db: str, tmp_path: Path) -> None:
    directory = tmp_path / "migrations"
    shutil.copytree(default_directory(), directory)
    migrate(empty_db, directory)
    core = directory / "0001_core.sql"
    core.write_text(core.read_text() + "\n-- an innocent-looking edit\n")
    with pytest.raises(MigrationError, match=r"0001_core\.sql was edited after it was applied"):
        migrate(empty_db, directory)
    with pytest.raises(MigrationError, match="edited"):
        status(empty_db, directory)


def test_removed_migration_is_refused(empty_db: str, tmp_path: Path) -> None:
    directory = tmp_path / "migrations"
    shutil.copytree(default_directory(), directory)
    migrate(empty_db, directory)
    last = directory / _history(empty_db)[-1][1]  # the file applied last (this build's variant)
    for variant in directory.glob(f"{last.name[:4]}_*.sql"):
        variant.unlink()
    with pytest.raises(
        MigrationError, match=f"{last.name} was applied to this database but is no longer"
    ):
        migrate(empty_db, directory)


def test_failed_migration_rolls_back_and_is_not_recorded(empty_db: str, tmp_path: Path) -> None:
    directory = tmp_path / "migrations"
    shutil.copytree(default_directory(), directory)
    n = len({p.name[:4] for p in directory.glob("*.sql")})
    bad = directory / f"{n + 1:04d}_broken.sql"
    bad.write_text("CREATE TABLE half_done (x int);\nSELECT no_such_function();\n")
    with pytest.raises(MigrationError, match=f"{bad.name} failed and was rolled back"):
        migrate(empty_db, directory)
    with psycopg.connect(empty_db) as conn:
        assert conn.execute("SELECT to_regclass('half_done')").fetchone() == (None,)
    assert [v for v, _, _ in _history(empty_db)] == list(range(1, n + 1))


def test_concurrent_migrate_applies_each_migration_once(empty_db: str) -> None:
    results: list[object] = []

    def run() -> None:
        try:
            results.append(len(migrate(empty_db)))
        except Exception as exc:
            results.append(exc)

    threads = [threading.Thread(target=run) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    counts = sorted(r for r in results if isinstance(r, int))
    assert len(counts) == 3, results
    assert counts[:2] == [0, 0] and counts[2] == len(_history(empty_db))


def test_role_passwords_from_environment(empty_db: str) -> None:
    migrate(empty_db)
    changed = set_role_passwords(empty_db, {"EMUSA_BI_DB_PASSWORD": "s3cret'; DROP TABLE x; --"})
    assert changed == ["emusa_bi"]
    with psycopg.connect(empty_db) as conn:
        row = conn.execute(
            "SELECT rolcanlogin, rolpassword LIKE 'SCRAM-SHA-256$%' FROM pg_authid WHERE rolname = 'emusa_bi'"
        ).fetchone()
    assert row == (True, True)


def test_cli_migrate_and_errors(empty_db: str) -> None:
    cli = [sys.executable, "-m", "ingestor"]
    ok = subprocess.run(
        [*cli, "migrate", "--database-url", empty_db], capture_output=True, text=True, check=False
    )
    assert ok.returncode == 0, ok.stderr
    assert "applied 0001_core.sql" in ok.stdout
    again = subprocess.run(
        [*cli, "migrate", "--database-url", empty_db], capture_output=True, text=True, check=False
    )
    assert again.returncode == 0 and "up to date" in again.stdout
    missing = subprocess.run(
        [*cli, "migrate"],
        capture_output=True,
        text=True,
        check=False,
        env={"PATH": "/usr/bin:/bin"},
    )
    assert missing.returncode == 2
    assert "EMUSA_DATABASE_URL is not set" in missing.stderr
    unreachable = subprocess.run(
        [*cli, "migrate", "--database-url", "postgresql://nobody@127.0.0.1:1/x?connect_timeout=2"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert unreachable.returncode == 2
    assert "cannot connect to the database" in unreachable.stderr
