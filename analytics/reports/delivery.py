# ruff: noqa: RUF001, RUF002  (pt-BR typography: its dashes and signs are intended)
"""Scheduled reports: build every daily and fortnightly report that is due and e-mail it
once. Idempotent: the scheduler may call it as often as it likes, and after a restart it
catches up the periods it missed (``catch_up_days``)."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import psycopg

from analytics import i18n
from analytics.delivery import mail
from analytics.delivery.config import DeliveryConfig
from analytics.errors import AnalyticsError, DatabaseError
from analytics.reports import data, periods, service
from analytics.reports.service import Layout, ReportRecord

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Delivery:
    report_id: int
    site_id: str
    kind: str
    period_start: datetime
    emailed: bool
    error: str | None = None


def subject(kind: str, site_name: str, start: datetime, end: datetime, lang: i18n.Lang) -> str:
    """``[EMUSA] Relatório de energia – 24 horas – Plant – 24/11/2026``."""
    if kind == "daily":
        return (
            f"[EMUSA] {i18n.t('daily_title', lang)} – {site_name} – {i18n.day(start.date(), lang)}"
        )
    last = (end - timedelta(seconds=1)).date()  # the last day included
    sep = "a" if lang == "pt-BR" else "to"
    return (
        f"[EMUSA] {i18n.t('fortnightly_title', lang)} – {site_name} – "
        f"{i18n.day(start.date(), lang)} {sep} {i18n.day(last, lang)}"
    )


def body(kind: str, site_name: str, lang: i18n.Lang, branding: str) -> str:
    if lang == "pt-BR":
        what = (
            "o relatório de energia das últimas 24 horas"
            if kind == "daily"
            else ("a análise quinzenal de demanda")
        )
        return (
            f"Olá,\n\nSegue em anexo {what} da unidade {site_name}.\n\n"
            f"Valores em R$ são estimativas.\n\n{branding}\n"
        )
    what = "the 24-hour energy report" if kind == "daily" else "the fortnightly demand analysis"
    return (
        f"Hello,\n\nAttached is {what} of site {site_name}.\n\n"
        f"Money figures are estimates.\n\n{branding}\n"
    )


def email_report(
    dsn: str,
    rec: ReportRecord,
    config: DeliveryConfig,
    recipients: list[str],
    *,
    sleep: Callable[[float], None] = time.sleep,
) -> bool:
    """E-mail a recorded report once: the row is locked while sending, ``emailed_at`` set
    after the server accepted it. False when it was already sent (by anyone)."""
    settings = mail.parse_smtp_url(config.smtp_url)
    try:
        with psycopg.connect(dsn) as conn:
            row = conn.execute(data.queries()["lock_unsent_report"], (rec.report_id,)).fetchone()
            if row is None or row[0] is not None:
                return False
            site = data.site(conn, rec.site_id)
            lang: i18n.Lang = "en" if rec.lang == "en" else "pt-BR"
            start, end = rec.period_start.astimezone(site.tz), rec.period_end.astimezone(site.tz)
            pdf = Path(rec.path).read_bytes()
            msg = mail.build_message(
                config.mail_from,
                recipients,
                subject(rec.kind, site.name, start, end, lang),
                body(rec.kind, site.name, lang, config.branding),
                [(Path(rec.path).name, pdf, "application/pdf")],
            )
            try:
                used = mail.send(
                    settings,
                    msg,
                    attempts=config.smtp_attempts,
                    delay=config.smtp_retry_delay_s,
                    sleep=sleep,
                )
            except mail.MailError as exc:
                conn.execute(
                    data.queries()["email_failed"],
                    (config.smtp_attempts, str(exc)[:2000], rec.report_id),
                )
                conn.commit()
                raise
            conn.execute(data.queries()["email_sent"], (recipients, used, rec.report_id))
            conn.commit()
            return True
    except psycopg.Error as exc:
        raise DatabaseError(f"e-mailing report {rec.report_id}: {exc}") from exc
    except OSError as exc:
        raise AnalyticsError(f"report {rec.report_id}: cannot read {rec.path}: {exc}") from exc


def _deliver_one(
    dsn: str,
    item: tuple[str, Layout, datetime, datetime],
    config: DeliveryConfig,
    sleep: Callable[[float], None],
) -> Delivery:
    sid, layout, a, b = item
    rec = service.generate(dsn, sid, layout, start=a, end=b, config=config, record_kind=layout)
    recipients = list(getattr(config.recipients, layout))
    if rec.emailed_at is not None or not recipients:
        return Delivery(rec.report_id, sid, layout, a, rec.emailed_at is not None)
    try:
        sent = email_report(dsn, rec, config, recipients, sleep=sleep)
    except mail.MailError as exc:
        log.error(
            "report %d not e-mailed: %s", rec.report_id, exc, extra={"action": "report_email"}
        )
        return Delivery(rec.report_id, sid, layout, a, False, str(exc))
    return Delivery(rec.report_id, sid, layout, a, sent)


def deliver_due_reports(
    dsn: str,
    now: datetime,
    config: DeliveryConfig,
    *,
    sleep: Callable[[float], None] = time.sleep,
) -> list[Delivery]:
    """Build every due daily/fortnightly report not built yet, and e-mail every built one
    not e-mailed yet to the configured recipients. A failed e-mail is retried at the next
    call (its error is kept in ``reports.last_email_error``)."""
    try:
        with psycopg.connect(dsn) as conn:
            site_ids = [config.site] if config.site else data.sites(conn)
            plan: list[tuple[str, Layout, datetime, datetime]] = []
            for sid in site_ids:
                site = data.site(conn, sid)
                first = data.first_data(conn, sid)
                for a, b in periods.due_days(
                    now, site.tz, config.daily_send_time, first, config.catch_up_days
                ):
                    plan.append((sid, "daily", a, b))
                for a, b in periods.due_fortnights(
                    now, site.tz, config.fortnightly_send_time, first, config.catch_up_days
                ):
                    plan.append((sid, "fortnightly", a, b))
    except psycopg.Error as exc:
        raise DatabaseError(f"planning report delivery: {exc}") from exc
    out: list[Delivery] = []
    for sid, layout, a, b in plan:
        try:
            out.append(_deliver_one(dsn, (sid, layout, a, b), config, sleep))
        except AnalyticsError as exc:  # one bad period must not hold back the others
            log.error(
                "%s report of %s from %s failed: %s",
                layout,
                sid,
                a.isoformat(),
                exc,
                extra={"action": "report_delivery"},
            )
            out.append(Delivery(0, sid, layout, a, False, str(exc)))
    return out
