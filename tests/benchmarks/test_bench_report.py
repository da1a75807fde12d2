"""scripts/bench_report.py: merging benchmark results into one report (no services)."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from types import ModuleType

import pytest

from tests.benchmarks import results

pytestmark = pytest.mark.unit

SCRIPT = results.REPO / "scripts" / "bench_report.py"


def _script() -> ModuleType:
    spec = importlib.util.spec_from_file_location("bench_report", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _two_results(directory: Path) -> None:
    results.write(
        "ingest",
        "Ingest throughput",
        [
            results.Row(
                "writer",
                60000,
                "readings/s",
                "direct COPY",
                80000,
                goal=">= 0.5 of the ceiling",
                met=True,
            ),
            results.Row(
                "whole path",
                2000,
                "readings/s",
                "parse only",
                4000,
                goal=">= 0.8 of the baseline",
                met=False,
            ),
        ],
        {"rows_per_s": {"db_writer_from_memory": 60000}},
        directory=directory,
    )
    results.write(
        "scale", "Scale run", [results.Row("lag p50", 134, "ms")], {"x": 1}, directory=directory
    )


def test_report_merges_results_with_ratios_goals_and_missing(tmp_path: Path) -> None:
    _two_results(tmp_path)
    assert _script().main(["--dir", str(tmp_path)]) == 0

    report = json.loads((tmp_path / "report.json").read_text())
    assert [b["benchmark"] for b in report["benchmarks"]] == ["ingest", "scale"]
    assert "modbus" in report["missing"] and "ingest" not in report["missing"]
    assert report["goals_missed"] == [
        {"benchmark": "ingest", "figure": "whole path", "goal": ">= 0.8 of the baseline",
         "met": False}
    ]  # fmt: skip
    writer = report["benchmarks"][0]["headline"][0]
    assert writer["ratio"] == 0.75  # computed by results.Row: value / baseline

    md = (tmp_path / "report.md").read_text()
    assert (
        "| writer | 60,000 | readings/s | direct COPY | 80,000 | 0.75 | >= 0.5 of the ceiling | yes |"
        in md
    )
    assert "| whole path | 2,000 | readings/s | parse only | 4,000 | 0.5 |" in md
    assert "**Goals missed:** ingest: whole path (>= 0.8 of the baseline)" in md
    assert "**Missing (failed or skipped):** modbus, dashboards" in md
    assert "shared 2-core machine" in md


def test_a_file_without_the_common_schema_is_refused_by_name(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _two_results(tmp_path)
    (tmp_path / "old.json").write_text(json.dumps({"rows_per_s": {}}))
    assert _script().main(["--dir", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "old.json" in err and "missing benchmark, title, when, headline" in err
    assert not (tmp_path / "report.md").exists()


def test_no_results_is_an_error(tmp_path: Path) -> None:
    assert _script().main(["--dir", str(tmp_path)]) == 1
