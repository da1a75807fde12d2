"""``emusa-ingestor``: command line of the ingestor service."""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import sys
import time
from pathlib import Path
from typing import Any

from contract import logs
from contract.errors import SettingsError
from contract.settings import DATABASE_URL, ROLE_PASSWORD_VARS, database_url, utc_database_sessions
from ingestor import cli_legacy, cli_meters, health
from ingestor import config as ingest_config
from ingestor import migrate as migrations
from ingestor.errors import IngestorError
from ingestor.service import Service

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

    r = sub.add_parser(
        "run",
        help="subscribe to the readings and write them into the database",
        description=(
            "Subscribe to <root>/+/+/reading (QoS 1, MQTT v5 persistent session), validate,"
            " batch and write into TimescaleDB; acknowledge each message after its batch is"
            " committed. Flags override the environment variables named in their help."
        ),
    )
    for name, var in ingest_config.ENV.items():
        field = ingest_config.IngestorConfig.model_fields[name]
        default = "" if field.is_required() or "url" in name else f", default {field.default}"
        r.add_argument(f"--{name.replace('_', '-')}", help=f"(${var}{default})")
    r.add_argument("--log-json", action="store_true", help="one JSON object per log line")

    h = sub.add_parser(
        "health",
        help="exit 0 when the running ingestor is healthy (for docker-compose healthchecks)",
        description="Read the status file written by `run` and check its heartbeat and state.",
    )
    h.add_argument(
        "--status-file",
        type=Path,
        help=f"(${ingest_config.ENV['status_file']}, default {ingest_config.DEFAULT_STATUS_FILE})",
    )
    h.add_argument("--max-age", type=float, default=15.0, help="seconds (default 15)")
    cli_meters.add_parsers(sub)
    cli_legacy.add_parser(sub)
    return p


class JsonFormatter(logging.Formatter):
    """One JSON object per record, with the ``extra={...}`` fields of the call."""

    _std = frozenset(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message"}

    def format(self, record: logging.LogRecord) -> str:
        doc: dict[str, Any] = {
            "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            + f".{int(record.msecs):03d}Z",
            "level": record.levelname,
            "logger": record.name,
            "msg": record.getMessage(),
        }
        doc.update({k: v for k, v in vars(record).items() if k not in self._std})
        if record.exc_info:
            doc["exc"] = self.formatException(record.exc_info)
        return json.dumps(doc, default=str)


def _cmd_run(args: argparse.Namespace) -> int:
    flags = {name: getattr(args, name) for name in ingest_config.ENV}
    if args.log_json:
        for handler in logging.getLogger().handlers:
            handler.setFormatter(JsonFormatter())
    service = Service(ingest_config.load(flags))

    def _stop(signum: int, frame: object) -> None:
        service.request_stop()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    service.start()
    try:
        service.wait()
    finally:
        service.stop()
    if service.fatal:
        print(f"emusa-ingestor run: fatal: {service.fatal}", file=sys.stderr)
        return 1
    return 0


def _cmd_health(args: argparse.Namespace) -> int:
    path = args.status_file or Path(
        os.environ.get(ingest_config.ENV["status_file"]) or ingest_config.DEFAULT_STATUS_FILE
    )
    try:
        doc = health.read_status(path)
    except (OSError, ValueError) as exc:
        print(f"unhealthy: cannot read the status file {path}: {exc}")
        return 1
    problems = health.check(doc, max_age=args.max_age)
    print(json.dumps({"healthy": not problems, "problems": problems, **doc}, sort_keys=True))
    return 1 if problems else 0


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
    utc_database_sessions()
    logs.setup(verbose=args.verbose)
    commands = {
        "migrate": _cmd_migrate,
        "migrate-status": _cmd_status,
        "run": _cmd_run,
        "health": _cmd_health,
        **cli_meters.COMMANDS,
        "import-legacy": cli_legacy.run,
    }
    try:
        return commands[args.command](args)
    except (IngestorError, SettingsError) as exc:
        print(f"emusa-ingestor {args.command}: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    raise SystemExit(main())
