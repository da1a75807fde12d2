"""The gateway's status file and ``emusa-gateway health`` (the compose healthcheck).

The running gateway rewrites a small JSON file every few seconds (atomically): broker
connection, queued readings, and per meter its status, reads, failures, last error,
dropped quantities and seconds since its last good read. ``health`` reads it: healthy when
the file is fresh and at least one meter was read recently.
"""

from __future__ import annotations

import json
import os
import tempfile
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from gateway.poller import MeterState

DEFAULT_STATUS_FILE = Path(tempfile.gettempdir()) / "emusa-gateway.status.json"


def snapshot(
    meters: Iterable[MeterState], *, connected: bool, queued: int, now_monotonic: float
) -> dict[str, Any]:
    return {
        "written_at": time.time(),
        "mqtt_connected": connected,
        "queued": queued,
        "meters": {
            m.name: {
                "status": "unreachable"
                if m.failures
                else ("online" if m.last_good is not None else "unknown"),
                "reads": m.reads,
                "failed_reads": m.failed_reads,
                "consecutive_failures": m.failures,
                "last_error": m.last_error,
                "seconds_since_good_read": None
                if m.last_good is None
                else round(now_monotonic - m.last_good, 1),
                "dropped": dict(m.dropped),
            }
            for m in meters
        },
    }


def write(path: Path, status: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(status, indent=1, sort_keys=True), encoding="utf-8")
    os.replace(tmp, path)


def check(path: Path, max_age: float, now: float | None = None) -> tuple[bool, str]:
    """(healthy, reason) from the status file at ``path``."""
    now = time.time() if now is None else now
    try:
        status = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        return False, f"no readable status file {path}: {exc}"
    age = now - float(status.get("written_at", 0))
    if age > max_age:
        return False, f"status file is {age:.0f} s old (gateway not running or stuck)"
    meters = status.get("meters", {})
    fresh = [
        name
        for name, m in meters.items()
        if m.get("seconds_since_good_read") is not None and m["seconds_since_good_read"] <= max_age
    ]
    if not fresh:
        errors = "; ".join(
            f"{n}: {m.get('last_error') or 'no read yet'}" for n, m in meters.items()
        )
        return False, f"no meter read in the last {max_age:.0f} s ({errors})"
    down = sorted(set(meters) - set(fresh))
    note = f"; not read recently: {', '.join(down)}" if down else ""
    return (
        True,
        f"{len(fresh)} of {len(meters)} meters read, {status.get('queued', 0)} queued{note}",
    )
