"""Plot the history-scale benchmark: each measure's cost against history length.

    python scripts/plot_history.py [--input bench-results/history.json] [--output docs/bench-history.png]

Reads the figures ``tests/benchmarks/test_history.py`` wrote (``by_days``) and draws one
small chart per group of measures, history length (days) on the x axis, so that growth
shows at a glance. ``make bench-history`` runs it after the benchmark.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

ROOT = Path(__file__).resolve().parents[1]
RANGES = ("5m", "24h", "7d", "30d", "1y")
GROUPS: dict[str, dict[str, str]] = {
    "Reports and worker jobs (s)": {
        "daily_report_s": "daily report",
        "fortnightly_report_s": "fortnightly report",
        "summary_6h_s": "6-hour summary",
        "detection_cycle_s": "detection cycle",
    },
    "Small jobs (ms)": {
        "demand_projection_s": "demand projection",
        "trailing_refresh_s": "trailing refresh",
        "late_reading_refresh_s": "late reading refresh",
    },
}


def _series(by_days: dict[str, Any], get: Any) -> tuple[list[int], list[float]]:
    days = sorted(int(d) for d in by_days)
    return days, [get(by_days[str(d)]) for d in days]


def plot(doc: dict[str, Any], output: Path) -> None:
    by_days = doc["figures"]["by_days"]
    fig, axes = plt.subplots(2, 3, figsize=(15, 8.5))
    ax = axes[0][0]
    for label in RANGES:
        ax.plot(
            *_series(
                by_days,
                lambda m, lb=label: max(p["p95_ms"] for p in m["panels"] if p["range"] == lb),
            ),
            marker="o",
            label=label,
        )
    ax.set(title="Worst dashboard panel p95 (ms)", yscale="log")
    ax.legend(title="range")
    ax = axes[0][1]
    for label in RANGES:
        ax.plot(
            *_series(
                by_days,
                lambda m, lb=label: sum(p["p95_ms"] for p in m["panels"] if p["range"] == lb),
            ),
            marker="o",
            label=label,
        )
    ax.set(title="Sum of all panels' p95 (ms)", yscale="log")
    ax.legend(title="range")
    for ax, (title, keys) in zip((axes[0][2], axes[1][0]), GROUPS.items(), strict=True):
        scale = 1000 if "(ms)" in title else 1
        for key, words in keys.items():
            ax.plot(*_series(by_days, lambda m, k=key, s=scale: m[k] * s), marker="o", label=words)
        ax.set(title=title, ylim=(0, None))
        ax.legend()
    ax = axes[1][1]
    names = list(next(iter(by_days.values()))["bi_imports"])
    for name in names:
        ax.plot(
            *_series(by_days, lambda m, n=name: m["bi_imports"][n]["s"]), marker="o", label=name
        )
    ax.set(title="Power BI imports (s)", ylim=(0, None))
    ax.legend()
    ax = axes[1][2]
    ax.plot(
        *_series(by_days, lambda m: m["ingest_readings_per_s"] / 1000),
        marker="o",
        label="ingest (k readings/s)",
    )
    ax.axhline(
        doc["figures"]["ingest_empty_readings_per_s"] / 1000,
        ls="--",
        color="grey",
        label="ingest into an empty database",
    )
    ax.plot(
        *_series(by_days, lambda m: m["worker_peak_rss_mib"]),
        marker="o",
        label="worker peak RSS (MiB)",
    )
    ax.set(title="Ingest rate and worker memory", ylim=(0, None))
    ax.legend()
    for row in axes:
        for a in row:
            a.set_xlabel("history (days)")
            a.grid(True, alpha=0.3)
    fig.suptitle(
        f"{doc['title']} — {doc['when']}, commit {doc.get('commit')}, load {doc['machine']['load_avg_1m']}"
    )
    fig.tight_layout()
    output.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(output, dpi=80)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    p.add_argument("--input", type=Path, default=ROOT / "bench-results" / "history.json")
    p.add_argument("--output", type=Path, default=ROOT / "docs" / "bench-history.png")
    args = p.parse_args(argv)
    try:
        doc = json.loads(args.input.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        print(f"plot_history: {args.input}: {exc}", file=sys.stderr)
        return 2
    plot(doc, args.output)
    print(f"plot_history: {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
