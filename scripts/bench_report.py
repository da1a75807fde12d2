"""Merge ``bench-results/<benchmark>.json`` into ``bench-results/report.json`` and ``report.md``.

    python scripts/bench_report.py [--dir bench-results]

``make bench`` runs it after the benchmarks (also when one of them failed, so the report
says which results are missing). Each input file has the schema written by
``tests/benchmarks/results.py``: headline rows (figure, value, unit, the baseline measured
in the same run and the ratio value / baseline, the goal the issues set and whether it was
met) and the detailed figures, which stay in the JSON only. The report's commit and
machine are those the newest result recorded.
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
REPORT = "report"
#: every benchmark of tests/benchmarks, in the order of the report
EXPECTED = (
    "modbus",
    "ingest",
    "scale",
    "dashboards",
    "detection",
    "detection_eval",
    "rollup_refresh",
    "reports",
)
NOISE_NOTE = (
    "Measured on a shared 2-core machine where other jobs ran at the same time (see each"
    " benchmark's load average): read the figures as orders of magnitude. Every ratio"
    " compares two paths measured in the same run, which is what the goals are set on."
)


class ReportError(Exception):
    """A result file that cannot be read or lacks the common schema."""


def load(directory: Path) -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = {}
    for path in sorted(directory.glob("*.json")):
        if path.stem == REPORT:
            continue
        try:
            doc = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise ReportError(f"{path}: not readable JSON: {exc}") from exc
        missing = [k for k in ("benchmark", "title", "when", "headline") if k not in doc]
        if missing:
            raise ReportError(f"{path}: not a benchmark result (missing {', '.join(missing)})")
        found[str(doc["benchmark"])] = doc
    return found


def _measured_on(results: dict[str, dict[str, Any]]) -> tuple[Any, dict[str, Any]]:
    """Commit and machine (CPUs, Python, platform) of the newest result: every result
    file records where it was measured, so the report needs no git or platform calls."""
    newest = max(results.values(), key=lambda doc: str(doc["when"]))
    measured = newest.get("machine") or {}
    return newest.get("commit"), {k: measured.get(k) for k in ("cpus", "python", "platform")}


def build(results: dict[str, dict[str, Any]]) -> dict[str, Any]:
    order = [n for n in EXPECTED if n in results] + sorted(set(results) - set(EXPECTED))
    commit, machine = _measured_on(results)
    goals = [
        {"benchmark": n, "figure": r["figure"], "goal": r["goal"], "met": r["met"]}
        for n in order
        for r in results[n]["headline"]
        if r.get("goal")
    ]
    return {
        "generated": datetime.now(UTC).isoformat(timespec="seconds"),
        "commit": commit,
        "machine": machine,
        "note": NOISE_NOTE,
        "missing": [n for n in EXPECTED if n not in results],
        "goals_missed": [g for g in goals if g["met"] is False],
        "benchmarks": [results[n] for n in order],
    }


def _num(x: Any) -> str:
    if x is None:
        return ""
    if isinstance(x, bool):
        return "yes" if x else "**no**"
    if isinstance(x, int) or (isinstance(x, float) and x.is_integer() and abs(x) >= 100):
        return f"{int(x):,}"
    if isinstance(x, float):
        return f"{x:,.3g}" if abs(x) < 100 else f"{x:,.0f}"
    return str(x)


def _cell(text: Any) -> str:
    return _num(text).replace("|", "\\|")


def markdown(report: dict[str, Any]) -> str:
    lines = [
        "# Benchmark report",
        "",
        f"Generated {report['generated']} at commit `{report['commit']}`;"
        f" {report['machine']['cpus']} CPUs, Python {report['machine']['python']},"
        f" {report['machine']['platform']}.",
        "",
        f"> {report['note']}",
        "",
        "Ratio = value / baseline, both measured in the same run. Details of every"
        " benchmark are in `bench-results/<benchmark>.json`.",
        "",
    ]
    if report["missing"]:
        lines += [f"**Missing (failed or skipped):** {', '.join(report['missing'])}", ""]
    if report["goals_missed"]:
        missed = "; ".join(
            f"{g['benchmark']}: {g['figure']} ({g['goal']})" for g in report["goals_missed"]
        )
        lines += [f"**Goals missed:** {missed}", ""]
    for b in report["benchmarks"]:
        load = b.get("machine", {}).get("load_avg_1m")
        lines += [
            f"## {b['title']} (`{b['benchmark']}`)",
            "",
            f"{b['when']}, commit `{b.get('commit')}`, load average {_num(load)} at the end.",
            "",
            "| figure | value | unit | baseline (same run) | baseline value | ratio | goal | met |",
            "|---|---:|---|---|---:|---:|---|---|",
        ]
        for r in b["headline"]:
            cells = (r["figure"], r["value"], r["unit"], r.get("baseline"),
                     r.get("baseline_value"), r.get("ratio"), r.get("goal"), r.get("met"))  # fmt: skip
            lines.append("| " + " | ".join(_cell(c) for c in cells) + " |")
        lines.append("")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    p.add_argument("--dir", type=Path, default=ROOT / "bench-results")
    args = p.parse_args(argv)
    try:
        results = load(args.dir)
    except ReportError as exc:
        print(f"bench_report: {exc}", file=sys.stderr)
        return 2
    if not results:
        print(f"bench_report: no benchmark results in {args.dir}", file=sys.stderr)
        return 1
    report = build(results)
    (args.dir / f"{REPORT}.json").write_text(
        json.dumps(report, indent=2, ensure_ascii=False) + "\n"
    )
    (args.dir / f"{REPORT}.md").write_text(markdown(report) + "\n")
    print(f"bench_report: {len(results)} benchmarks -> {args.dir / REPORT}.md and .json")
    if report["missing"]:
        print(f"bench_report: missing {', '.join(report['missing'])}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
