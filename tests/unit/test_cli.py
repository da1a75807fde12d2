"""Each console script has --help and its subcommands, and names bad settings."""

from __future__ import annotations

import json

import pytest

from analytics.__main__ import main as analytics_main
from contract.errors import SettingsError
from contract.settings import database_url
from gateway.__main__ import main as gateway_main
from ingestor.__main__ import main as ingestor_main

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(
    ("main", "commands"),
    [
        (gateway_main, ["quantities"]),
        (ingestor_main, ["migrate", "migrate-status"]),
        (analytics_main, ["refresh-rollups", "tariff-period"]),
    ],
)
def test_help_lists_subcommands(
    main: object, commands: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["--help"])  # type: ignore[operator]
    assert exc.value.code == 0
    out = capsys.readouterr().out
    for command in commands:
        assert command in out


def test_missing_subcommand_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        ingestor_main([])
    assert exc.value.code == 2
    assert "COMMAND" in capsys.readouterr().err


def test_gateway_lists_quantities_as_json(capsys: pytest.CaptureFixture[str]) -> None:
    assert gateway_main(["quantities", "--format", "json", "--lang", "en"]) == 0
    rows = json.loads(capsys.readouterr().out)
    p = next(r for r in rows if r["name"] == "p_total")
    assert p == {
        "name": "p_total",
        "unit": "kW",
        "group": "active_power",
        "kind": "gauge",
        "label": "Active power total",
        "low": -1e6,
        "high": 1e6,
    }


def test_analytics_rejects_naive_instants(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        analytics_main(
            [
                "--database-url",
                "postgresql://x@h/db",
                "tariff-period",
                "--site",
                "s",
                "--at",
                "2026-11-25T18:00",
            ]
        )
    assert "without a UTC offset" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("value", "env", "message"),
    [
        (None, {}, "EMUSA_DATABASE_URL is not set"),
        (None, {"EMUSA_DATABASE_URL": ""}, "EMUSA_DATABASE_URL is not set"),
        (None, {"EMUSA_DATABASE_URL": "host=x port"}, "EMUSA_DATABASE_URL is not a valid libpq"),
    ],
)
def test_database_url_errors_name_the_variable(
    value: str | None, env: dict[str, str], message: str
) -> None:
    with pytest.raises(SettingsError, match=message):
        database_url(value, env)


def test_database_url_flag_wins_over_environment() -> None:
    assert (
        database_url("postgresql://a@b/c", {"EMUSA_DATABASE_URL": "postgresql://x@y/z"})
        == "postgresql://a@b/c"
    )
