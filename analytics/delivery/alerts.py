"""Alerts: anomalies of the configured severities sent by e-mail, webhook and/or WhatsApp, with a
cooldown per (site, meter, kind) and one decision per anomaly, both kept in the database
(``alert_deliveries``, ``alert_cooldowns``) so a restart never re-sends. Named queries in
``delivery/queries.sql``."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, LiteralString
from zoneinfo import ZoneInfo

import psycopg

from analytics import i18n
from analytics.delivery import mail, webhook, whatsapp
from analytics.delivery.config import DeliveryConfig
from analytics.errors import AnalyticsError, DatabaseError
from contract import sqlfiles

log = logging.getLogger(__name__)


def _q(name: str) -> LiteralString:
    """A query of ``delivery/queries.sql`` (our own file, never a value)."""
    return sqlfiles.beside(__file__)[name]


@dataclass(frozen=True)
class AlertResult:
    anomaly_id: int
    outcome: str  # sent | suppressed | failed
    channels: tuple[str, ...]
    error: str | None = None


@dataclass(frozen=True)
class Event:
    anomaly_id: int
    site_id: str
    meter_id: int | None
    meter: str | None
    kind: str
    severity: str
    started_at: datetime
    ended_at: datetime | None
    quantity: str | None
    measured: float | None
    limit_value: float | None
    message_pt: str
    message_en: str
    site_name: str
    timezone: str
    attempts: int
    details: Mapping[str, Any] = field(default_factory=dict)  # the anomaly's own figures

    def parts(self, lang: i18n.Lang) -> tuple[str, str, str, str]:
        """Severity, site/meter, local date and time, message: what every channel says."""
        local = self.started_at.astimezone(ZoneInfo(self.timezone))
        sev = i18n.severity_label(self.severity, lang).upper()
        where = f"{self.site_name}/{self.meter}" if self.meter else self.site_name
        msg = self.message_pt if lang == "pt-BR" else self.message_en
        return sev, where, i18n.when(local, lang), msg

    def text(self, lang: i18n.Lang) -> str:
        """One line for a phone screen: severity, site/meter, when, message."""
        sev, where, when, msg = self.parts(lang)
        return f"[EMUSA {sev}] {where} {when}: {msg}"

    def payload(self, lang: i18n.Lang) -> dict[str, Any]:
        return {
            "type": "emusa.alert",
            "anomaly_id": self.anomaly_id,
            "site": self.site_id,
            "meter": self.meter,
            "kind": self.kind,
            "severity": self.severity,
            "started_at": self.started_at.isoformat(),
            "ended_at": self.ended_at.isoformat() if self.ended_at else None,
            "quantity": self.quantity,
            "measured": self.measured,
            "limit": self.limit_value,
            "message": self.message_pt if lang == "pt-BR" else self.message_en,
            "text": self.text(lang),
            "details": dict(self.details),
        }


def _send(
    event: Event, config: DeliveryConfig, sleep: Callable[[float], None]
) -> tuple[list[str], list[str]]:
    """Send on every configured channel; returns (channels that took it, errors)."""
    sent: list[str] = []
    errors: list[str] = []
    lang = config.lang
    if config.alerts.email and config.recipients.alerts:
        try:
            settings = mail.parse_smtp_url(config.smtp_url)
            msg = mail.build_message(
                config.mail_from,
                config.recipients.alerts,
                event.text(lang)[:180],
                f"{event.text(lang)}\n\n{config.branding}\n",
            )
            mail.send(
                settings,
                msg,
                attempts=config.smtp_attempts,
                delay=config.smtp_retry_delay_s,
                sleep=sleep,
            )
            sent.append("email")
        except mail.MailError as exc:
            errors.append(f"email: {exc}")
    if config.alerts.webhook_url:
        try:
            webhook.post_json(
                config.alerts.webhook_url,
                event.payload(lang),
                token=config.webhook_token,
                timeout=config.alerts.webhook_timeout_s,
                sleep=sleep,
            )
            sent.append("webhook")
        except webhook.WebhookError as exc:
            errors.append(f"webhook: {exc}")
    if config.alerts.whatsapp:
        ok, failed = _send_whatsapp(event, config, sleep)
        if ok:
            sent.append("whatsapp")
        errors.extend(failed)
    return sent, errors


def _send_whatsapp(
    event: Event, config: DeliveryConfig, sleep: Callable[[float], None]
) -> tuple[bool, list[str]]:
    """The approved template to every recipient of the event's site and severity.

    True when at least one recipient took it; the errors name the (masked) number."""
    wa = config.alerts.whatsapp
    if wa is None or not config.whatsapp_token:
        return False, []
    to = [r.to for r in wa.recipients if r.wants(event.site_id, event.severity)]
    if not to:
        return False, []
    client = whatsapp.Client(
        wa.api_url, wa.phone_number_id, config.whatsapp_token,
        timeout=wa.timeout_s, attempts=wa.attempts, backoff=wa.backoff_s, sleep=sleep,
    )  # fmt: skip
    template = whatsapp.Template(wa.template, config.whatsapp_language, event.parts(config.lang))
    delivered = False
    errors: list[str] = []
    for number in to:
        try:
            result = client.send(number, template)
        except whatsapp.WhatsAppError as exc:  # token or template: no recipient can get it
            return delivered, [*errors, f"whatsapp: {exc}"]
        delivered = delivered or result.ok
        if not result.ok:
            errors.append(f"whatsapp {whatsapp.mask(number)}: {result.error}")
    return delivered, errors


def _record(
    conn: psycopg.Connection[Any], e: Event, outcome: str, channels: list[str], error: str | None
) -> None:
    conn.execute(
        _q("record_decision"),
        (
            e.anomaly_id,
            e.site_id,
            e.meter_id,
            e.kind,
            outcome,
            channels,
            0 if outcome == "suppressed" else 1,
            error,
        ),
    )


def deliver_alerts(
    dsn: str,
    now: datetime,
    config: DeliveryConfig,
    *,
    sleep: Callable[[float], None] = time.sleep,
) -> list[AlertResult]:
    """Alert every new anomaly of the configured severities (started within
    ``alerts.lookback_hours`` of ``now``), once; inside the cooldown of its (site, meter,
    kind) it is suppressed and counted. A failed send is retried at the next call, up to
    ``alerts.max_attempts``. Returns what was decided."""
    cfg = config.alerts
    if not cfg.severities or not (
        (cfg.email and config.recipients.alerts) or cfg.webhook_url or cfg.whatsapp
    ):
        return []
    out: list[AlertResult] = []
    cooldown = timedelta(minutes=cfg.cooldown_minutes)
    try:
        with psycopg.connect(dsn) as conn:
            rows = conn.execute(
                _q("pending_alerts"),
                {
                    "severities": list(cfg.severities),
                    "since": now - timedelta(hours=cfg.lookback_hours),
                    "now": now,
                    "site": config.site,
                    "max_attempts": cfg.max_attempts,
                },
            ).fetchall()
            conn.commit()
            for r in rows:
                e = Event(*r)
                # one worker decides per (site, meter, kind) at a time
                state = conn.execute(
                    _q("lock_cooldown"), (e.site_id, e.meter_id, e.kind)
                ).fetchone()
                if state is not None and now - state[0] < cooldown:
                    conn.execute(_q("count_suppressed"), (e.site_id, e.meter_id, e.kind))
                    _record(conn, e, "suppressed", [], None)
                    conn.commit()
                    out.append(AlertResult(e.anomaly_id, "suppressed", ()))
                    continue
                sent, errors = _send(e, config, sleep)
                error = "; ".join(errors) or None
                if sent:
                    conn.execute(
                        _q("start_cooldown"), (e.site_id, e.meter_id, e.kind, now, e.anomaly_id)
                    )
                _record(conn, e, "sent" if sent else "failed", sent, error)
                conn.commit()
                if error:
                    log.error("alert %d: %s", e.anomaly_id, error, extra={"action": "alert"})
                out.append(
                    AlertResult(e.anomaly_id, "sent" if sent else "failed", tuple(sent), error)
                )
    except psycopg.Error as exc:
        raise DatabaseError(f"alert delivery: {exc}") from exc
    return out


def send_test_alert(config: DeliveryConfig) -> list[str]:
    """A synthetic alert on every configured channel (no database); returns the channels."""
    now = datetime.now(ZoneInfo(config.timezone))
    e = Event(
        0,
        config.site or "site",
        None,
        "test",
        "test",
        "info",
        now,
        None,
        None,
        None,
        None,
        "Alerta de teste do EMUSA.",
        "EMUSA test alert.",
        config.site or "EMUSA",
        config.timezone,
        0,
    )
    sent, errors = _send(e, config, time.sleep)
    if errors:
        raise AnalyticsError("; ".join(errors))
    return sent
