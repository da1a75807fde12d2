from __future__ import annotations

import smtplib

import pytest

from analytics.delivery import mail

pytestmark = pytest.mark.unit


def test_starttls_url() -> None:
    s = mail.parse_smtp_url(
        "smtp://relatorios%40plant.com.br:p%40ss:w@mail.example.com:587?starttls=1"
    )
    assert (s.host, s.port, s.security) == ("mail.example.com", 587, "starttls")
    assert (s.username, s.password) == ("relatorios@plant.com.br", "p@ss:w")
    assert "p@ss" not in repr(s)


def test_tls_and_plain_urls() -> None:
    assert mail.parse_smtp_url("smtps://u:p@mail.example.com").port == 465
    assert mail.parse_smtp_url("smtps://u:p@mail.example.com").security == "tls"
    plain = mail.parse_smtp_url("smtp://relay.local:25")
    assert (plain.security, plain.username) == ("none", None)
    assert mail.parse_smtp_url("smtp://relay.local?starttls=0").port == 25
    assert mail.parse_smtp_url("smtp://h:2525?starttls=1&timeout=7").timeout == 7.0


@pytest.mark.parametrize(
    ("url", "fragment"),
    [
        (None, "EMUSA_SMTP_URL is not set"),
        ("http://h", "scheme must be smtp:// or smtps://"),
        ("smtp://h:notaport", "malformed URL"),
        ("smtp://:587", "no host"),
        ("smtp://h?starttls=maybe", "starttls must be 0 or 1"),
        ("smtp://h?tls=1", "unknown option(s) tls"),
    ],
)
def test_errors_name_the_variable(url: str | None, fragment: str) -> None:
    with pytest.raises(mail.MailConfigError) as err:
        mail.parse_smtp_url(url)
    assert fragment in str(err.value) and "EMUSA_SMTP_URL" in str(err.value)


def test_message_with_attachment() -> None:
    msg = mail.build_message(
        "a@x", ["b@x", "c@x"], "Relatório", "corpo", [("r.pdf", b"%PDF-1.4", "application/pdf")]
    )
    assert msg["To"] == "b@x, c@x"
    (att,) = list(msg.iter_attachments())
    assert att.get_filename() == "r.pdf" and att.get_content() == b"%PDF-1.4"


def test_which_failures_are_retried() -> None:
    assert mail._permanent(smtplib.SMTPAuthenticationError(535, b"bad credentials"))
    assert mail._permanent(smtplib.SMTPDataError(554, b"rejected"))
    assert not mail._permanent(smtplib.SMTPDataError(451, b"try later"))
    assert not mail._permanent(smtplib.SMTPServerDisconnected("gone"))
    assert not mail._permanent(ConnectionRefusedError())
    assert mail._permanent(smtplib.SMTPRecipientsRefused({"x@y": (550, b"no such user")}))
