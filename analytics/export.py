"""CSV export of ``bi.readings_1m`` over any range, and the Power BI ``.pbids`` file.

pt-BR friendly CSV: ``sep=';'`` and ``decimal=','`` (what Excel and Power BI expect with
Brazilian regional settings); otherwise ``,`` and ``.``. Rows stream from a server-side
cursor, so a year of data never sits in memory.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator, Sequence
from datetime import datetime
from typing import Any

import psycopg
from psycopg import sql

from analytics.errors import AnalyticsError, DatabaseError
from gateway.quantities import QUANTITIES

#: columns of bi.readings_1m after the time and identity columns
_ID_COLUMNS = ("time_local", "time_utc", "site_id", "meter", "samples")


class ExportError(AnalyticsError):
    """A bad export request (range, separator, unknown column)."""


def default_columns() -> list[str]:
    return [*_ID_COLUMNS, *QUANTITIES]


def _fmt(value: Any, decimal: str) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        text = f"{value:.6f}".rstrip("0").rstrip(".")
        if text in ("-0", ""):
            text = "0"
        return text.replace(".", decimal)
    if isinstance(value, datetime):
        return value.isoformat(sep=" ")
    return str(value)


def csv_rows(
    dsn: str,
    start: datetime,
    end: datetime,
    *,
    meters: Sequence[str] = (),
    site: str | None = None,
    sep: str = ",",
    decimal: str | None = None,
    columns: Sequence[str] | None = None,
    batch: int = 5000,
) -> Iterator[str]:
    """CSV text (header first) of ``bi.readings_1m`` for [start, end), in chunks."""
    if end <= start:
        raise ExportError("the range ends before it starts")
    if sep not in (",", ";", "\t"):
        raise ExportError(f"separator must be ',', ';' or tab, not {sep!r}")
    decimal = decimal or ("," if sep == ";" else ".")
    if decimal not in (",", ".") or decimal == sep:
        raise ExportError(f"decimal separator {decimal!r} does not fit separator {sep!r}")
    cols = list(columns or default_columns())
    allowed = set(default_columns())
    bad = [c for c in cols if c not in allowed]
    if bad:
        raise ExportError(f"unknown column(s): {', '.join(bad)}")
    where = [sql.SQL("time_utc >= %(start)s"), sql.SQL("time_utc < %(end)s")]
    if meters:
        where.append(sql.SQL("meter = ANY(%(meters)s)"))
    if site:
        where.append(sql.SQL("site_id = %(site)s"))
    query = sql.SQL("SELECT {} FROM bi.readings_1m WHERE {} ORDER BY time_utc, meter").format(
        sql.SQL(", ").join(sql.Identifier(c) for c in cols), sql.SQL(" AND ").join(where)
    )
    params = {"start": start, "end": end, "meters": list(meters), "site": site}
    buf = io.StringIO()
    writer = csv.writer(buf, delimiter=sep, lineterminator="\r\n")
    writer.writerow(cols)
    yield buf.getvalue()
    try:
        with psycopg.connect(dsn) as conn, conn.cursor(name="emusa_export") as cur:
            cur.itersize = batch
            cur.execute(query, params)
            while True:
                rows = cur.fetchmany(batch)
                if not rows:
                    break
                buf.seek(0)
                buf.truncate()
                for r in rows:
                    writer.writerow([_fmt(v, decimal) for v in r])
                yield buf.getvalue()
    except psycopg.Error as exc:
        raise DatabaseError(f"CSV export failed: {exc}") from exc


def pbids(server: str, database: str, mode: str = "Import") -> dict[str, Any]:
    """A Power BI data source file (``.pbids``) for the PostgreSQL connector: opening it
    in Power BI Desktop opens *Get data* on this server and database; pick the ``bi``
    views in the navigator and sign in as ``emusa_bi``. It never holds a credential."""
    return {
        "version": "0.1",
        "connections": [
            {
                "details": {
                    "protocol": "postgresql",
                    "address": {"server": server, "database": database},
                },
                "options": {},
                "mode": mode,
            }
        ],
    }
