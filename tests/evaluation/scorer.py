"""Run the detector on a generated data set and score what it stored.

Interface::

    data = generator.build(dsn, EvalConfig())
    run_detection(dsn, data, model=True)     # the product's detect job over everything
    score = score_events(read_events(dsn), data)
    print(table(score))

Definitions (docs/detection.md):

* an event **matches** a label when it is on the label's meter (site-level labels: the
  site total), of the label's kind, and starts within the label's tolerance (a minute
  unless the kind is judged on 10-minute, 15-minute or hourly figures); it is **right**
  when its severity is the label's too;
* **recall** of a kind: labels with a right event / labels;
* **precision** of a kind: its events in the event days that match a label (or are a
  declared companion of one, e.g. the silent meter's lost-data event) / its events there;
  ``causal`` counts the events overlapping any injected disturbance at all;
* **false events per meter-week**: events starting in the clean days (or the history
  week), per meter and 7 days.
"""

from __future__ import annotations

from contextlib import closing
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import psycopg
from psycopg.rows import dict_row

from analytics import config
from analytics.detection.job import detect
from analytics.worker.context import Context
from tests.evaluation.generator import Dataset
from tests.evaluation.kinds import FORBIDDEN_DURING, Label

SLACK = timedelta(minutes=2)


@dataclass(frozen=True)
class Event:
    meter: str | None
    kind: str
    severity: str
    detector: str
    start: datetime
    end: datetime
    measured: float | None


@dataclass
class Score:
    recall: dict[str, tuple[int, int]] = field(default_factory=dict)  # kind: (right, labels)
    kind_hits: dict[str, int] = field(default_factory=dict)  # right kind, any severity
    precision: dict[str, tuple[int, int]] = field(default_factory=dict)  # kind: (good, events)
    causal: tuple[int, int] = (0, 0)
    false_clean: dict[str, int] = field(default_factory=dict)  # detector: events
    false_history: dict[str, int] = field(default_factory=dict)
    meter_weeks_clean: float = 0.0
    meter_weeks_history: float = 0.0
    missed: list[str] = field(default_factory=list)
    forbidden: list[str] = field(default_factory=list)
    unexplained: list[str] = field(default_factory=list)  # rule events matching no label
    events: list[Event] = field(default_factory=list)

    def false_per_meter_week(self, period: str = "clean") -> float:
        counts = self.false_clean if period == "clean" else self.false_history
        weeks = self.meter_weeks_clean if period == "clean" else self.meter_weeks_history
        return sum(counts.values()) / weeks if weeks else 0.0

    def as_dict(self) -> dict[str, Any]:
        return {
            "recall": {k: {"right": r, "labels": n, "recall": round(r / n, 3)}
                       for k, (r, n) in sorted(self.recall.items())},
            "precision": {k: {"good": g, "events": n, "precision": round(g / n, 3) if n else None}
                          for k, (g, n) in sorted(self.precision.items())},
            "causal": {"causal": self.causal[0], "events": self.causal[1]},
            "false_clean": self.false_clean,
            "false_history": self.false_history,
            "false_per_meter_week_clean": round(self.false_per_meter_week("clean"), 2),
            "false_per_meter_week_history": round(self.false_per_meter_week("history"), 2),
            "missed": self.missed,
            "forbidden": self.forbidden,
            "unexplained_rule_events": self.unexplained[:40],
        }  # fmt: skip


def run_detection(dsn: str, data: Dataset, *, model: bool = True) -> dict[str, Any]:
    """The product's ``detect`` job over the whole data set, as a worker catching up."""
    start, _ = data.periods["history"]
    _, end = data.periods["clean"]
    flags = {
        "database_url": dsn,
        "model_enabled": model,
        "catch_up": end - start + timedelta(days=1),
    }
    with closing(Context(config.load(flags, env={}))) as ctx:
        return detect(ctx, end + timedelta(minutes=10))


def read_events(dsn: str) -> list[Event]:
    with psycopg.connect(dsn, row_factory=dict_row) as conn:
        rows = conn.execute(
            "SELECT m.name AS meter, a.kind, a.severity, a.detector, a.started_at,"
            " coalesce(a.ended_at, a.started_at) AS ended_at, a.measured"
            " FROM anomalies a LEFT JOIN meters m USING (meter_id) ORDER BY a.started_at"
        ).fetchall()
    return [
        Event(r["meter"], r["kind"], r["severity"], r["detector"], r["started_at"],
              r["ended_at"], r["measured"])
        for r in rows
    ]  # fmt: skip


def _matches(e: Event, label: Label) -> bool:
    return (
        e.meter == label.meter
        and e.kind == label.kind
        and abs(e.start - label.start) <= label.tolerance
    )


def _overlaps(e: Event, label: Label, kinds: tuple[str, ...] | None = None) -> bool:
    same_place = e.meter == label.meter or label.meter is None or e.meter is None
    lo = min(label.start - label.tolerance, label.injected_at or label.start) - SLACK
    hi = label.end + label.tolerance + SLACK
    return same_place and e.start <= hi and e.end >= lo and (kinds is None or e.kind in kinds)


def score_events(events: list[Event], data: Dataset) -> Score:
    out = Score(events=events)
    labels = data.labels
    for label in labels:
        hits = [e for e in events if _matches(e, label)]
        right = [e for e in hits if e.severity == label.severity]
        r, n = out.recall.get(label.kind, (0, 0))
        out.recall[label.kind] = (r + bool(right), n + 1)
        out.kind_hits[label.kind] = out.kind_hits.get(label.kind, 0) + bool(hits)
        if not right:
            got = sorted({(e.kind, e.severity) for e in events if _overlaps(e, label)})
            out.missed.append(f"{label.scenario} on {label.meter or 'site'}: got {got}")
    ev_start, ev_end = data.periods["events"]
    causal = total = 0
    for e in events:
        if ev_start <= e.start < ev_end:
            good = any(_matches(e, lb) or _overlaps(e, lb, lb.also) for lb in labels)
            g, n = out.precision.get(e.kind, (0, 0))
            out.precision[e.kind] = (g + good, n + 1)
            if not good and e.detector == "rule":
                out.unexplained.append(
                    f"{e.kind} {e.severity} on {e.meter or 'site'} {e.start.isoformat()}"
                    f" measured {e.measured}"
                )
            total += 1
            causal += any(_overlaps(e, lb) for lb in labels)
        for period, counts in (("clean", out.false_clean), ("history", out.false_history)):
            a, b = data.periods[period]
            if a <= e.start < b:
                counts[e.detector] = counts.get(e.detector, 0) + 1
    out.causal = (causal, total)
    meters = len(data.meter_ids)
    for period in ("clean", "history"):
        a, b = data.periods[period]
        weeks = meters * (b - a) / timedelta(days=7)
        if period == "clean":
            out.meter_weeks_clean = weeks
        else:
            out.meter_weeks_history = weeks
    for sc, at in data.placed:
        for kind in FORBIDDEN_DURING.get(sc.what, ()):
            end = at + sc.duration + timedelta(minutes=15)
            bad = [e for e in events if e.kind == kind and at - SLACK <= e.start <= end]
            out.forbidden += [f"{kind} during {sc.name}: measured {e.measured}" for e in bad]
    return out


def table(score: Score, before: Score | None = None) -> str:
    """A Markdown table: per kind, right-kind recall and precision (and before, if given)."""
    head = "| kind | labels | right kind+severity | recall | precision |"
    sep = "|---|---|---|---|---|"
    if before is not None:
        head += " recall before | precision before |"
        sep += "---|---|"
    lines = [head, sep]
    kinds = sorted(set(score.recall) | set(score.precision))
    for k in kinds:
        r, n = score.recall.get(k, (0, 0))
        g, m = score.precision.get(k, (0, 0))
        row = f"| {k} | {n} | {r} | {_ratio(r, n)} | {_ratio(g, m)} |"
        if before is not None:
            rb, nb = before.recall.get(k, (0, 0))
            gb, mb = before.precision.get(k, (0, 0))
            row += f" {_ratio(rb, nb)} | {_ratio(gb, mb)} |"
        lines.append(row)
    return "\n".join(lines)


def _ratio(a: int, b: int) -> str:
    return "-" if not b else f"{a / b:.2f}"
