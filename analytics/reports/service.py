"""Build a report from the database, keep the PDF on disk and record it in ``reports``
(named queries in ``reports/queries.sql``)."""

from __future__ import annotations

import hashlib
import logging
import os
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

import psycopg

from analytics.delivery.config import DeliveryConfig
from analytics.errors import AnalyticsError, DatabaseError
from analytics.reports import data, periods
from analytics.reports.daily import build_daily
from analytics.reports.fortnightly import build_fortnightly

log = logging.getLogger(__name__)

Layout = Literal["daily", "fortnightly"]
RecordKind = Literal["daily", "fortnightly", "adhoc"]


@dataclass(frozen=True)
class ReportRecord:
    report_id: int
    site_id: str
    kind: str
    lang: str
    period_start: datetime
    period_end: datetime
    path: str
    sha256: str
    bytes: int
    created_at: datetime
    emailed_at: datetime | None
    recipients: list[str]

    @classmethod
    def from_row(cls, r: tuple[Any, ...]) -> ReportRecord:
        return cls(
            int(r[0]),
            r[1],
            r[2],
            r[3],
            r[4],
            r[5],
            r[6],
            r[7],
            int(r[8]),
            r[9],
            r[10],
            list(r[11] or []),
        )


def build_pdf(
    conn: data.Conn,
    site_id: str,
    *,
    layout: Layout,
    start: datetime,
    end: datetime,
    config: DeliveryConfig,
    generated: datetime | None = None,
) -> bytes:
    """The PDF of a report over [start, end) from the database."""
    if end <= start:
        raise AnalyticsError(f"report period ends before it starts: {start} .. {end}")
    lang = config.lang
    site = data.site(conn, site_id)
    when = (generated or datetime.now(UTC)).astimezone(site.tz)
    if layout == "daily":
        return build_daily(
            data.daily(conn, site_id, start, end, lang),
            lang=lang,
            branding=config.branding,
            generated=when,
        )
    cur = data.fortnight(conn, site_id, start, end)
    p_start, p_end = periods.previous_period(start, end, site.tz)
    prev = data.fortnight(conn, site_id, p_start, p_end)
    return build_fortnightly(
        cur, prev, tariff=config.tariff, lang=lang, branding=config.branding, generated=when
    )


def file_name(
    site_id: str, layout: str, *, lang: str, start: datetime, end: datetime, tz: Any
) -> str:
    a = start.astimezone(tz).strftime("%Y%m%d-%H%M")
    b = end.astimezone(tz).strftime("%Y%m%d-%H%M")
    return f"{site_id}_{layout}_{lang}_{a}_{b}.pdf"


def _write(path: Path, content: bytes) -> None:
    """Atomically: a reader never sees half a PDF."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=".pdf")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(content)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def find(
    conn: data.Conn, site_id: str, kind: str, lang: str, start: datetime
) -> ReportRecord | None:
    row = conn.execute(data.queries()["find_report"], (site_id, kind, lang, start)).fetchone()
    return ReportRecord.from_row(row) if row else None


def generate(
    dsn: str,
    site_id: str,
    layout: Layout,
    *,
    start: datetime,
    end: datetime,
    config: DeliveryConfig,
    record_kind: RecordKind = "adhoc",
    out: Path | None = None,
) -> ReportRecord:
    """Build, store under ``config.reports_dir`` and record a report; ``out``: a copy there.

    A scheduled kind exists once per (site, kind, lang, period start): when it is already
    recorded, the existing record is returned and nothing is rebuilt.
    """
    try:
        with psycopg.connect(dsn) as conn:
            if record_kind != "adhoc":
                existing = find(conn, site_id, record_kind, lang=config.lang, start=start)
                if existing is not None:
                    return existing
            pdf = build_pdf(conn, site_id, layout=layout, start=start, end=end, config=config)
            tz = data.site(conn, site_id).tz
            name = file_name(
                site_id,
                layout if record_kind != "adhoc" else f"adhoc-{layout}",
                lang=config.lang,
                start=start,
                end=end,
                tz=tz,
            )
            if record_kind == "adhoc":
                name = name.replace(".pdf", f"_{datetime.now(UTC):%Y%m%dT%H%M%S%f}.pdf")
            path = (config.reports_dir / site_id / name).resolve()
            sha = hashlib.sha256(pdf).hexdigest()
            record = "record_report" if record_kind == "adhoc" else "record_scheduled_report"
            row = conn.execute(
                data.queries()[record],
                (site_id, record_kind, config.lang, start, end, str(path), sha, len(pdf)),
            ).fetchone()
            if row is None:  # another worker recorded it meanwhile
                conn.rollback()
                existing = find(conn, site_id, record_kind, lang=config.lang, start=start)
                if existing is None:
                    raise DatabaseError("report vanished after a conflict")
                return existing
            _write(path, pdf)  # inside the transaction: no record without its file
            conn.commit()
    except psycopg.Error as exc:
        raise DatabaseError(f"recording the report failed: {exc}") from exc
    except OSError as exc:
        raise AnalyticsError(f"writing the report under {config.reports_dir}: {exc}") from exc
    if out is not None:
        _write(out, pdf)
    rec = ReportRecord.from_row(row)
    log.info(
        "report %s built: %s (%d bytes)",
        rec.report_id,
        rec.path,
        rec.bytes,
        extra={"action": "report_built"},
    )
    return rec
