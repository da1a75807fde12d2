"""One schema for every benchmark's ``bench-results/<name>.json``.

Each benchmark calls :func:`write` once with its headline rows and its detailed figures::

    {
      "benchmark": "ingest",
      "title": "...",
      "when": "2026-11-25T15:00:00+00:00",
      "machine": {"cpus": 2, "python": "3.11.2", "platform": "...", "load_avg_1m": 1.7},
      "commit": "23ec44c",
      "headline": [
        {"figure": "whole ingestor, MQTT -> TimescaleDB", "value": 3437, "unit": "readings/s",
         "baseline": "subscriber that only receives and parses", "baseline_value": 3159,
         "ratio": 1.09, "goal": ">= 0.8 of the baseline", "met": true}
      ],
      "figures": {...}       # everything else the benchmark measured
    }

``scripts/bench_report.py`` merges these files into ``bench-results/report.{json,md}``
(its commit and machine are the newest file's: the script needs nothing from here).
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
OUT_DIR = REPO / "bench-results"


@dataclass(frozen=True)
class Row:
    """One headline figure, with the baseline measured in the same run when there is one."""

    figure: str
    value: float
    unit: str
    baseline: str | None = None
    baseline_value: float | None = None
    ratio: float | None = None  # value / baseline_value, unless the benchmark says otherwise
    goal: str | None = None  # as the issue set it, in words
    met: bool | None = None  # None: no goal

    def __post_init__(self) -> None:
        if self.ratio is None and self.baseline_value:
            object.__setattr__(self, "ratio", round(self.value / self.baseline_value, 3))


def machine() -> dict[str, Any]:
    return {
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "load_avg_1m": round(os.getloadavg()[0], 2),
    }


def git_commit() -> str | None:
    try:
        out = subprocess.run(
            ["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None


def write(
    name: str,
    title: str,
    headline: list[Row],
    figures: dict[str, Any],
    directory: Path = OUT_DIR,
) -> Path:
    """Write ``<directory>/<name>.json`` (default ``bench-results/``) and return its path."""
    doc = {
        "benchmark": name,
        "title": title,
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": machine(),
        "commit": git_commit(),
        "headline": [asdict(r) for r in headline],
        "figures": figures,
    }
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{name}.json"
    path.write_text(json.dumps(doc, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return path
