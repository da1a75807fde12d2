"""Write validated batches into TimescaleDB with psycopg 3, one transaction per batch.

Per batch: register unknown sites and meters, binary COPY the readings straight into
``readings`` (inside a savepoint; when a duplicate aborts it, through a temporary staging
table and ``INSERT … SELECT … ON CONFLICT DO NOTHING`` instead, so a redelivered reading
is harmless), store the gateways' Modbus diagnostics (``modbus_meter_diagnostics``,
``modbus_bus_diagnostics``; a redelivery is skipped), store the rejects, and on the
Apache-only build log the batch's time range in ``rollup.invalidations`` — all committed
together or not at all.

Driver errors become ``DatabaseUnavailable`` (connection lost, server restarting, busy:
retry the same batch) or ``BatchError`` (the data was refused: isolate the messages).
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql
from psycopg.types.json import Jsonb

from gateway.contract import Reading
from gateway.diagnostics import Diagnostics
from gateway.quantities import QUANTITIES
from ingestor.errors import BatchError, DatabaseError, DatabaseUnavailable
from ingestor.ranges import time_ranges
from ingestor.validate import Reject, make_reject

log = logging.getLogger(__name__)

QUANTITY_NAMES: tuple[str, ...] = tuple(QUANTITIES)
COLUMNS: tuple[str, ...] = ("time", "meter_id", "seq", *QUANTITY_NAMES)
COPY_TYPES: tuple[str, ...] = ("timestamptz", "int4", "int8", *("float8",) * len(QUANTITY_NAMES))
_TRANSIENT_CLASSES = frozenset({"08", "40", "53", "55", "57", "58"})
_HEADER = re.compile(r"^-- name: (\w+)\s*$", re.MULTILINE)

Row = tuple[Any, ...]
Conn = psycopg.Connection[tuple[Any, ...]]


def named_statements(filename: str) -> dict[str, str]:
    """The statements of ``ingestor/<filename>``, by their ``-- name:`` header."""
    text = (Path(__file__).with_name(filename)).read_text(encoding="utf-8")
    parts = _HEADER.split(text)
    out: dict[str, str] = {}
    for name, body in zip(parts[1::2], parts[2::2], strict=True):
        lines = [ln for ln in body.strip().splitlines() if not ln.startswith("--")]
        out[name] = "\n".join(lines).strip().rstrip(";")
    return out


@cache
def queries() -> dict[str, sql.Composed | sql.SQL]:
    """The named queries of ``queries.sql``, with the column lists filled in."""
    columns = sql.SQL(", ").join(sql.Identifier(c) for c in COLUMNS)
    placeholders = sql.SQL(", ").join(sql.Placeholder() * len(COLUMNS))
    out: dict[str, sql.Composed | sql.SQL] = {}
    for name, statement in named_statements("queries.sql").items():
        query = sql.SQL(statement)  # the text of our own file, never a value
        if "{columns}" in statement:
            out[name] = query.format(columns=columns, placeholders=placeholders)
        else:
            out[name] = query
    return out


def reading_row(reading: Reading, meter_id: int) -> Row:
    """One ``readings`` row, columns in ``COLUMNS`` order (absent quantities are NULL)."""
    return (reading.ts, meter_id, reading.seq, *map(reading.values.get, QUANTITY_NAMES))


def diagnostics_params(d: Diagnostics, meter_id: int | None) -> dict[str, Any]:
    """Parameters of ``insert_meter_diagnostics`` / ``insert_bus_diagnostics``."""
    params: dict[str, Any] = dict(d.fields)
    params["exception_codes"] = Jsonb(dict(params["exception_codes"]))
    params.update(time=d.ts, site=d.site, gateway=d.gateway, bus=d.bus, meter_id=meter_id)
    return params


def is_transient(exc: psycopg.Error) -> bool:
    if isinstance(exc, psycopg.OperationalError | psycopg.InterfaceError):
        return True
    return (exc.sqlstate or "")[:2] in _TRANSIENT_CLASSES


def convert(exc: psycopg.Error, what: str) -> DatabaseError:
    if is_transient(exc):
        return DatabaseUnavailable(f"{what}: {exc}")
    return BatchError(f"{what}: {exc}")


@dataclass
class WriteResult:
    inserted: int = 0
    duplicates: int = 0
    rejected: int = 0
    diagnostics: int = 0  # diagnostics rows stored (redeliveries skipped)
    new_meters: list[tuple[str, str]] = field(default_factory=list)
    seconds: float = 0.0


@dataclass(frozen=True, slots=True)
class Message:
    """A reading or diagnostics with where it came from, to dead-letter it if refused."""

    record: Reading | Diagnostics
    topic: str
    payload: bytes


class Writer:
    """One database connection writing batches; reconnects on the next call after a loss."""

    def __init__(self, conninfo: str, *, connect_timeout: int = 5) -> None:
        self._conninfo = conninfo
        self._connect_timeout = connect_timeout
        self._conn: Conn | None = None
        self._meters: dict[tuple[str, str], int] = {}
        self._invalidations = False

    # --- connection -----------------------------------------------------------------

    def connect(self) -> Conn:
        if self._conn is not None and not self._conn.closed:
            return self._conn
        self.close()
        q = queries()
        try:
            conn = psycopg.connect(
                self._conninfo,
                autocommit=True,
                connect_timeout=self._connect_timeout,
                application_name="emusa-ingestor",
            )
        except psycopg.Error as exc:
            raise convert(exc, "cannot connect to the database") from exc
        try:
            row = conn.execute(q["has_invalidations"]).fetchone()
            self._invalidations = bool(row and row[0])
            self._meters = {(s, n): int(i) for s, n, i in conn.execute(q["load_meters"])}
            conn.execute(q["create_staging"])
        except psycopg.Error as exc:
            conn.close()
            raise convert(exc, "cannot prepare the ingest session") from exc
        self._conn = conn
        log.info(
            "connected to the database",
            extra={"action": "db_connect", "meters": len(self._meters)},
        )
        return conn

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    @property
    def logs_invalidations(self) -> bool:
        return self._invalidations

    def __enter__(self) -> Writer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- batches --------------------------------------------------------------------

    def write(
        self,
        readings: Sequence[Reading],
        rejects: Sequence[Reject] = (),
        diagnostics: Sequence[Diagnostics] = (),
    ) -> WriteResult:
        """Store a batch atomically; redelivered readings are counted as duplicates."""
        start = time.perf_counter()
        conn = self.connect()
        result = WriteResult(rejected=len(rejects))
        keys = [(r.site, r.meter) for r in readings]
        keys += [(d.site, d.meter) for d in diagnostics if d.meter is not None]
        try:
            with conn.transaction():
                ids = self._resolve(conn, keys)
                meters = {**self._meters, **ids}
                if readings:
                    rows = [reading_row(r, meters[(r.site, r.meter)]) for r in readings]
                    result.inserted = self._insert(conn, rows)
                    self._log_range(conn, readings)
                for d in diagnostics:
                    result.diagnostics += self._store_diagnostics(conn, d, meters)
                self._store_rejects(conn, rejects)
        except psycopg.Error as exc:
            self._after_error()
            raise convert(exc, "batch not written") from exc
        self._meters.update(ids)
        result.new_meters = sorted(ids)
        result.duplicates = len(readings) - result.inserted
        result.seconds = time.perf_counter() - start
        return result

    def write_isolated(
        self, messages: Sequence[Message], rejects: Sequence[Reject], keep_bytes: int
    ) -> WriteResult:
        """Slow path after a ``BatchError``: each reading alone, refused ones dead-lettered."""
        start = time.perf_counter()
        conn = self.connect()
        q = queries()
        result = WriteResult()
        refused: list[Reject] = []
        known: dict[tuple[str, str], int] = {}
        stored: list[Reading] = []
        try:
            with conn.transaction():
                for m in messages:
                    record = m.record
                    key = (record.site, record.meter or "")
                    try:
                        with conn.transaction():
                            if isinstance(record, Diagnostics):
                                ids = self._resolve(conn, [key]) if record.meter else {}
                                meters = {**self._meters, **known, **ids}
                                result.diagnostics += self._store_diagnostics(conn, record, meters)
                                known.update(ids)
                                continue
                            ids = self._resolve(conn, [key]) if key not in known else {}
                            meter_id = self._meters.get(key) or known.get(key) or ids[key]
                            cur = conn.execute(q["insert_reading"], reading_row(record, meter_id))
                    except psycopg.Error as exc:
                        if is_transient(exc):
                            raise
                        refused.append(
                            make_reject(m.topic, m.payload, "db_refused", str(exc), keep_bytes)
                        )
                        log.error(
                            "database refused a reading: %s",
                            exc,
                            extra={"action": "db_refused", "topic": m.topic},
                        )
                        continue
                    known.update(ids)
                    stored.append(record)
                    result.inserted += max(cur.rowcount, 0)
                self._log_range(conn, stored)
                self._store_rejects(conn, [*rejects, *refused])
        except psycopg.Error as exc:
            self._after_error()
            raise convert(exc, "batch not written (isolated)") from exc
        self._meters.update(known)
        result.new_meters = sorted(known)
        result.rejected = len(rejects) + len(refused)
        result.duplicates = len(stored) - result.inserted
        result.seconds = time.perf_counter() - start
        return result

    # --- parts of a batch -------------------------------------------------------------

    def _resolve(self, conn: Conn, keys: Iterable[tuple[str, str]]) -> dict[tuple[str, str], int]:
        """Ids of meters not in the cache, registering them (and their site) when new.

        Runs inside the batch transaction; the cache is updated only after the commit.
        """
        unknown = {k for k in keys if k not in self._meters}
        if not unknown:
            return {}
        q = queries()
        ids: dict[tuple[str, str], int] = {}
        for site, meter in sorted(unknown):
            params = {"site": site, "meter": meter}
            conn.execute(q["register_site"], params)
            conn.execute(q["register_meter"], params)
            row = conn.execute(q["find_meter"], params).fetchone()
            if row is None:  # pragma: no cover - the insert above guarantees a row
                raise BatchError(f"meter {site}/{meter} could not be registered")
            ids[(site, meter)] = int(row[0])
            log.info(
                "registered meter %s/%s",
                site,
                meter,
                extra={"action": "register_meter", "site": site, "meter": meter},
            )
        return ids

    def _insert(self, conn: Conn, rows: list[Row]) -> int:
        """Insert rows, skipping those already stored; returns how many were new.

        Fast path: binary COPY straight into ``readings`` inside a savepoint. A duplicate
        (a redelivery after a crash, a gateway replaying its buffer) aborts it; the batch
        then goes through a staging table and ``INSERT … ON CONFLICT DO NOTHING``.
        """
        q = queries()
        try:
            with conn.transaction(), conn.cursor() as cur, cur.copy(q["copy_readings"]) as copy:
                copy.set_types(COPY_TYPES)
                for row in rows:
                    copy.write_row(row)
            return len(rows)
        except psycopg.errors.UniqueViolation:
            log.debug("duplicates in batch, merging", extra={"action": "merge", "rows": len(rows)})
        with conn.cursor() as cur:
            with cur.copy(q["copy_staging"]) as copy:
                copy.set_types(COPY_TYPES)
                for row in rows:
                    copy.write_row(row)
            cur.execute(q["merge_staging"])
            return max(cur.rowcount, 0)

    def _store_diagnostics(
        self, conn: Conn, d: Diagnostics, meters: dict[tuple[str, str], int]
    ) -> int:
        """Insert one diagnostics row (registering its site for a bus); 1 if it was new."""
        q = queries()
        if d.meter is None:
            conn.execute(q["register_site"], {"site": d.site})
            cur = conn.execute(q["insert_bus_diagnostics"], diagnostics_params(d, None))
        else:
            meter_id = meters[(d.site, d.meter)]
            cur = conn.execute(q["insert_meter_diagnostics"], diagnostics_params(d, meter_id))
        return max(cur.rowcount, 0)

    def _log_range(self, conn: Conn, readings: Sequence[Reading]) -> None:
        if self._invalidations and readings:
            with conn.cursor() as cur:
                cur.executemany(queries()["log_invalidation"], time_ranges(r.ts for r in readings))

    def _store_rejects(self, conn: Conn, rejects: Sequence[Reject]) -> None:
        if not rejects:
            return
        with conn.cursor() as cur:
            cur.executemany(
                queries()["insert_reject"],
                [(r.topic, r.reason, r.payload, r.payload_bytes, r.truncated) for r in rejects],
            )

    def _after_error(self) -> None:
        """Drop a broken connection so the next call reconnects."""
        if self._conn is not None and (self._conn.closed or self._conn.broken):
            self.close()


def copy_into_readings(conn: Conn, rows: Iterable[Row]) -> None:
    """Binary COPY straight into ``readings`` (no conflict handling): the speed ceiling."""
    with conn.cursor() as cur, cur.copy(queries()["copy_readings"]) as copy:
        copy.set_types(COPY_TYPES)
        for row in rows:
            copy.write_row(row)
