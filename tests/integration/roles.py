"""Sessions as the system's database roles, for the privilege tests."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import psycopg
from psycopg.conninfo import make_conninfo

from ingestor.migrate import set_role_passwords


@contextmanager
def as_role(db: str, role: str) -> Iterator[psycopg.Connection[tuple[object, ...]]]:
    """An autocommit session logged in as ``role`` (given LOGIN and a test password)."""
    set_role_passwords(db, {f"EMUSA_{role.removeprefix('emusa_').upper()}_DB_PASSWORD": "pw"})
    with psycopg.connect(make_conninfo(db, user=role, password="pw"), autocommit=True) as conn:
        yield conn
