"""``emusa-analytics report``, ``export``, ``pbids`` and ``send-test-email`` end to end."""

from __future__ import annotations

import json
from pathlib import Path

import psycopg
import pytest
from pypdf import PdfReader

from analytics.__main__ import main
from tests.integration.reports.conftest import SmtpServer

pytestmark = pytest.mark.integration


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch, plant_db: str, tmp_path: Path) -> Path:
    monkeypatch.setenv("EMUSA_DATABASE_URL", plant_db)
    monkeypatch.setenv("EMUSA_REPORTS_DIR", str(tmp_path / "kept"))
    monkeypatch.delenv("EMUSA_DELIVERY_CONFIG", raising=False)
    monkeypatch.delenv("EMUSA_SITE", raising=False)
    return tmp_path


def test_report_command(env: Path, plant_db: str, capsys: pytest.CaptureFixture[str]) -> None:
    out = env / "relatorio.pdf"
    assert main(["report", "--kind", "daily", "--from", "2026-11-10", "--to", "2026-11-11",
                 "--out", str(out)]) == 0  # fmt: skip
    assert "report 1:" in capsys.readouterr().out
    assert "Relatório de energia" in PdfReader(out).pages[0].extract_text()
    with psycopg.connect(plant_db) as conn:
        kind, start, path = conn.execute("SELECT kind, period_start, path FROM reports").fetchone()  # type: ignore[misc]
    assert kind == "adhoc" and start.isoformat() == "2026-11-10T03:00:00+00:00"
    assert Path(path).parent == env / "kept" / "plant"  # kept on disk as well
    assert Path(path).read_bytes() == out.read_bytes()
    en = env / "report-en.pdf"
    assert main(["report", "--kind", "fortnightly", "--from", "2026-11-01", "--to", "2026-11-16",
                 "--lang", "en", "--out", str(en)]) == 0  # fmt: skip
    assert "Fortnightly demand analysis" in PdfReader(en).pages[0].extract_text()


def test_report_command_errors_name_the_problem(
    env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["report", "--site", "nowhere", "--from", "2026-11-10"]) == 2
    assert "unknown site 'nowhere'" in capsys.readouterr().err
    (env / "bad.yaml").write_text("tariff: {demand_kw: cheap}\n")
    assert main(["report", "--delivery-config", str(env / "bad.yaml")]) == 2
    assert f"{env / 'bad.yaml'}: tariff.demand_kw:" in capsys.readouterr().err


def test_export_and_pbids_commands(env: Path) -> None:
    csv_path = env / "dados.csv"
    assert main(["export", "--from", "2026-11-10T00:00-03:00", "--to", "2026-11-10T01:00-03:00",
                 "--sep", ";", "--out", str(csv_path)]) == 0  # fmt: skip
    lines = csv_path.read_text(encoding="utf-8").splitlines()
    assert lines[0].startswith("time_local;time_utc;site_id;meter;samples;v_l1n")
    assert len(lines) == 1 + 2 * 20  # two meters, one reading every 3 minutes
    pb = env / "emusa.pbids"
    assert main(["pbids", "--server", "10.0.0.5:5432", "--out", str(pb)]) == 0
    assert json.loads(pb.read_text())["connections"][0]["details"]["address"] == {
        "server": "10.0.0.5:5432",
        "database": "emusa",
    }


def test_send_test_email(
    env: Path, smtp_server: SmtpServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("EMUSA_SMTP_URL", smtp_server.url)
    assert main(["send-test-email", "--to", "ti@example.com"]) == 0
    ((envelope, msg),) = smtp_server.box.messages
    assert envelope.rcpt_tos == ["ti@example.com"]
    assert msg["Subject"] == "[EMUSA] E-mail de teste"
    monkeypatch.setenv("EMUSA_SMTP_URL", "smtp://host:notaport")
    assert main(["send-test-email", "--to", "ti@example.com"]) == 2
