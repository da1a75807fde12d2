"""A database migrated up to a given migration, for tests that compare what a view
returned before a migration with what it returns after it."""

from __future__ import annotations

import shutil
from pathlib import Path

from ingestor.migrate import default_directory, migrate


def migrate_up_to(dsn: str, version: int, scratch: Path) -> None:
    """Apply the shipped migrations numbered up to ``version`` (both build variants are
    copied; the runner picks its build's); a later ``migrate(dsn)`` applies the rest."""
    directory = scratch / f"migrations-up-to-{version:04d}"
    directory.mkdir()
    for f in default_directory().glob("*.sql"):
        if int(f.name[:4]) <= version:
            shutil.copy(f, directory / f.name)
    migrate(dsn, directory)
