"""Bounds on what a flood of messages can make the ingestor store (issue 13).

* Sites and meters are registered on first sight of their topic, but at most
  ``max_sites`` sites and ``max_meters`` meters in all (``EMUSA_INGESTOR_MAX_SITES``,
  ``EMUSA_INGESTOR_MAX_METERS``). The readings and diagnostics of a meter (or site)
  beyond the limit are refused into ``ingest_rejects`` with reason ``unknown_meter_limit``
  (``unknown_site_limit``) until an operator admits it (``emusa-ingestor admit-meter``)
  or raises the limit; the known meters of the same batch are stored as usual.
  Registration is serialized by a transaction-level advisory lock, so replicas sharing
  the load never exceed the limits together.
* Dead letters: at most ``per_reason`` rejects of one reason are stored between two
  trims of ``ingest_rejects`` (``emusa_trim_ingest_rejects()``, migration 0013, about
  once a minute while rejects arrive), which keeps the newest ``per_reason`` of each
  reason and drops those older than 30 days. A reason thus never
  holds more than twice ``per_reason`` rows. The messages over the budget are still
  refused and acknowledged, counted as ``rejects_unstored``.

The statements come from ``bounds.sql`` and ``queries.sql``; the caller passes them.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import psycopg
from psycopg import sql

from ingestor.errors import BatchError
from ingestor.validate import Reject

log = logging.getLogger(__name__)

METER_LIMIT = "unknown_meter_limit"
SITE_LIMIT = "unknown_site_limit"
MAX_SITES_VAR = "EMUSA_INGESTOR_MAX_SITES"
MAX_METERS_VAR = "EMUSA_INGESTOR_MAX_METERS"

Key = tuple[str, str]  # (site, meter); meter "" for a site alone (a bus's diagnostics)
Conn = psycopg.Connection[tuple[Any, ...]]
Queries = Mapping[str, sql.Composed | sql.SQL]

_WARNED_MAX = 1000  # refused keys logged once each, up to this many


# A plant: a few RS-485 buses of up to 32 meters each plus some TCP meters, so tens of
# meters on one or a few sites; 500 meters and 20 sites leave a tenfold margin and still
# stop a flood of fake ids early. 10,000 dead letters per reason (payloads cut at 4 KiB
# by default) stay under ~100 MB per reason even at the budget's worst (twice that).
DEFAULT_MAX_SITES = 20
DEFAULT_MAX_METERS = 500
DEFAULT_REJECTS_PER_REASON = 10_000


@dataclass(frozen=True, slots=True)
class Limits:
    max_sites: int = DEFAULT_MAX_SITES
    max_meters: int = DEFAULT_MAX_METERS
    rejects_per_reason: int = DEFAULT_REJECTS_PER_REASON
    trim_every_s: float = 60.0


@dataclass
class Registration:
    meters: dict[Key, int] = field(default_factory=dict)  # found or registered now
    sites: set[str] = field(default_factory=set)  # found or registered now
    registered: list[Key] = field(default_factory=list)  # meters new in the database
    refused: dict[Key, str] = field(default_factory=dict)  # key -> reason


class Registrar:
    """Finds or registers the meters and sites a writer's cache does not know."""

    def __init__(self, limits: Limits) -> None:
        self.limits = limits
        self._warned: set[Key] = set()

    def register(
        self, conn: Conn, q: Queries, meters: Collection[Key], sites: Collection[str]
    ) -> Registration:
        """Inside the batch transaction: ids of ``meters``, existence of ``sites``, with
        the new ones registered in the order given (first seen, first registered) while
        the limits allow, and the others refused."""
        out = Registration()
        if meters:
            found = conn.execute(
                q["find_meters"],
                {"sites": [s for s, _ in meters], "names": [m for _, m in meters]},
            ).fetchall()
            out.meters = {(str(s), str(n)): int(i) for s, n, i in found}
        new_meters = [k for k in dict.fromkeys(meters) if k not in out.meters]
        wanted = set(sites) | {s for s, _ in new_meters}
        if wanted:
            rows = conn.execute(q["find_sites"], {"sites": sorted(wanted)}).fetchall()
            out.sites = {str(r[0]) for r in rows}
        if not new_meters and wanted <= out.sites:
            return out
        conn.execute(q["lock_registration"])
        row = conn.execute(q["count_registered"]).fetchone()
        n_sites, n_meters = (int(row[0]), int(row[1])) if row else (0, 0)
        for site in sorted(wanted - out.sites):
            if n_sites >= self.limits.max_sites:
                continue
            conn.execute(q["register_site"], {"site": site})
            out.sites.add(site)
            n_sites += 1
            log.info("registered site %s", site, extra={"action": "register_site", "site": site})
        for site in sorted(set(sites) - out.sites):
            self._refuse(out, (site, ""), SITE_LIMIT)
        for key in new_meters:
            site, meter = key
            if site not in out.sites:
                self._refuse(out, key, SITE_LIMIT)
                continue
            if n_meters >= self.limits.max_meters:
                self._refuse(out, key, METER_LIMIT)
                continue
            params = {"site": site, "meter": meter}
            conn.execute(q["register_meter"], params)
            found_one = conn.execute(q["find_meter"], params).fetchone()
            if found_one is None:  # pragma: no cover - the insert above guarantees a row
                raise BatchError(f"meter {site}/{meter} could not be registered")
            out.meters[key] = int(found_one[0])
            out.registered.append(key)
            n_meters += 1
            log.info(
                "registered meter %s/%s",
                site,
                meter,
                extra={"action": "register_meter", "site": site, "meter": meter},
            )
        return out

    def detail(self, reason: str) -> str:
        """Why a record was refused, with what the operator can do."""
        if reason == SITE_LIMIT:
            what = f"{MAX_SITES_VAR}={self.limits.max_sites} sites are registered"
        else:
            what = f"{MAX_METERS_VAR}={self.limits.max_meters} meters are registered"
        return f"{what}; admit it with `emusa-ingestor admit-meter SITE METER` or raise the limit"

    def _refuse(self, out: Registration, key: Key, reason: str) -> None:
        out.refused[key] = reason
        if key not in self._warned and len(self._warned) < _WARNED_MAX:
            self._warned.add(key)
            log.warning(
                "refused %s %s/%s: %s",
                "site" if reason == SITE_LIMIT else "meter",
                key[0],
                key[1],
                self.detail(reason),
                extra={"action": reason, "site": key[0], "meter": key[1]},
            )


class RejectBudget:
    """How many dead letters of each reason may still be stored before the next trim."""

    def __init__(self, limits: Limits, clock: Callable[[], float] = time.monotonic) -> None:
        self._per_reason = limits.rejects_per_reason
        self._every = limits.trim_every_s
        self._clock = clock
        self._stored: Counter[str] = Counter()
        self._next_trim = clock()

    def admit(self, rejects: Sequence[Reject]) -> tuple[list[Reject], int]:
        """The rejects to store now, and how many are over the budget (not stored)."""
        kept: list[Reject] = []
        for r in rejects:
            if self._stored[r.reason] < self._per_reason:
                self._stored[r.reason] += 1
                kept.append(r)
        return kept, len(rejects) - len(kept)

    def trim_due(self) -> bool:
        return bool(self._stored) and self._clock() >= self._next_trim

    def trim(self, conn: Conn, q: Queries) -> None:
        """Trim ``ingest_rejects`` (own statement, after the batch committed); a failure is
        logged and the budget renewed anyway, so ingestion never waits for it."""
        try:
            row = conn.execute(q["trim_rejects"], {"per_reason": self._per_reason}).fetchone()
        except psycopg.Error as exc:
            log.error("cannot trim ingest_rejects: %s", exc, extra={"action": "trim_rejects"})
        else:
            if row and (row[0] or row[1]):
                log.info(
                    "trimmed ingest_rejects: %s chunks dropped, %s rows deleted",
                    row[0],
                    row[1],
                    extra={"action": "trim_rejects"},
                )
        self._stored.clear()
        self._next_trim = self._clock() + self._every
