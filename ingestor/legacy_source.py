"""Read the old Dash app's table in keyset pages of (ts, id), read-only.

The connection is opened with ``default_transaction_read_only`` and in UTC: the import
never writes to the old database. Every failure is a ``LegacySourceError`` naming the
server (never the password), the table and, when columns are missing, which ones.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Iterator, Sequence
from datetime import datetime
from functools import cache
from typing import Any, cast

import psycopg
import psycopg.conninfo
from psycopg import sql

from contract import sqlfiles
from ingestor.errors import LegacySourceError
from ingestor.legacy_map import KEY_COLUMNS, LEGACY_COLUMNS
from ingestor.legacy_text import t

log = logging.getLogger(__name__)

Row = tuple[Any, ...]
_MIN_ID = -(2**63)


@cache
def statements() -> dict[str, str]:
    return sqlfiles.beside(__file__, "legacy.sql")


def where(url: str) -> str:
    """``user@host:port/dbname`` of a libpq URL, for messages (no password)."""
    info = psycopg.conninfo.conninfo_to_dict(url)
    user = f"{info['user']}@" if info.get("user") else ""
    port = f":{info['port']}" if info.get("port") else ""
    return f"{user}{info.get('host', 'localhost')}{port}/{info.get('dbname', '?')}"


class LegacySource:
    """The old app's table on its own connection; pages of ``(id, ts, *columns)``."""

    def __init__(self, url: str, table: str, columns: Sequence[str], lang: str) -> None:
        self._lang = lang
        self._table_name = table
        self._columns = tuple(columns)
        self._schema = "public"
        try:
            self.where = where(url)
        except psycopg.ProgrammingError as exc:
            raise LegacySourceError(t("bad_url", lang, err=exc)) from None
        try:
            self._conn = psycopg.connect(
                url,
                autocommit=True,
                connect_timeout=10,
                application_name="emusa-import-legacy",
                options="-c default_transaction_read_only=on -c TimeZone=UTC",
            )
        except psycopg.Error as exc:
            raise LegacySourceError(
                t("no_connect", lang, where=self.where, err=str(exc).strip())
            ) from exc
        try:
            self.table = self._check_table()
        except BaseException:
            self._conn.close()
            raise
        ident = sql.Identifier(self._schema, self.table)
        values = sql.SQL(", ").join(
            sql.SQL("{}::float8").format(sql.Identifier(c)) for c in self._columns
        )
        q = statements()
        self._count = sql.SQL(q["source_count"]).format(table=ident)
        self._page = sql.SQL(q["source_page"]).format(table=ident, columns=values)

    def _check_table(self) -> str:
        q = statements()
        params = {"table": self._table_name}
        try:
            row = self._conn.execute(q["source_table"], params).fetchone()
            if row is None:
                raise LegacySourceError(
                    t("no_table", self._lang, table=self._table_name, where=self.where)
                )
            self._schema, table = str(row[0]), str(row[1])
            present = {str(r[0]) for r in self._conn.execute(q["source_columns"], params)}
            indexed = self._conn.execute(q["source_ts_indexed"], params).fetchone()
        except psycopg.Error as exc:
            raise self._failed(exc) from exc
        missing = [c for c in (*KEY_COLUMNS, *LEGACY_COLUMNS) if c not in present]
        if missing:
            raise LegacySourceError(
                t(
                    "no_columns",
                    self._lang,
                    table=table,
                    where=self.where,
                    columns=", ".join(missing),
                )
            )
        if not (indexed and indexed[0]):
            log.warning("%s", t("no_ts_index", self._lang, table=table))
        return table

    def _failed(self, exc: psycopg.Error) -> LegacySourceError:
        err = str(exc).strip()
        return LegacySourceError(
            t("source_failed", self._lang, table=self._table_name, where=self.where, err=err)
        )

    def count(self, since: datetime, until: datetime) -> int:
        try:
            row = self._conn.execute(self._count, {"since": since, "until": until}).fetchone()
        except psycopg.Error as exc:
            raise self._failed(exc) from exc
        return int(row[0]) if row else 0

    def pages(self, since: datetime, until: datetime, page_rows: int) -> Iterator[list[Row]]:
        """Rows with ``since <= ts < until`` in (ts, id) order, ``page_rows`` at a time."""
        params: dict[str, Any] = {
            "after_ts": since,
            "after_id": _MIN_ID,
            "until": until,
            "limit": page_rows,
        }
        while True:
            try:
                with self._conn.cursor(binary=True) as cur:
                    rows = cur.execute(self._page, params).fetchall()
            except psycopg.Error as exc:
                raise self._failed(exc) from exc
            if not rows:
                return
            yield rows
            if len(rows) < page_rows:
                return
            params["after_id"], params["after_ts"] = rows[-1][0], rows[-1][1]

    def close(self) -> None:
        self._conn.close()

    def __enter__(self) -> LegacySource:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


_END = object()


def prefetched(pages: Iterator[list[Row]], depth: int = 2) -> Iterator[list[Row]]:
    """``pages`` read ahead by a thread, so the old server's query and the transfer of the
    next page overlap the validation and writing of this one. The source's errors are
    raised here; leaving the loop early stops the reader."""
    ahead: queue.Queue[object] = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def put(item: object) -> bool:
        while not stop.is_set():
            try:
                ahead.put(item, timeout=0.1)
            except queue.Full:
                continue
            return True
        return False

    def read() -> None:
        try:
            for page in pages:
                if not put(page):
                    return
            put(_END)
        except BaseException as exc:  # handed to the consumer, raised there
            put(exc)

    reader = threading.Thread(target=read, name="import-legacy-reader", daemon=True)
    reader.start()
    try:
        while True:
            item = ahead.get()
            if item is _END:
                return
            if isinstance(item, BaseException):
                raise item
            yield cast("list[Row]", item)
    finally:
        stop.set()
        reader.join()
