"""A site's shifts in the database (``site_shifts``, migration 0010).

:func:`apply` replaces one version in one transaction; the database checks at commit
that every day type is covered by shifts that tile 24 hours from the same production-day
start, and its error names the site, day type and shift. :func:`clear` removes a site's
shifts (back to the defaults: A 06-14, B 14-22, C 22-06 on working days, one weekend
shift 06-06); :func:`day_shifts` lists a production date's shifts. Named queries in
``shifts/queries.sql``.
"""

from __future__ import annotations

from datetime import date
from typing import LiteralString

import psycopg

from analytics.errors import AnalyticsError, DatabaseError
from analytics.shifts.config import ShiftConfig
from contract import sqlfiles


class ShiftsError(AnalyticsError):
    """The database refused a shift configuration (gap, overlap, unknown site)."""


def _q(name: str) -> LiteralString:
    """A query of ``shifts/queries.sql`` (our own file, never a value)."""
    return sqlfiles.beside(__file__)[name]


def apply(dsn: str, cfg: ShiftConfig) -> int:
    """Replace the site's version ``cfg.valid_from`` with ``cfg.shifts``; rows written."""
    try:
        with psycopg.connect(dsn) as conn:
            conn.execute(_q("delete_version"), (cfg.site, cfg.valid_from))
            for s in cfg.shifts:
                conn.execute(
                    _q("insert_shift"), (cfg.site, s.name, s.days, s.start, s.end, cfg.valid_from)
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
            cur = conn.execute(_q("clear"), (site,))
            return cur.rowcount
    except psycopg.Error as exc:
        raise DatabaseError(f"clearing the shifts of {site}: {exc}") from exc


def day_shifts(dsn: str, site: str, day: date) -> list[tuple[str, str, str, str]]:
    """(shift, day type, local start, local end) of the production date ``day``."""
    try:
        with psycopg.connect(dsn) as conn:
            if conn.execute(_q("site_exists"), (site,)).fetchone() is None:
                raise ShiftsError(f"unknown site {site!r}")
            rows = conn.execute(_q("day_shifts"), (day, day, site)).fetchall()
    except psycopg.Error as exc:
        raise DatabaseError(f"reading the shifts of {site}: {exc}") from exc
    return [(str(a), str(b), str(c), str(d)) for a, b, c, d in rows]
