"""The gateway's status file and ``emusa-gateway health`` (the compose healthcheck).

The running gateway rewrites a small JSON file every few seconds (atomically): broker
connection, queued readings, and per meter its status, reads, failures, last error,
dropped quantities and seconds since its last good read, its Modbus request counters
since start (timeouts, CRC/framing errors, exception codes, retries, last latency) and
backoff; per bus the same counters, poll cycles, last cycle time, the first cycle's time
(it opens the connection, so it is never counted as an overrun) and overruns. ``health``
reads it: healthy when the file is fresh and at least one meter was read recently; its
report names each meter's figures.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from gateway.poller import BusPoller, MeterState


def snapshot(
    meters: Iterable[MeterState],
    *,
    connected: bool,
    queued: int,
    now_monotonic: float,
    refused: int = 0,
    buses: Iterable[BusPoller] = (),
) -> dict[str, Any]:
    return {
        "written_at": time.time(),
        "mqtt_connected": connected,
        "queued": queued,
        "refused": refused,  # messages the broker refused (ACL): logged, not kept
        "meters": {
            m.name: {
                "status": m.status(),
                "reads": m.reads,
                "failed_reads": m.failed_reads,
                "consecutive_failures": m.failures,
                "last_error": m.last_error,
                "seconds_since_good_read": m.since_good(now_monotonic, 1),
                "dropped": dict(m.dropped),
                # a channel of the plant's register file: the old app's connection banner
                "channel": None if m.channel is None else m.channel.name,
                "port": m.port,
                "identifier": m.identifier,
                "modbus": {
                    **m.link.totals(),
                    "backoff_s": m.backoff,
                    "next_try_in_s": m.next_try_in(now_monotonic, 1),
                },
            }
            for m in meters
        },
        "buses": {
            b.bus.name: {
                **b.link.totals(),
                "cycles": b.cycles,
                "overruns": b.overruns,
                "cycle_last_ms": None if b.last_cycle is None else round(b.last_cycle * 1000, 1),
                "first_cycle_ms": None if b.first_cycle is None else round(b.first_cycle * 1000, 1),
            }
            for b in buses
        },
    }


def describe_meter(name: str, m: dict[str, Any]) -> str:
    """One line of figures for ``emusa-gateway health``."""
    mb = m.get("modbus") or {}
    since = m.get("seconds_since_good_read")
    codes = ",".join(f"{c}x{n}" for c, n in (mb.get("exception_codes") or {}).items())
    latency = mb.get("latency_last_ms")
    parts = [
        f"{name}: {m.get('status', '?')}",
        f"last good read {'never' if since is None else f'{since:g} s ago'}",
        f"requests {mb.get('requests', 0)}",
        f"timeouts {mb.get('timeouts', 0)}",
        f"crc {mb.get('crc_errors', 0)}",
        f"exceptions {mb.get('exceptions', 0)}{f' ({codes})' if codes else ''}",
        f"retries {mb.get('retries', 0)}",
        f"latency {'-' if latency is None else f'{latency:g} ms'}",
    ]
    if mb.get("backoff_s"):
        parts.append(f"backoff {mb['backoff_s']:g} s (next try in {mb.get('next_try_in_s')} s)")
    if m.get("channel"):
        parts.append(f"channel {m['channel']!r} on {m.get('port')} says {m.get('identifier')!r}")
    return ", ".join(parts)


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
        return False, f"no meter read in the last {max_age:.0f} s ({errors})" + _figures(status)
    down = sorted(set(meters) - set(fresh))
    note = f"; not read recently: {', '.join(down)}" if down else ""
    if status.get("refused"):
        note += f"; {status['refused']} messages refused by the broker (check its ACL)"
    return (
        True,
        f"{len(fresh)} of {len(meters)} meters read, {status.get('queued', 0)} queued{note}"
        + _figures(status),
    )


def _figures(status: dict[str, Any]) -> str:
    """Modbus figures per meter and bus, one indented line each (older files have none)."""
    lines = [describe_meter(n, m) for n, m in status.get("meters", {}).items() if "modbus" in m]
    for name, b in status.get("buses", {}).items():
        lines.append(
            f"bus {name}: {b.get('cycles', 0)} cycles, last {b.get('cycle_last_ms')} ms,"
            f" first {b.get('first_cycle_ms')} ms (connect included, never an overrun),"
            f" {b.get('overruns', 0)} overruns, requests {b.get('requests', 0)},"
            f" timeouts {b.get('timeouts', 0)}, crc {b.get('crc_errors', 0)},"
            f" exceptions {b.get('exceptions', 0)}, retries {b.get('retries', 0)}"
        )
    return "".join(f"\n  {line}" for line in lines)
