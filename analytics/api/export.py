"""CSV export of ``bi.readings_1m`` over any range, and the Power BI ``.pbids`` file.

pt-BR friendly CSV: ``sep=';'`` and ``decimal=','`` (what Excel and Power BI expect with
Brazilian regional settings); otherwise ``,`` and ``.``. Rows stream from a server-side
cursor in a read-only transaction, so a year of data never sits in memory; the query runs
(and its first batch is fetched) before the first byte is handed out.
"""

from __future__ import annotations

import csv
import io
import logging
from collections.abc import Callable, Iterator, Sequence
from datetime import datetime
from typing import Any

import psycopg
from psycopg import sql

from analytics.errors import AnalyticsError, DatabaseError
from contract.quantities import QUANTITIES

log = logging.getLogger(__name__)

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


def _query(
    start: datetime,
    end: datetime,
    *,
    meters: Sequence[str],
    site: str | None,
    sep: str,
    decimal: str | None,
    columns: Sequence[str] | None,
) -> tuple[sql.Composed, dict[str, Any], list[str], str]:
    """The export query, its parameters, the columns and the decimal separator; argument
    errors raise ExportError before any connection."""
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
    return query, params, cols, decimal


class CsvExport:
    """One export in CSV chunks from a server-side cursor, in a read-only transaction.

    :meth:`open` runs the query and fetches the first batch, so a database error surfaces
    before anything is sent; :meth:`close` (idempotent, safe after any failure) closes the
    cursor, rolls back and closes the connection, so a client that goes away leaves no
    session idle in transaction.
    """

    def __init__(self, conn: psycopg.Connection[Any], sep: str, decimal: str, batch: int) -> None:
        self._conn = conn
        self._cur: psycopg.ServerCursor[Any] | None = None
        self._decimal = decimal
        self._batch = batch
        self._buf = io.StringIO()
        self._writer = csv.writer(self._buf, delimiter=sep, lineterminator="\r\n")
        self.first = ""

    @classmethod
    def open(
        cls,
        connect: Callable[[], psycopg.Connection[Any]],
        start: datetime,
        end: datetime,
        *,
        meters: Sequence[str] = (),
        site: str | None = None,
        sep: str = ",",
        decimal: str | None = None,
        columns: Sequence[str] | None = None,
        batch: int = 5000,
    ) -> CsvExport:
        """Check the arguments, connect, run the query: ``first`` holds the header and the
        first batch. ExportError for bad arguments, DatabaseError (cause chained) else."""
        query, params, cols, decimal = _query(
            start, end, meters=meters, site=site, sep=sep, decimal=decimal, columns=columns
        )
        try:
            conn = connect()
        except psycopg.Error as exc:
            raise DatabaseError(f"CSV export: cannot connect: {exc}") from exc
        export = cls(conn, sep, decimal, batch)
        try:
            conn.autocommit = False
            conn.read_only = True
            export._cur = conn.cursor(name="emusa_export")
            export._cur.itersize = batch
            export._cur.execute(query, params)
            export._writer.writerow(cols)
            export.first = export._buf.getvalue() + (export.next_chunk() or "")
        except BaseException:
            export.close()
            raise
        return export

    def next_chunk(self) -> str | None:
        """The next batch as CSV text, None at the end; DatabaseError when the query fails."""
        if self._cur is None:
            return None
        try:
            rows = self._cur.fetchmany(self._batch)
        except psycopg.Error as exc:
            raise DatabaseError(f"CSV export failed: {exc}") from exc
        if not rows:
            return None
        self._buf.seek(0)
        self._buf.truncate()
        for r in rows:
            self._writer.writerow([_fmt(v, self._decimal) for v in r])
        return self._buf.getvalue()

    def close(self) -> None:
        """Roll back (which closes the cursor on the server) and close the connection."""
        cur, self._cur = self._cur, None
        try:
            if not self._conn.closed:
                self._conn.rollback()
        except psycopg.Error as exc:  # a broken connection: closing it is all that is left
            log.warning("CSV export: rollback failed: %s", exc)
        finally:
            self._conn.close()
            if cur is not None:
                cur.close()  # only marks it closed: the connection is gone


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
    export = CsvExport.open(
        lambda: psycopg.connect(dsn),
        start,
        end,
        meters=meters,
        site=site,
        sep=sep,
        decimal=decimal,
        columns=columns,
        batch=batch,
    )
    try:
        yield export.first
        while (chunk := export.next_chunk()) is not None:
            yield chunk
    finally:
        export.close()


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
