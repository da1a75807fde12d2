"""Write validated batches into TimescaleDB with psycopg 3, one transaction per batch.

Per batch: register unknown sites and meters (within the limits of ``ingestor.bounds``:
the readings of a meter over them are dead-lettered), binary COPY the readings straight into
``readings`` (inside a savepoint; when a duplicate aborts it, through a temporary staging
table and ``INSERT … SELECT … ON CONFLICT DO NOTHING`` instead, so a redelivered reading
is harmless), store the gateways' Modbus diagnostics (``modbus_meter_diagnostics``,
``modbus_bus_diagnostics``; a redelivery is skipped), store the meters' info messages
(``meters``, ``meter_registers``: ingestor/meter_info.py), store the rejects, and log the
batch's time ranges in ``rollup.invalidations`` for the rollups (those starting before
``rollup.late_before()``: all on the Apache-only build, on Community the ones its refresh
policies no longer reach) — all committed together or not at all.

Driver errors become ``DatabaseUnavailable`` (connection lost, server restarting, busy:
retry the same batch) or ``BatchError`` (the data was refused: isolate the messages).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from functools import cache
from typing import Any

import psycopg
from psycopg import sql
from psycopg.types.json import Jsonb

from contract import Reading, sqlfiles
from contract.diagnostics import OPTIONAL, Diagnostics
from contract.meterinfo import MeterInfo
from contract.quantities import QUANTITIES
from ingestor import meter_info
from ingestor.bounds import Key, Limits, Registrar, Registration, RejectBudget
from ingestor.errors import BatchError, DatabaseError, DatabaseUnavailable
from ingestor.ranges import time_ranges
from ingestor.validate import Reject, make_reject

log = logging.getLogger(__name__)

QUANTITY_NAMES: tuple[str, ...] = tuple(QUANTITIES)
COLUMNS: tuple[str, ...] = ("time", "meter_id", "seq", *QUANTITY_NAMES)
COPY_TYPES: tuple[str, ...] = ("timestamptz", "int4", "int8", *("float8",) * len(QUANTITY_NAMES))
_TRANSIENT_CLASSES = frozenset({"08", "40", "53", "55", "57", "58"})

_CHANNEL = (
    sql.SQL(", channel, port, identifier"),
    sql.SQL(", %(channel)s, %(port)s, %(identifier)s"),
)

Row = tuple[Any, ...]
Record = Reading | Diagnostics | MeterInfo
Conn = psycopg.Connection[tuple[Any, ...]]


@cache
def bound_queries() -> dict[str, sql.Composed | sql.SQL]:
    """``queries()`` and the named queries of ``bounds.sql``."""
    bounds = sqlfiles.beside(__file__, "bounds.sql")
    return {**queries(), **{n: sql.SQL(s) for n, s in bounds.items()}}  # our own files


@cache
def queries() -> dict[str, sql.Composed | sql.SQL]:
    """The named queries of ``queries.sql``, with the column lists filled in."""
    columns = sql.SQL(", ").join(sql.Identifier(c) for c in COLUMNS)
    placeholders = sql.SQL(", ").join(sql.Placeholder() * len(COLUMNS))
    out: dict[str, sql.Composed | sql.SQL] = {}
    for name, statement in sqlfiles.beside(__file__).items():
        query = sql.SQL(statement)  # the text of our own file, never a value
        if "{columns}" in statement:
            out[name] = query.format(columns=columns, placeholders=placeholders)
        elif "{channel_columns}" in statement:  # migration 0019's columns
            out[name] = query.format(channel_columns=_CHANNEL[0], channel_values=_CHANNEL[1])
            out[f"{name}_before_0019"] = query.format(
                channel_columns=sql.SQL(""), channel_values=sql.SQL("")
            )
        else:
            out[name] = query
    return out


def reading_row(reading: Reading, meter_id: int) -> Row:
    """One ``readings`` row, columns in ``COLUMNS`` order (absent quantities are NULL)."""
    return (reading.ts, meter_id, reading.seq, *map(reading.values.get, QUANTITY_NAMES))


def diagnostics_params(d: Diagnostics, meter_id: int | None) -> dict[str, Any]:
    """Parameters of ``insert_meter_diagnostics`` / ``insert_bus_diagnostics``."""
    params: dict[str, Any] = dict.fromkeys(OPTIONAL) | dict(d.fields)
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
    rejected: int = 0  # messages refused (validation, database, registration limits)
    rejects_unstored: int = 0  # of those, dead letters over the per-reason budget (not stored)
    diagnostics: int = 0  # diagnostics rows stored (redeliveries skipped)
    infos: int = 0  # meter info messages stored (an unchanged one changes no row)
    new_meters: list[tuple[str, str]] = field(default_factory=list)
    seconds: float = 0.0


@dataclass(frozen=True, slots=True)
class Message:
    """A reading, diagnostics or meter info with where it came from, to dead-letter it."""

    record: Record
    topic: str
    payload: bytes


class Writer:
    """One database connection writing batches; reconnects on the next call after a loss."""

    def __init__(
        self,
        conninfo: str,
        *,
        connect_timeout: int = 5,
        limits: Limits | None = None,
        keep_bytes: int = 4096,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._conninfo = conninfo
        self._connect_timeout = connect_timeout
        self._conn: Conn | None = None
        self._meters: dict[tuple[str, str], int] = {}
        self._sites: set[str] = set()
        self._invalidations = False
        self._meter_info = False  # migration 0019 applied
        self._warned_info = False
        self._registrar = Registrar(limits or Limits())
        self._budget = RejectBudget(limits or Limits(), clock)
        self._keep_bytes = keep_bytes

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
            row = conn.execute(q["has_meter_info"]).fetchone()
            self._meter_info = bool(row and row[0])
            self._meters = {(s, n): int(i) for s, n, i in conn.execute(q["load_meters"])}
            self._sites = {s for s, _ in self._meters}
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
        *,
        infos: Sequence[MeterInfo] = (),
        sources: Sequence[Message] = (),
    ) -> WriteResult:
        """Store a batch atomically; redelivered readings are counted as duplicates.

        ``sources``: the messages the records came from, so that a record refused by the
        registration limits is dead-lettered with its topic and payload (without one, a
        ``<site>/<meter>`` topic and an empty payload).
        """
        start = time.perf_counter()
        conn = self.connect()
        origin = {id(m.record): m for m in sources}
        try:
            with conn.transaction():
                records: list[Record] = [*readings, *diagnostics, *infos]
                reg = self._register(conn, records)
                refused = [
                    self._refusal(r, reason, origin)
                    for r in records
                    if (reason := reg.refused.get(_key(r)))
                ]
                readings = [r for r in readings if _key(r) not in reg.refused]
                diagnostics = [d for d in diagnostics if _key(d) not in reg.refused]
                infos = [i for i in infos if _key(i) not in reg.refused]
                meters = {**self._meters, **reg.meters}
                result = WriteResult(rejected=len(rejects) + len(refused))
                if readings:
                    rows = [reading_row(r, meters[(r.site, r.meter)]) for r in readings]
                    result.inserted = self._insert(conn, rows)
                    self._log_range(conn, readings)
                for d in diagnostics:
                    result.diagnostics += self._store_diagnostics(conn, d, meters)
                for i in infos:
                    self._store_info(conn, i, meters)
                result.infos = len(infos)
                result.rejects_unstored = self._store_rejects(conn, [*rejects, *refused])
        except psycopg.Error as exc:
            self._after_error()
            raise convert(exc, "batch not written") from exc
        self._committed(reg, result)
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
        known = Registration()
        stored: list[Reading] = []
        try:
            with conn.transaction():
                for m in messages:
                    record = m.record
                    try:
                        with conn.transaction():
                            reg = self._register(conn, [record], known)
                            if reason := reg.refused.get(_key(record)):
                                refused.append(self._refusal(record, reason, {id(record): m}))
                                continue
                            meters = {**self._meters, **known.meters, **reg.meters}
                            if isinstance(record, Diagnostics):
                                result.diagnostics += self._store_diagnostics(conn, record, meters)
                                _merge(known, reg)
                                continue
                            if isinstance(record, MeterInfo):
                                self._store_info(conn, record, meters)
                                result.infos += 1
                                _merge(known, reg)
                                continue
                            cur = conn.execute(
                                q["insert_reading"], reading_row(record, meters[_key(record)])
                            )
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
                    _merge(known, reg)
                    stored.append(record)
                    result.inserted += max(cur.rowcount, 0)
                self._log_range(conn, stored)
                result.rejects_unstored = self._store_rejects(conn, [*rejects, *refused])
        except psycopg.Error as exc:
            self._after_error()
            raise convert(exc, "batch not written (isolated)") from exc
        self._committed(known, result)
        result.rejected = len(rejects) + len(refused)
        result.duplicates = len(stored) - result.inserted
        result.seconds = time.perf_counter() - start
        return result

    # --- parts of a batch -------------------------------------------------------------

    def _register(
        self,
        conn: Conn,
        records: Iterable[Record],
        known: Registration | None = None,
    ) -> Registration:
        """Meters and sites of ``records`` unknown to the cache (and to ``known``), found
        or registered within the limits; runs inside the batch transaction (the cache is
        updated only after the commit)."""
        seen = known or Registration()
        meters: dict[Key, None] = {}  # in the order first seen
        sites: set[str] = set()
        for r in records:
            key = _key(r)
            if r.meter is None:
                if key[0] not in self._sites and key[0] not in seen.sites:
                    sites.add(key[0])
            elif key not in self._meters and key not in seen.meters:
                meters[key] = None
        if not meters and not sites:
            return Registration()
        return self._registrar.register(conn, bound_queries(), list(meters), sites)

    def _refusal(self, record: Record, reason: str, origin: dict[int, Message]) -> Reject:
        m = origin.get(id(record))
        topic = m.topic if m else "/".join(_key(record))
        payload = m.payload if m else b""
        return make_reject(topic, payload, reason, self._registrar.detail(reason), self._keep_bytes)

    def _committed(self, reg: Registration, result: WriteResult) -> None:
        """After the commit: the cache learns the batch's meters and sites; the dead
        letters are trimmed when it is time (own statement, never failing the batch)."""
        self._meters.update(reg.meters)
        self._sites.update(reg.sites)
        self._sites.update(s for s, _ in reg.meters)
        result.new_meters = sorted(reg.registered)
        if self._conn is not None and self._budget.trim_due():
            self._budget.trim(self._conn, bound_queries())

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
        """Insert one diagnostics row (its meter or site is registered); 1 if it was new."""
        q = queries()
        if d.meter is None:
            cur = conn.execute(q["insert_bus_diagnostics"], diagnostics_params(d, None))
        else:
            meter_id = meters[(d.site, d.meter)]
            name = "insert_meter_diagnostics" + ("" if self._meter_info else "_before_0019")
            cur = conn.execute(q[name], diagnostics_params(d, meter_id))
        return max(cur.rowcount, 0)

    def _store_info(self, conn: Conn, info: MeterInfo, meters: dict[tuple[str, str], int]) -> None:
        """Store a meter's info message (its meter is registered) if migration 0019 is in."""
        if self._meter_info:
            meter_info.store(conn, queries(), info, meters[(info.site, info.meter)])
        elif not self._warned_info:
            self._warned_info = True
            log.warning(
                "meter info of %s/%s not stored: the database lacks migration 0019"
                " (run emusa-ingestor migrate)",
                info.site,
                info.meter,
                extra={"action": "info_not_stored", "meter": info.meter},
            )

    def _log_range(self, conn: Conn, readings: Sequence[Reading]) -> None:
        if self._invalidations and readings:
            with conn.cursor() as cur:
                cur.executemany(queries()["log_invalidation"], time_ranges(r.ts for r in readings))

    def _store_rejects(self, conn: Conn, rejects: Sequence[Reject]) -> int:
        """Store the dead letters within the per-reason budget; how many were not stored."""
        kept, over = self._budget.admit(rejects)
        if kept:
            with conn.cursor() as cur:
                cur.executemany(
                    queries()["insert_reject"],
                    [(r.topic, r.reason, r.payload, r.payload_bytes, r.truncated) for r in kept],
                )
        return over

    def _after_error(self) -> None:
        """Drop a broken connection so the next call reconnects."""
        if self._conn is not None and (self._conn.closed or self._conn.broken):
            self.close()


def _key(record: Record) -> Key:
    return (record.site, record.meter or "")


def _merge(into: Registration, reg: Registration) -> None:
    into.meters.update(reg.meters)
    into.sites.update(reg.sites)
    into.registered.extend(reg.registered)


def copy_into_readings(conn: Conn, rows: Iterable[Row]) -> None:
    """Binary COPY straight into ``readings`` (no conflict handling): the speed ceiling."""
    with conn.cursor() as cur, cur.copy(queries()["copy_readings"]) as copy:
        copy.set_types(COPY_TYPES)
        for row in rows:
            copy.write_row(row)
