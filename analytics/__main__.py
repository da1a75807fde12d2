"""``emusa-analytics``: command line of the analytics service."""

from __future__ import annotations

import argparse
import logging
import sys
from datetime import datetime

from analytics import cli_delivery, rollups
from analytics.errors import AnalyticsError
from ingestor.errors import IngestorError
from ingestor.settings import DATABASE_URL, database_url


def _instant(text: str) -> datetime:
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an ISO 8601 instant: {text!r}") from None
    if value.tzinfo is None:
        raise argparse.ArgumentTypeError(f"instant without a UTC offset: {text!r}")
    return value


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="emusa-analytics",
        description="EMUSA analytics: rollups, anomaly detection, summaries and reports.",
    )
    p.add_argument("--database-url", help=f"libpq URL (default: ${DATABASE_URL})")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")
    r = sub.add_parser("refresh-rollups", help="re-aggregate the rollups over a range")
    r.add_argument("--from", dest="start", type=_instant, help="ISO 8601 with offset")
    r.add_argument("--to", dest="end", type=_instant, help="ISO 8601 with offset")
    r.add_argument("--pending", action="store_true", help="only what the ingestor logged")
    t = sub.add_parser("tariff-period", help="tariff period of an instant at a site")
    t.add_argument("--site", required=True)
    t.add_argument("--at", required=True, type=_instant, help="ISO 8601 with offset")
    cli_delivery.add_commands(sub)
    return p


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    try:
        if args.command in cli_delivery.COMMANDS:
            return cli_delivery.COMMANDS[args.command](args)
        url = database_url(args.database_url)
        if args.command == "refresh-rollups":
            if args.pending:
                print(f"refreshed {rollups.refresh_pending(url)} pending ranges")
            elif args.start and args.end:
                how = rollups.refresh(url, args.start, args.end)
                print(f"refreshed {args.start.isoformat()} .. {args.end.isoformat()} ({how})")
            else:
                parser.error("refresh-rollups needs --from and --to, or --pending")
        else:
            print(rollups.tariff_period(url, args.site, args.at))
    except (AnalyticsError, IngestorError) as exc:
        print(f"emusa-analytics {args.command}: error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
