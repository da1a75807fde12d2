"""Events: grouping violating buckets into episodes, and merging episodes into stored
events so that an ongoing event is extended (never repeated) and closed when it clears.

Pure module: plain data in, plain data out.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

SEVERITY_RANK = {"info": 0, "warning": 1, "critical": 2}


@dataclass(frozen=True)
class Episode:
    """One continuous violation seen in the data.

    ``end`` is the end of the last violating bucket; ``ongoing`` when that bucket was the
    last one evaluated (the condition has not cleared yet). ``badness`` orders candidate
    ``measured`` values: the worst one is kept.
    """

    site_id: str
    meter_id: int | None
    kind: str
    detector: str
    severity: str
    start: datetime
    end: datetime
    ongoing: bool
    quantity: str | None
    measured: float | None
    limit: float | None
    badness: float = 0.0
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def key(self) -> tuple[str, int | None, str]:
        return (self.site_id, self.meter_id, self.kind)


@dataclass(frozen=True)
class StoredEvent:
    """An event as kept in ``anomalies`` (``ended_at`` None = ongoing)."""

    anomaly_id: int
    site_id: str
    meter_id: int | None
    kind: str
    severity: str
    started_at: datetime
    ended_at: datetime | None
    last_seen: datetime
    measured: float | None
    badness: float

    @property
    def key(self) -> tuple[str, int | None, str]:
        return (self.site_id, self.meter_id, self.kind)


@dataclass(frozen=True)
class Change:
    """What to write: a new event (``anomaly_id`` None) or an update of a stored one.

    ``opened``/``closed`` tell the publisher which transition to announce.
    """

    episode: Episode
    anomaly_id: int | None
    started_at: datetime
    ended_at: datetime | None
    last_seen: datetime
    opened: bool
    closed: bool
    close_only: bool = False


def group_runs(
    times: Sequence[datetime], width: timedelta, gap: timedelta
) -> list[tuple[int, int]]:
    """Index ranges [i, j] of ``times`` (sorted bucket starts) whose buckets are no more
    than ``gap`` apart (end of one to start of the next)."""
    runs: list[tuple[int, int]] = []
    start = 0
    for i in range(1, len(times)):
        if times[i] - (times[i - 1] + width) > gap:
            runs.append((start, i - 1))
            start = i
    if times:
        runs.append((start, len(times) - 1))
    return runs


def worse(a: str, b: str) -> str:
    return a if SEVERITY_RANK[a] >= SEVERITY_RANK[b] else b


def merge(
    episodes: Iterable[Episode],
    stored: Iterable[StoredEvent],
    gaps: dict[str, timedelta],
    evaluated_from: dict[tuple[str, int | None, str], datetime] | None = None,
) -> list[Change]:
    """Merge this run's episodes into the stored events.

    * An episode that overlaps a stored event of the same (site, meter, kind), or starts
      within ``gaps[kind]`` of its last violating instant, extends it (worst severity and
      measured value kept); it closes the event when the episode is not ongoing.
    * Other episodes open new events.
    * A stored ongoing event that no episode touched although this run evaluated data
      after it was last seen (``evaluated_from``) has cleared: it is closed at its last
      violating instant.
    """
    by_key: dict[tuple[str, int | None, str], list[StoredEvent]] = {}
    for ev in stored:
        by_key.setdefault(ev.key, []).append(ev)
    for evs in by_key.values():
        evs.sort(key=lambda e: e.started_at)

    changes: list[Change] = []
    touched: set[int] = set()
    for ep in sorted(episodes, key=lambda e: (e.site_id, e.meter_id or 0, e.kind, e.start)):
        gap = gaps.get(ep.kind, timedelta(0))
        target = None
        for ev in by_key.get(ep.key, []):
            if ep.start <= ev.last_seen + gap and ep.end >= ev.started_at:
                target = ev
        if target is None:
            changes.append(
                Change(
                    ep, None, ep.start, None if ep.ongoing else ep.end, ep.end, True, not ep.ongoing
                )
            )
            # a later episode of this run may extend the one just opened
            stub = StoredEvent(
                -len(changes), ep.site_id, ep.meter_id, ep.kind, ep.severity, ep.start,
                None if ep.ongoing else ep.end, ep.end, ep.measured, ep.badness,
            )  # fmt: skip
            by_key.setdefault(ep.key, []).append(stub)
            continue
        merged = ep
        if target.badness > ep.badness:
            merged = replace(merged, measured=target.measured, badness=target.badness)
        merged = replace(merged, severity=worse(ep.severity, target.severity))
        last_seen = max(target.last_seen, ep.end)
        ended = None if ep.ongoing else last_seen
        start = min(target.started_at, ep.start)
        if target.anomaly_id < 0:  # extends an event opened earlier in this run
            idx = -target.anomaly_id - 1
            first = changes[idx]
            changes[idx] = replace(
                first, episode=replace(merged, start=start), ended_at=ended,
                last_seen=last_seen, closed=ended is not None,
            )  # fmt: skip
            by_key[ep.key].remove(target)
            by_key[ep.key].append(replace(target, last_seen=last_seen, ended_at=ended))
            continue
        touched.add(target.anomaly_id)
        changes.append(
            Change(
                replace(merged, start=start), target.anomaly_id, start, ended, last_seen,
                opened=False, closed=ended is not None and target.ended_at is None,
            )
        )  # fmt: skip

    for evs in by_key.values():
        for ev in evs:
            if ev.anomaly_id < 0 or ev.anomaly_id in touched or ev.ended_at is not None:
                continue
            seen_from = (evaluated_from or {}).get(ev.key)
            if seen_from is not None and seen_from <= ev.last_seen:
                ep = Episode(
                    ev.site_id, ev.meter_id, ev.kind, "rule", ev.severity, ev.started_at,
                    ev.last_seen, False, None, ev.measured, None, ev.badness,
                )  # fmt: skip
                changes.append(
                    Change(
                        ep, ev.anomaly_id, ev.started_at, ev.last_seen, ev.last_seen,
                        opened=False, closed=True, close_only=True,
                    )
                )  # fmt: skip
    return changes
