"""``emusa-ingestor``: command line of the ingestor service."""

from __future__ import annotations

import argparse
import logging
import os
import sys
from pathlib import Path

from ingestor import migrate as migrations
from ingestor.errors import IngestorError
from ingestor.settings import DATABASE_URL, ROLE_PASSWORD_VARS, database_url

log = logging.getLogger(__name__)


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="emusa-ingestor",
        description="EMUSA ingestor: MQTT readings into TimescaleDB; owns the database schema.",
    )
    p.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    m = sub.add_parser(
        "migrate",
        help="apply the SQL migrations (idempotent)",
        description=(
            f"Apply pending migrations from sql/migrations to {DATABASE_URL}. Then give LOGIN "
            "and a password to each role whose variable is set: "
            + ", ".join(f"{v} ({r})" for r, v in ROLE_PASSWORD_VARS.items())
            + "."
        ),
    )
    m.add_argument("--database-url", help=f"libpq URL (default: ${DATABASE_URL})")
    m.add_argument(
        "--directory", type=Path, help="migrations directory (default: the packaged one)"
    )

    s = sub.add_parser("migrate-status", help="list migrations and whether each is applied")
    s.add_argument("--database-url", help=f"libpq URL (default: ${DATABASE_URL})")
    s.add_argument("--directory", type=Path, help="migrations directory")
    return p


def _cmd_migrate(args: argparse.Namespace) -> int:
    url = database_url(args.database_url)
    applied = migrations.migrate(url, args.directory)
    if applied:
        for m in applied:
            print(f"applied {m.file}")
    else:
        print("database schema is up to date")
    for role in migrations.set_role_passwords(url, os.environ):
        print(f"password set for role {role}")
    return 0


def _cmd_status(args: argparse.Namespace) -> int:
    url = database_url(args.database_url)
    for m, applied in migrations.status(url, args.directory):
        print(f"{'applied' if applied else 'pending'}  {m.file}  {m.checksum[:12]}")
    return 0


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    commands = {"migrate": _cmd_migrate, "migrate-status": _cmd_status}
    try:
        return commands[args.command](args)
    except IngestorError as exc:
        print(f"emusa-ingestor {args.command}: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    raise SystemExit(main())
