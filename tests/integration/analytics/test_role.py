"""The jobs run as the production role ``emusa_analytics`` (least privilege), and the
command line works end to end."""

from __future__ import annotations

import psycopg
import pytest
from psycopg.conninfo import make_conninfo

from analytics import config
from analytics.__main__ import main
from analytics.detection.job import detect
from analytics.summaries.job import summarize
from analytics.worker import rollups
from analytics.worker.rollups import refresh_rollups
from gateway.simulator.model import Event
from ingestor.migrate import set_role_passwords
from tests.harness.worker import worker_context
from tests.integration.analytics import history
from tests.unit.analytics.simframes import ts

pytestmark = pytest.mark.integration


@pytest.fixture
def plant(db: str) -> str:
    ids = history.add_site(db, "plant")
    sag = (Event("sag", ts("2026-11-23 08:00").timestamp(), 2400),)
    history.write(
        db, ids["m1"], 1, ts("2026-11-23 03:17"), ts("2026-11-23 12:30"), step=30, events=sag
    )
    # rollups left stale on purpose: the role must be able to refresh them
    return db


def test_jobs_run_as_emusa_analytics(plant: str) -> None:
    set_role_passwords(plant, {"EMUSA_ANALYTICS_DB_PASSWORD": "pw"})
    dsn = make_conninfo(plant, user="emusa_analytics", password="pw")
    ctx = worker_context(config.load({"database_url": dsn}, env={}))
    now = ts("2026-11-23 12:20")
    refresh_rollups(ctx, now)
    rollups.refresh(dsn, ts("2026-11-23 03:00"), now)  # backfill: EXECUTE on rollup.refresh
    result = detect(ctx, now)
    assert result["plant"] is not None and result["plant"]["opened"] >= 1
    assert len(summarize(ctx, now)) == 1
    with psycopg.connect(dsn) as conn:
        kinds = {r[0] for r in conn.execute("SELECT kind FROM anomalies")}
        assert "voltage_band" in kinds
        assert conn.execute("SELECT count(*) FROM summaries").fetchone() == (1,)
        assert conn.execute("SELECT count(*) FROM analytics_outbox").fetchone()[0] >= 2  # type: ignore[index]
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("DELETE FROM anomalies")


def test_cli_detect_and_summarize(plant: str, capsys: pytest.CaptureFixture[str]) -> None:
    args = ["--database-url", plant]
    # history written behind the ingestor's back: backfill the rollups, as an operator would
    span = ["--from", "2026-11-23T03:00:00-03:00", "--to", "2026-11-23T12:30:00-03:00"]
    assert main([*args, "refresh-rollups", *span]) == 0
    assert "refreshed" in capsys.readouterr().out
    assert main([*args, "detect", "--at", "2026-11-23T12:20:00-03:00", "--no-model"]) == 0
    assert "plant: {'opened':" in capsys.readouterr().out
    assert main([*args, "summarize", "--at", "2026-11-23T12:20:00-03:00"]) == 0
    assert "wrote 1 summaries" in capsys.readouterr().out
    assert main([*args, "summarize", "--at", "2026-11-23T12:20:00-03:00"]) == 0
    assert "wrote 0 summaries" in capsys.readouterr().out


def test_cli_names_the_missing_variable(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("EMUSA_DATABASE_URL", raising=False)
    assert main(["summarize"]) == 2
    assert "EMUSA_DATABASE_URL" in capsys.readouterr().err
    monkeypatch.setenv("EMUSA_DATABASE_URL", "postgresql://x@127.0.0.1:1/x")
    monkeypatch.delenv("EMUSA_MQTT_URL", raising=False)
    assert main(["run"]) == 2
    assert "EMUSA_MQTT_URL" in capsys.readouterr().err
