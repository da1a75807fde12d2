# ruff: noqa: RUF001  (pt-BR typography in the expected subjects)
"""Scheduled reports e-mailed through a real SMTP server (aiosmtpd on a free port)."""

from __future__ import annotations

import hashlib
import shutil
import ssl
import subprocess
from datetime import datetime
from pathlib import Path

import psycopg
import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from analytics.delivery import mail
from analytics.delivery.config import DeliveryConfig
from analytics.reports.delivery import deliver_due_reports
from ingestor.localstack import free_port
from tests.integration.reports.conftest import TZ, Mailbox, SmtpServer

pytestmark = pytest.mark.integration

NOW = datetime(
    2026, 11, 16, 8, 0, tzinfo=TZ
)  # after 07:00 on the 16th: the 10-15 Nov day and 1-15 Nov fortnight are due


def _emailed(dsn: str) -> list[tuple[str, datetime | None, int, str | None]]:
    with psycopg.connect(dsn) as conn:
        return conn.execute(
            "SELECT kind, emailed_at, email_attempts, last_email_error FROM reports ORDER BY kind"
        ).fetchall()


def test_due_reports_are_emailed_once_with_the_pdf(
    plant_db: str, config: DeliveryConfig, smtp_server: SmtpServer
) -> None:
    cfg = config.model_copy(update={"smtp_url": smtp_server.url})
    done = deliver_due_reports(plant_db, NOW, cfg)
    assert sorted(
        (d.kind, d.period_start.astimezone(TZ).date().isoformat(), d.emailed) for d in done
    ) == [
        ("daily", "2026-11-15", True),
        ("fortnightly", "2026-11-01", True),
    ]
    msgs = {m["Subject"]: (env, m) for env, m in smtp_server.box.messages}
    assert set(msgs) == {
        "[EMUSA] Relatório de energia – 24 horas – Planta Teste – 15/11/2026",
        "[EMUSA] Análise quinzenal de demanda – Planta Teste – 01/11/2026 a 15/11/2026",
    }
    env, daily = msgs["[EMUSA] Relatório de energia – 24 horas – Planta Teste – 15/11/2026"]
    assert env.rcpt_tos == ["gerente@example.com"]
    attachments = [p for p in daily.walk() if p.get_content_disposition() == "attachment"]
    assert len(attachments) == 1
    assert attachments[0].get_content_type() == "application/pdf"
    payload = attachments[0].get_payload(decode=True)
    assert isinstance(payload, bytes) and payload.startswith(b"%PDF")
    with psycopg.connect(plant_db) as conn:
        path, sha = conn.execute("SELECT path, sha256 FROM reports WHERE kind = 'daily'").fetchone()  # type: ignore[misc]
    assert Path(path).read_bytes() == payload
    assert hashlib.sha256(payload).hexdigest() == sha
    assert msgs["[EMUSA] Análise quinzenal de demanda – Planta Teste – 01/11/2026 a 15/11/2026"][
        0
    ].rcpt_tos == ["diretoria@example.com"]
    # idempotent: a second call (or a restarted worker) sends nothing more
    again = deliver_due_reports(plant_db, NOW, cfg)
    assert [d.emailed for d in again] == [True, True]
    assert len(smtp_server.box.messages) == 2
    assert [(k, e is not None, n, err) for k, e, n, err in _emailed(plant_db)] == [
        ("daily", True, 1, None),
        ("fortnightly", True, 1, None),
    ]


def test_transient_smtp_failure_is_retried_and_sent_once(
    plant_db: str, config: DeliveryConfig, smtp_server: SmtpServer
) -> None:
    smtp_server.box.fail_next = 2  # two 451 answers, then accepted
    cfg = config.model_copy(update={"smtp_url": smtp_server.url, "smtp_attempts": 4})
    sleeps: list[float] = []
    done = deliver_due_reports(plant_db, NOW, cfg, sleep=sleeps.append)
    assert all(d.emailed for d in done)
    assert smtp_server.box.refused == 2
    assert len(smtp_server.box.messages) == 2  # each report exactly once
    assert sleeps == [0.05, 0.1]  # doubling delay, only for the refused attempts
    attempts = {k: n for k, _, n, _ in _emailed(plant_db)}
    assert sum(attempts.values()) == 4


def test_smtp_down_then_back_sends_each_report_once(
    plant_db: str, config: DeliveryConfig, smtp_server: SmtpServer
) -> None:
    smtp_server.stop()  # nothing listens on the port
    cfg = config.model_copy(update={"smtp_url": smtp_server.url, "smtp_attempts": 2})
    done = deliver_due_reports(plant_db, NOW, cfg, sleep=lambda _s: None)
    assert [d.emailed for d in done] == [False, False]
    assert all(d.error for d in done)
    rows = _emailed(plant_db)
    assert all(e is None and n == 2 and err for _, e, n, err in rows)
    smtp_server.start()  # the server is back
    done = deliver_due_reports(plant_db, NOW, cfg, sleep=lambda _s: None)
    assert all(d.emailed for d in done)
    deliver_due_reports(plant_db, NOW, cfg, sleep=lambda _s: None)
    assert len(smtp_server.box.messages) == 2
    assert all(e is not None and err is None for _, e, _, err in _emailed(plant_db))


def test_nothing_is_due_before_the_send_time(
    plant_db: str, config: DeliveryConfig, smtp_server: SmtpServer
) -> None:
    cfg = config.model_copy(update={"smtp_url": smtp_server.url})
    early = datetime(2026, 11, 16, 6, 59, tzinfo=TZ)
    done = deliver_due_reports(plant_db, early, cfg)
    # 06:59 on the 16th: the 15 Nov report and the 1-15 Nov fortnight are due at 07:00;
    # the latest due ones are 14 Nov and the 16-31 Oct fortnight
    assert [(d.kind, d.period_start.astimezone(TZ).date().isoformat()) for d in done] == [
        ("daily", "2026-11-14"),
        ("fortnightly", "2026-10-16"),
    ]


@pytest.fixture
def tls_files(tmp_path: Path) -> tuple[Path, Path]:
    if shutil.which("openssl") is None:
        pytest.skip("openssl not installed")
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
         "-subj", "/CN=localhost", "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1",
         "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True, timeout=60,
    )  # fmt: skip
    return cert, key


def test_starttls_with_authentication(tls_files: tuple[Path, Path]) -> None:
    cert, key = tls_files
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(cert, key)
    box = Mailbox()
    logins: list[tuple[bytes, bytes]] = []

    def authenticator(server, session, envelope, mechanism, auth_data):  # type: ignore[no-untyped-def]
        assert isinstance(auth_data, LoginPassword)
        logins.append((auth_data.login, auth_data.password))
        return AuthResult(success=auth_data.password == b"s3cr3t@x")

    port = free_port()
    controller = Controller(
        box, hostname="127.0.0.1", port=port, tls_context=ctx, require_starttls=True,
        authenticator=authenticator, auth_required=True,
    )  # fmt: skip
    controller.start()
    try:
        settings = mail.parse_smtp_url(
            f"smtp://relatorios%40plant:s3cr3t%40x@127.0.0.1:{port}?starttls=1&timeout=5&cafile={cert}"
        )
        msg = mail.build_message("emusa@plant", ["a@example.com"], "assunto", "corpo")
        assert mail.send(settings, msg, attempts=1) == 1
        bad = mail.parse_smtp_url(
            f"smtp://relatorios%40plant:wrong@127.0.0.1:{port}?starttls=1&timeout=2&cafile={cert}"
        )
        with pytest.raises(mail.MailError):
            mail.send(bad, msg, attempts=1)
    finally:
        controller.stop()
    assert logins[0] == (b"relatorios@plant", b"s3cr3t@x")
    assert len(box.messages) == 1 and box.messages[0][1]["Subject"] == "assunto"


def test_a_lost_pdf_does_not_hold_back_the_other_report(
    plant_db: str, config: DeliveryConfig, smtp_server: SmtpServer
) -> None:
    deliver_due_reports(plant_db, NOW, config)  # built, not e-mailed (no SMTP configured yet)
    with psycopg.connect(plant_db) as conn:
        (path,) = conn.execute("SELECT path FROM reports WHERE kind = 'daily'").fetchone()  # type: ignore[misc]
    Path(path).unlink()
    cfg = config.model_copy(update={"smtp_url": smtp_server.url})
    done = {d.kind: d for d in deliver_due_reports(plant_db, NOW, cfg)}
    assert done["fortnightly"].emailed
    assert not done["daily"].emailed and "cannot read" in (done["daily"].error or "")
    assert len(smtp_server.box.messages) == 1
