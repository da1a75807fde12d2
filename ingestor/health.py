"""Heartbeat file of the running ingestor and the check behind ``emusa-ingestor health``.

``run`` rewrites a small JSON file every second (atomically: write then rename) with its
state and counters; ``health`` reads it and exits 0 only when the heartbeat is fresh, the
MQTT subscription is active and the last database attempt succeeded — usable as a
docker-compose ``healthcheck`` without any network port.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class Status:
    pid_started: float
    heartbeat: float
    mqtt_connected: bool
    subscribed: bool
    db_ok: bool
    db_error: str = ""
    last_commit: float | None = None
    counters: dict[str, Any] = field(default_factory=dict)
    pid: int = field(default_factory=os.getpid)


def write_status(path: Path, status: Status) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(asdict(status), sort_keys=True), encoding="utf-8")
    tmp.replace(path)


def read_status(path: Path) -> dict[str, Any]:
    doc = json.loads(path.read_text(encoding="utf-8"))
    if not isinstance(doc, dict):
        raise ValueError(f"{path} does not hold a status object")
    return doc


def check(doc: dict[str, Any], *, now: float | None = None, max_age: float = 15.0) -> list[str]:
    """Problems found in a status document; empty when healthy (pure)."""
    now = time.time() if now is None else now
    problems = []
    age = now - float(doc.get("heartbeat", 0.0))
    if age > max_age:
        problems.append(f"heartbeat is {age:.0f} s old (limit {max_age:.0f} s)")
    if not doc.get("mqtt_connected"):
        problems.append("not connected to the MQTT broker")
    elif not doc.get("subscribed"):
        problems.append("not subscribed to the reading topics")
    if not doc.get("db_ok"):
        problems.append(f"database unavailable: {doc.get('db_error') or 'unknown error'}")
    return problems


def healthy(path: Path) -> bool:
    """``emusa-ingestor health`` as a test: the status file reads healthy (connected,
    subscribed, database up); False when it is missing or unreadable."""
    try:
        return check(read_status(path)) == []
    except (OSError, ValueError):
        return False
