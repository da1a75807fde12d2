"""``emusa-ingestor import-legacy``: bring the old Dash app's history into ``readings``.

Page by page (keyset on (ts, id), ingestor/legacy_source.py): each row becomes a contract
reading document (ingestor/legacy_map.py) validated as a live reading
(``validate.validate_document``: same checks, same reject reasons); of the rows sharing
an instant the first valid one (lowest id) is kept; instants this meter already has are
skipped; the rest goes through the live ``Writer`` (meter and site registered as on first
sight of a topic, binary COPY, rejects into ``ingest_rejects``, and on the Apache-only
build the range logged in ``rollup.invalidations``), one transaction per page. A second
run therefore adds nothing. A counter reset in the old data is data: stored as read.

At the end the rollups of the imported range are refreshed with
``analytics.worker.rollups.refresh`` (continuous aggregates on the Community build, the rollup
tables on the Apache-only build). ``dry_run`` reads both databases and writes nothing.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime

import psycopg
from psycopg import sql

from analytics.errors import DatabaseError as RollupError
from analytics.worker import rollups
from contract import Reading, reading_topic
from contract.aliases import AliasError
from contract.aliases import load as load_aliases
from ingestor.bounds import Limits
from ingestor.errors import IngestorError
from ingestor.legacy_map import ColumnPlan, Tally, document, map_columns
from ingestor.legacy_source import LegacySource, Row, prefetched, statements
from ingestor.legacy_text import t
from ingestor.progress import Progress
from ingestor.validate import Policy, Reject, validate_document
from ingestor.writer import Writer, queries

log = logging.getLogger(__name__)

PAGE_ROWS = 5000


@dataclass(frozen=True)
class ImportRequest:
    source_url: str
    database_url: str
    site: str
    meter: str
    since: datetime
    until: datetime
    table: str = "leituras"
    dry_run: bool = False
    page_rows: int = PAGE_ROWS
    lang: str = "pt-BR"


@dataclass
class ImportResult:
    tally: Tally
    plan: ColumnPlan
    table: str
    new_meter: bool = False
    rollups: str | None = None  # mechanism used by analytics.worker.rollups.refresh
    rollup_error: str | None = None
    seconds: float = 0.0  # the whole import, rollup refresh included
    rollup_seconds: float = 0.0


ProgressFactory = Callable[[int, str], Progress]  # (total rows, label) -> progress


class _Target:
    """Lookups in the EMUSA database (read only): the meter's id and its stored instants."""

    def __init__(self, url: str) -> None:
        self._conn = psycopg.connect(url, autocommit=True, application_name="emusa-import-legacy")
        self._stored = sql.SQL(statements()["stored_instants"])
        self._known = sql.SQL(statements()["known_rejects"])

    def meter_id(self, site: str, meter: str) -> int | None:
        row = self._conn.execute(queries()["find_meter"], {"site": site, "meter": meter}).fetchone()
        return int(row[0]) if row else None

    def stored(self, meter_id: int, first: datetime, last: datetime) -> set[datetime]:
        params = {"meter_id": meter_id, "first": first, "last": last}
        return {r[0] for r in self._conn.execute(self._stored, params)}

    def known_rejects(self, topic: str) -> set[bytes]:
        """Digests of the payloads already dead-lettered on ``topic``."""
        rows = self._conn.execute(self._known, {"topic": topic})
        return {_digest(bytes(r[0])) for r in rows}

    def close(self) -> None:
        self._conn.close()


def _digest(payload: bytes) -> bytes:
    return hashlib.blake2b(payload, digest_size=16).digest()


def run_import(
    req: ImportRequest,
    *,
    policy: Policy,
    now: datetime,
    progress: ProgressFactory,
    limits: Limits | None = None,
) -> ImportResult:
    """Import ``req``'s range of the old table; the tally accounts for every row read."""
    start = time.perf_counter()
    try:
        plan = map_columns(load_aliases())
    except AliasError as exc:
        raise IngestorError(t("bad_aliases", req.lang, err=exc)) from exc
    columns = [m.column for m in plan.columns]
    with LegacySource(req.source_url, req.table, columns, req.lang) as src:
        result = ImportResult(Tally(), plan, src.table)
        try:
            target = _Target(req.database_url)
        except psycopg.Error as exc:
            raise IngestorError(t("target_failed", req.lang, err=str(exc).strip())) from exc
        try:
            _copy(
                req,
                src,
                target,
                policy=policy,
                now=now,
                progress=progress,
                result=result,
                limits=limits,
            )
        except psycopg.Error as exc:
            raise IngestorError(t("target_failed", req.lang, err=str(exc).strip())) from exc
        finally:
            target.close()
    _refresh_rollups(req, result)
    result.seconds = time.perf_counter() - start
    return result


def _copy(
    req: ImportRequest,
    src: LegacySource,
    target: _Target,
    *,
    policy: Policy,
    now: datetime,
    progress: ProgressFactory,
    result: ImportResult,
    limits: Limits | None,
) -> None:
    """Every page through validation into the writer; reading, validating and writing
    overlap (a reader thread, the caller, a writer thread)."""
    with (
        Writer(req.database_url, limits=limits, keep_bytes=policy.keep_bytes) as writer,
        ThreadPoolExecutor(1, thread_name_prefix="import-legacy-writer") as pool,
    ):
        run = _Run(
            req,
            plan=result.plan,
            policy=policy,
            now=now,
            target=target,
            writer=writer,
            pool=pool,
            result=result,
        )
        bar = progress(src.count(req.since, req.until), t("progress", req.lang, table=src.table))
        try:
            for rows in prefetched(src.pages(req.since, req.until, req.page_rows)):
                run.page(rows)
                bar.update(len(rows))
            run.finish()
        finally:
            bar.close()


def _refresh_rollups(req: ImportRequest, result: ImportResult) -> None:
    tally = result.tally
    if req.dry_run or not tally.imported or tally.first is None or tally.last is None:
        return
    refresh_start = time.perf_counter()
    try:
        # Widened by refresh() itself to whole buckets of every rollup (the local day too).
        result.rollups = rollups.refresh(req.database_url, tally.first, tally.last)
    except RollupError as exc:
        result.rollup_error = str(exc)
    result.rollup_seconds = time.perf_counter() - refresh_start


class _Run:
    """The state of one import carried from page to page."""

    def __init__(
        self,
        req: ImportRequest,
        *,
        plan: ColumnPlan,
        policy: Policy,
        now: datetime,
        target: _Target,
        writer: Writer,
        pool: ThreadPoolExecutor,
        result: ImportResult,
    ) -> None:
        self.req = req
        self.columns = plan.columns
        self.policy = policy
        self.now = now
        self.target = target
        self.writer = writer
        self.result = result
        self.topic = reading_topic(policy.root, req.site, req.meter)
        self.meter_id = target.meter_id(req.site, req.meter)
        result.new_meter = self.meter_id is None
        self.last: datetime | None = None  # instant of the last row kept, across pages
        self.known = target.known_rejects(self.topic)
        self.pool = pool
        self.pending: Future[None] | None = None

    def page(self, rows: list[Row]) -> None:
        """Validate, de-duplicate and write one page (one transaction)."""
        req, tally = self.req, self.result.tally
        tally.read += len(rows)
        fresh: list[Reading] = []
        rejects: list[Reject] = []
        for row in rows:
            doc = document(row, req.site, req.meter, self.columns)
            checked = validate_document(self.topic, doc, self.policy, self.now)
            if isinstance(checked, Reject):
                rejects.append(checked)
                tally.rejected[checked.reason] += 1
            elif checked.ts == self.last:
                tally.duplicates_in_source += 1
            else:
                self.last = checked.ts
                fresh.append(checked)
        if fresh and self.meter_id is not None:
            stored = self.target.stored(self.meter_id, fresh[0].ts, fresh[-1].ts)
            if stored:
                tally.already_stored += sum(1 for r in fresh if r.ts in stored)
                fresh = [r for r in fresh if r.ts not in stored]
        if fresh:
            tally.stored_range(fresh[0].ts, fresh[-1].ts)
        if req.dry_run:
            tally.imported += len(fresh)
            return
        if rejects and self.known:
            new = [r for r in rejects if _digest(r.payload) not in self.known]
            tally.rejects_known += len(rejects) - len(new)
            rejects = new
        if fresh or rejects:
            # One write in flight: this page is written while the next one is validated
            # (pages never share an instant, so the next page's check of stored instants
            # cannot miss this one's).
            self.finish()
            self.pending = self.pool.submit(self._write, fresh, rejects)

    def _write(self, fresh: list[Reading], rejects: list[Reject]) -> None:
        tally = self.result.tally
        written = self.writer.write(fresh, rejects)
        if written.rejected > len(rejects):  # the registration limits refused this meter
            raise IngestorError(
                t("meter_refused", self.req.lang, site=self.req.site, meter=self.req.meter)
            )
        tally.imported += written.inserted
        tally.already_stored += written.duplicates  # stored meanwhile (live ingestion)
        if fresh and self.meter_id is None:
            self.meter_id = self.target.meter_id(self.req.site, self.req.meter)

    def finish(self) -> None:
        """Wait for the write in flight; its error, if any, is raised here."""
        if self.pending is not None:
            pending, self.pending = self.pending, None
            pending.result()
