"""E-mail over SMTP: ``EMUSA_SMTP_URL`` parsing, messages with attachments, retries.

``smtp://user:pass@host:587?starttls=1`` (STARTTLS), ``smtps://user:pass@host:465``
(implicit TLS), ``smtp://host:25`` (plain, for a local relay). Optional query keys:
``starttls=0|1``, ``timeout=<seconds>``, ``cafile=<path>`` (a private CA). User and
password are URL-decoded (``%40`` for ``@``).
"""

from __future__ import annotations

import logging
import smtplib
import ssl
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from typing import Literal
from urllib.parse import parse_qs, unquote, urlsplit

from analytics.errors import AnalyticsError

log = logging.getLogger(__name__)
SMTP_URL = "EMUSA_SMTP_URL"


class MailError(AnalyticsError):
    """Sending failed (after the retries, or permanently); the SMTP error is chained."""


class MailConfigError(MailError):
    """``EMUSA_SMTP_URL`` is missing or malformed."""


@dataclass(frozen=True)
class SmtpSettings:
    host: str
    port: int
    username: str | None
    password: str | None
    security: Literal["starttls", "tls", "none"]
    timeout: float = 30.0
    cafile: str | None = None

    def __repr__(self) -> str:  # never print the password
        return (
            f"SmtpSettings(host={self.host!r}, port={self.port}, user={self.username!r}, "
            f"security={self.security!r})"
        )


_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


def parse_smtp_url(url: str | None) -> SmtpSettings:
    """Settings from an ``smtp://`` or ``smtps://`` URL; errors name ``EMUSA_SMTP_URL``."""
    if not url:
        raise MailConfigError(f"{SMTP_URL} is not set (smtp://user:pass@host:587?starttls=1)")
    try:
        parts = urlsplit(url)
        port_value = parts.port
    except ValueError as exc:
        raise MailConfigError(f"{SMTP_URL}: malformed URL: {exc}") from None
    if parts.scheme not in ("smtp", "smtps"):
        raise MailConfigError(
            f"{SMTP_URL}: scheme must be smtp:// or smtps://, not {parts.scheme!r}"
        )
    if not parts.hostname:
        raise MailConfigError(f"{SMTP_URL}: no host")
    query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
    unknown = set(query) - {"starttls", "timeout", "cafile"}
    if unknown:
        raise MailConfigError(f"{SMTP_URL}: unknown option(s) {', '.join(sorted(unknown))}")
    security: Literal["starttls", "tls", "none"]
    if parts.scheme == "smtps":
        security = "tls"
    else:
        flag = query.get("starttls", "1" if (port_value or 587) == 587 else "0").lower()
        if flag not in _TRUE | _FALSE:
            raise MailConfigError(f"{SMTP_URL}: starttls must be 0 or 1, not {flag!r}")
        security = "starttls" if flag in _TRUE else "none"
    default_port = {"tls": 465, "starttls": 587, "none": 25}[security]
    try:
        timeout = float(query.get("timeout", "30"))
    except ValueError:
        raise MailConfigError(f"{SMTP_URL}: timeout must be a number of seconds") from None
    return SmtpSettings(
        host=parts.hostname,
        port=port_value or default_port,
        username=unquote(parts.username) if parts.username else None,
        password=unquote(parts.password) if parts.password is not None else None,
        security=security,
        timeout=timeout,
        cafile=query.get("cafile"),
    )


def build_message(
    sender: str,
    to: Sequence[str],
    subject: str,
    body: str,
    attachments: Sequence[tuple[str, bytes, str]] = (),
) -> EmailMessage:
    """A text message; attachments as (file name, content, MIME type)."""
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = ", ".join(to)
    msg["Subject"] = subject
    msg["Date"] = formatdate(localtime=False)
    msg["Message-ID"] = make_msgid(domain="emusa.local")
    msg.set_content(body)
    for name, content, mime in attachments:
        maintype, _, subtype = mime.partition("/")
        msg.add_attachment(content, maintype=maintype, subtype=subtype, filename=name)
    return msg


def _context(settings: SmtpSettings) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=settings.cafile)


def _send_once(settings: SmtpSettings, msg: EmailMessage) -> None:
    smtp: smtplib.SMTP
    if settings.security == "tls":
        smtp = smtplib.SMTP_SSL(
            settings.host, settings.port, timeout=settings.timeout, context=_context(settings)
        )
    else:
        smtp = smtplib.SMTP(settings.host, settings.port, timeout=settings.timeout)
    with smtp:
        smtp.ehlo()
        if settings.security == "starttls":
            smtp.starttls(context=_context(settings))
            smtp.ehlo()
        if settings.username:
            smtp.login(settings.username, settings.password or "")
        smtp.send_message(msg)


def _permanent(exc: Exception) -> bool:
    """5xx replies and authentication failures are not retried; 4xx and network errors are."""
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        return all(code >= 500 for code, _ in exc.recipients.values())
    if isinstance(exc, smtplib.SMTPResponseException):
        return exc.smtp_code >= 500
    return isinstance(exc, smtplib.SMTPNotSupportedError | ssl.SSLCertVerificationError)


def send(
    settings: SmtpSettings,
    msg: EmailMessage,
    *,
    attempts: int = 3,
    delay: float = 5.0,
    sleep: Callable[[float], None] = time.sleep,
) -> int:
    """Send ``msg``; retry transient failures with a doubling delay. Returns the attempts used."""
    last: Exception | None = None
    for attempt in range(1, attempts + 1):
        try:
            _send_once(settings, msg)
        except (smtplib.SMTPException, OSError) as exc:
            last = exc
            permanent = _permanent(exc)
            log.warning(
                "SMTP %s:%d attempt %d/%d failed: %s",
                settings.host,
                settings.port,
                attempt,
                attempts,
                exc,
                extra={"action": "smtp_send"},
            )
            if permanent or attempt == attempts:
                break
            sleep(delay * 2 ** (attempt - 1))
        else:
            log.info("mail %r sent to %s", msg["Subject"], msg["To"], extra={"action": "smtp_send"})
            return attempt
    raise MailError(
        f"sending to {msg['To']} via {settings.host}:{settings.port} failed: {last}"
    ) from last
