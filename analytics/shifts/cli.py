"""``emusa-analytics shifts set|show|clear``: a site's production shifts from a YAML
file (:mod:`analytics.shifts.config`) to the database and back."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

from analytics.shifts.config import load
from analytics.shifts.store import apply, clear, day_shifts
from contract.settings import database_url


def add_commands(sub: Any) -> None:
    p = sub.add_parser("shifts", help="production shifts of a site (YAML in, table out)")
    ss = p.add_subparsers(dest="shifts_command", required=True, metavar="ACTION")
    s = ss.add_parser("set", help="replace a site's shifts from a YAML file")
    s.add_argument("file", type=Path)
    c = ss.add_parser("clear", help="remove a site's shifts (back to the defaults)")
    c.add_argument("--site", required=True)
    w = ss.add_parser("show", help="the shifts of a production date")
    w.add_argument("--site", required=True)
    w.add_argument("--date", type=date.fromisoformat, default=date.today(), help="YYYY-MM-DD")


def _cmd(args: argparse.Namespace) -> int:
    dsn = database_url(args.database_url)
    if args.shifts_command == "set":
        cfg = load(args.file)
        n = apply(dsn, cfg)
        print(f"{cfg.site}: {n} shifts from {cfg.valid_from.isoformat()}")
    elif args.shifts_command == "clear":
        print(f"{args.site}: removed {clear(dsn, args.site)} shifts (defaults apply)")
    else:
        for shift, day_type, start, end in day_shifts(dsn, args.site, args.date):
            print(f"{shift}\t{day_type}\t{start}\t{end}")
    return 0


COMMANDS: dict[str, Callable[[argparse.Namespace], int]] = {"shifts": _cmd}
