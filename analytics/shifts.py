"""Production shifts of a site from a YAML file: ``emusa-analytics shifts set|show|clear``.

The file holds one complete configuration (one version) of one site::

    site: fab
    valid_from: 2026-12-01      # optional; first production date (default: always)
    shifts:
      - {name: A, days: [working], start: "06:00", end: "14:00"}
      - {name: B, days: [working], start: "14:00", end: "22:00"}
      - {name: C, days: [working], start: "22:00", end: "06:00"}   # crosses midnight
      - {name: fim de semana, days: [saturday, sunday, holiday], start: "06:00", end: "06:00"}

``set`` replaces that version in one transaction; the database (migration 0010) checks
at commit that every day type is covered by shifts that tile 24 hours from the same
production-day start, and its error names the site, day type and shift. ``clear``
removes a site's shifts (back to the defaults above); ``show`` lists a day's shifts.
"""

from __future__ import annotations

import argparse
import re
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any, Literal

import psycopg
import yaml
from pydantic import Field, ValidationError, field_validator

from analytics.errors import AnalyticsError, ConfigError, DatabaseError
from contract.settings import Strict, database_url

DayType = Literal["working", "saturday", "sunday", "holiday"]
_HHMM = re.compile(r"([01][0-9]|2[0-4]):([0-5][0-9])")  # fullmatch: "$" allows a "\n"


class ShiftsError(AnalyticsError):
    """The database refused a shift configuration (gap, overlap, unknown site)."""


def _hhmm(value: object, *, allow_24: bool) -> str:
    """A local time ``HH:MM`` on a quarter hour. PyYAML reads an unquoted ``06:00`` as
    the base-60 integer 360 (minutes): that is taken back to ``06:00``."""
    if isinstance(value, int) and not isinstance(value, bool):
        value = f"{value // 60:02d}:{value % 60:02d}"
    m = _HHMM.fullmatch(value) if isinstance(value, str) else None
    if m is None or (int(m[1]) == 24 and (not allow_24 or m[2] != "00")):
        raise ValueError(f"{value!r} is not a time HH:MM")
    if int(m[2]) % 15:
        raise ValueError(f"{value!r} is not on a quarter hour (shifts align to 15-min demand)")
    return str(value)


class Shift(Strict):
    name: str = Field(min_length=1, max_length=40, pattern=r"^\S(.*\S)?$")
    days: list[DayType] = Field(min_length=1)
    start: str
    end: str

    @field_validator("start", mode="before")
    @classmethod
    def _start(cls, v: object) -> str:
        return _hhmm(v, allow_24=False)

    @field_validator("end", mode="before")
    @classmethod
    def _end(cls, v: object) -> str:
        return _hhmm(v, allow_24=True)


class ShiftConfig(Strict):
    site: str = Field(min_length=1)
    valid_from: date = date(2000, 1, 1)
    shifts: list[Shift] = Field(min_length=1)

    @field_validator("shifts")
    @classmethod
    def _unique(cls, v: list[Shift]) -> list[Shift]:
        names = [s.name for s in v]
        if dupes := sorted({n for n in names if names.count(n) > 1}):
            raise ValueError(f"shift names repeated: {', '.join(dupes)}")
        return v


def load(path: Path) -> ShiftConfig:
    """The configuration in ``path``; ConfigError naming the file and the bad field."""
    try:
        raw: Any = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigError(f"{path}: {exc}") from exc
    try:
        return ShiftConfig.model_validate(raw)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or '(file)'}: {e['msg']}" for e in exc.errors()
        )
        raise ConfigError(f"{path}: {problems}") from None


def apply(dsn: str, cfg: ShiftConfig) -> int:
    """Replace the site's version ``cfg.valid_from`` with ``cfg.shifts``; rows written."""
    try:
        with psycopg.connect(dsn) as conn:
            conn.execute(
                "DELETE FROM site_shifts WHERE site_id = %s AND valid_from = %s",
                (cfg.site, cfg.valid_from),
            )
            for s in cfg.shifts:
                conn.execute(
                    "INSERT INTO site_shifts (site_id, shift, days, starts, ends, valid_from)"
                    " VALUES (%s, %s, %s, %s::time, %s::time, %s)",
                    (cfg.site, s.name, s.days, s.start, s.end, cfg.valid_from),
                )
            conn.commit()  # the shifts are checked here (deferred constraint trigger)
    except psycopg.errors.ForeignKeyViolation:
        raise ShiftsError(f"unknown site {cfg.site!r}") from None
    except (psycopg.errors.CheckViolation, psycopg.errors.UniqueViolation) as exc:
        raise ShiftsError(exc.diag.message_primary or str(exc)) from None
    except psycopg.Error as exc:
        raise DatabaseError(f"writing the shifts of {cfg.site}: {exc}") from exc
    return len(cfg.shifts)


def clear(dsn: str, site: str) -> int:
    """Remove every shift of ``site`` (it falls back to the defaults); rows removed."""
    try:
        with psycopg.connect(dsn) as conn:
            cur = conn.execute("DELETE FROM site_shifts WHERE site_id = %s", (site,))
            return cur.rowcount
    except psycopg.Error as exc:
        raise DatabaseError(f"clearing the shifts of {site}: {exc}") from exc


def day_shifts(dsn: str, site: str, day: date) -> list[tuple[str, str, str, str]]:
    """(shift, day type, local start, local end) of the production date ``day``."""
    try:
        with psycopg.connect(dsn) as conn:
            if conn.execute("SELECT 1 FROM sites WHERE site_id = %s", (site,)).fetchone() is None:
                raise ShiftsError(f"unknown site {site!r}")
            rows = conn.execute(
                "SELECT i.shift, i.day_type,"
                " to_char(i.starts_at AT TIME ZONE s.timezone, 'YYYY-MM-DD HH24:MI'),"
                " to_char(i.ends_at AT TIME ZONE s.timezone, 'YYYY-MM-DD HH24:MI')"
                " FROM sites s, emusa_shift_intervals(s.site_id, %s, %s) i"
                " WHERE s.site_id = %s ORDER BY i.starts_at",
                (day, day, site),
            ).fetchall()
    except psycopg.Error as exc:
        raise DatabaseError(f"reading the shifts of {site}: {exc}") from exc
    return [(str(a), str(b), str(c), str(d)) for a, b, c, d in rows]


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
