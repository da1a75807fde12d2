"""Modbus link diagnostics: per-attempt outcomes, counters per meter and per bus, payload.

The transport classifies every request attempt once (``Attempt``: ok, timeout, crc,
exception, connect, invalid, with its latency); the poller counts them here, per meter and
per bus. Counters run for a reporting period (``take_period`` returns them and starts the
next period) and since start (``totals``, for the status file). Pure module: no network.

Diagnostics payload v1 (QoS 1, retained, latest wins), flat JSON::

    meter: <root>/<site>/<meter>/diagnostics
      {"v": 1, "ts": "...Z", "site": "plant", "gateway": "gw1", "bus": "rs485a",
       "meter": "kron1", "unit": 1, "status": "online", "period_s": 15.0,
       "requests": 30, "successes": 30, "timeouts": 0, "crc_errors": 0, "exceptions": 0,
       "exception_codes": {}, "connect_errors": 0, "invalid": 0, "retries": 0,
       "latency_last_ms": 12.1, "latency_p50_ms": 11.9, "latency_p95_ms": 13.4,
       "latency_max_ms": 14.0, "consecutive_failures": 0, "backoff_s": 0.0,
       "next_try_in_s": null, "seconds_since_good_read": 0.4}
      plus, for a channel of the plant's register file (optional): "channel": "CH30 canal 1",
      "port": "/dev/ttyUSB0 9600 8N2", "identifier": "CH30-001" (its detection read)
    bus: <root>/<site>/gateway/<gateway>/bus/<bus>/diagnostics
      the same counters summed over the bus's meters, plus "cycles", "cycle_last_ms",
      "cycle_max_ms", "overruns", "meters", "meters_online" (no "meter", "unit", "status",
      "consecutive_failures", "backoff_s", "next_try_in_s", "seconds_since_good_read").

Counts and latencies are those of the period (``period_s`` seconds ending at ``ts``).
A request is one Modbus frame sent (retries included); ``retries`` counts the frames that
were a second or later attempt; latency is measured on successful frames only.
"""

from __future__ import annotations

import json
import math
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any, Final

from contract.errors import ContractError
from contract.messages import check_name, format_ts, load_object, parse_ts

VERSION: Final = 1
METER_STATUSES: Final = ("online", "unreachable", "unknown", "disabled")


class Outcome(StrEnum):
    """What one request attempt came to (classified once, in gateway.transport)."""

    OK = "ok"
    TIMEOUT = "timeout"  # no byte came back within the timeout
    CRC = "crc"  # bytes came back but no valid frame (CRC or framing error, garbage)
    EXCEPTION = "exception"  # a Modbus exception response (code in Attempt.code)
    CONNECT = "connect"  # cannot connect / connection lost
    INVALID = "invalid"  # a valid frame with the wrong content (length, undecodable)


@dataclass(frozen=True, slots=True)
class Attempt:
    unit: int
    outcome: Outcome
    seconds: float
    retry: bool = False  # a second or later attempt of the same request
    code: int | None = None  # Modbus exception code


def percentile(sorted_values: list[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100) of a non-empty ascending list."""
    if not sorted_values:
        raise ValueError("percentile of no value")
    rank = max(1, math.ceil(q / 100 * len(sorted_values)))
    return sorted_values[rank - 1]


# --- counters -----------------------------------------------------------------------

COUNT_FIELDS: Final = (
    "requests",
    "successes",
    "timeouts",
    "crc_errors",
    "exceptions",
    "connect_errors",
    "invalid",
    "retries",
)
_OUTCOME_FIELD: Final = {
    Outcome.OK: "successes",
    Outcome.TIMEOUT: "timeouts",
    Outcome.CRC: "crc_errors",
    Outcome.EXCEPTION: "exceptions",
    Outcome.CONNECT: "connect_errors",
    Outcome.INVALID: "invalid",
}


@dataclass
class LinkCounters:
    """Request counters of one meter or one bus."""

    counts: Counter[str] = field(default_factory=Counter)
    exception_codes: Counter[int] = field(default_factory=Counter)
    latencies: list[float] = field(default_factory=list)  # seconds, successful frames
    last_latency: float | None = None

    def record(self, attempt: Attempt) -> None:
        # CONNECT is counted as a request too: the poll cost its timeout.
        self.counts["requests"] += 1
        self.counts[_OUTCOME_FIELD[attempt.outcome]] += 1
        if attempt.retry:
            self.counts["retries"] += 1
        if attempt.outcome is Outcome.EXCEPTION and attempt.code is not None:
            self.exception_codes[attempt.code] += 1
        if attempt.outcome is Outcome.OK:
            self.latencies.append(attempt.seconds)
            self.last_latency = attempt.seconds

    def summary(self) -> dict[str, Any]:
        """Counts, exception codes and latency figures (ms; None without a success)."""
        out: dict[str, Any] = {name: self.counts[name] for name in COUNT_FIELDS}
        out["exception_codes"] = {str(c): n for c, n in sorted(self.exception_codes.items())}
        lat = sorted(self.latencies)
        out["latency_last_ms"] = _ms(self.last_latency) if lat else None
        out["latency_p50_ms"] = _ms(percentile(lat, 50)) if lat else None
        out["latency_p95_ms"] = _ms(percentile(lat, 95)) if lat else None
        out["latency_max_ms"] = _ms(lat[-1]) if lat else None
        return out


def _ms(seconds: float | None) -> float | None:
    return None if seconds is None else round(seconds * 1000, 2)


@dataclass
class LinkStats:
    """A period's counters and the totals since start."""

    period: LinkCounters = field(default_factory=LinkCounters)
    total: LinkCounters = field(default_factory=LinkCounters)
    period_started: float = 0.0

    def record(self, attempt: Attempt) -> None:
        self.period.record(attempt)
        self.total.counts.update(
            {"requests": 1, _OUTCOME_FIELD[attempt.outcome]: 1, "retries": int(attempt.retry)}
        )
        if attempt.outcome is Outcome.EXCEPTION and attempt.code is not None:
            self.total.exception_codes[attempt.code] += 1
        if attempt.outcome is Outcome.OK:
            self.total.last_latency = attempt.seconds

    def take_period(self, now: float) -> tuple[LinkCounters, float]:
        """The period's counters and its length; the next period starts at ``now``."""
        period, self.period = self.period, LinkCounters()
        length, self.period_started = max(now - self.period_started, 0.0), now
        return period, length

    def totals(self) -> dict[str, Any]:
        out: dict[str, Any] = {name: self.total.counts[name] for name in COUNT_FIELDS}
        out["exception_codes"] = {str(c): n for c, n in sorted(self.total.exception_codes.items())}
        out["latency_last_ms"] = _ms(self.total.last_latency)
        return out


# --- payload ------------------------------------------------------------------------

_MS_FIELDS: Final = ("latency_last_ms", "latency_p50_ms", "latency_p95_ms", "latency_max_ms")
_COMMON: Final[dict[str, str]] = {
    "period_s": "seconds",
    **dict.fromkeys(COUNT_FIELDS, "count"),
    "exception_codes": "codes",
    **dict.fromkeys(_MS_FIELDS, "seconds?"),
}
METER_FIELDS: Final[dict[str, str]] = {
    **_COMMON,
    "unit": "count",
    "status": "status",
    "consecutive_failures": "count",
    "backoff_s": "seconds",
    "next_try_in_s": "seconds?",
    "seconds_since_good_read": "seconds?",
    # a channel of the plant's register file: its name, where it answered, what it said
    "channel": "text?",
    "port": "text?",
    "identifier": "text?",
}
OPTIONAL: Final = frozenset({"channel", "port", "identifier"})  # may be absent
BUS_FIELDS: Final[dict[str, str]] = {
    **_COMMON,
    "cycles": "count",
    "cycle_last_ms": "seconds?",
    "cycle_max_ms": "seconds?",
    "overruns": "count",
    "meters": "count",
    "meters_online": "count",
}
_HEADER: Final = ("v", "ts", "site", "gateway", "bus")


@dataclass(frozen=True, slots=True)
class Diagnostics:
    """One diagnostics message: a meter's (``meter`` set) or a bus's (``meter`` None)."""

    ts: datetime
    site: str
    gateway: str
    bus: str
    meter: str | None
    fields: Mapping[str, Any]

    @property
    def kind(self) -> str:
        return "bus" if self.meter is None else "meter"


def encode(d: Diagnostics) -> bytes:
    doc: dict[str, Any] = {"v": VERSION, "ts": format_ts(d.ts), "site": d.site}
    doc["gateway"] = d.gateway
    doc["bus"] = d.bus
    if d.meter is not None:
        doc["meter"] = d.meter
    doc.update(d.fields)
    _check_fields(doc, METER_FIELDS if d.meter is not None else BUS_FIELDS)
    return json.dumps(doc, separators=(",", ":"), allow_nan=False).encode()


def decode(
    payload: bytes,
    *,
    kind: str,
    topic: tuple[str, ...],
    now: datetime,
    max_future: timedelta = timedelta(minutes=5),
    not_before: datetime | None = None,
    max_bytes: int = 4096,
) -> Diagnostics:
    """Parse and validate a diagnostics payload of ``kind`` ('meter' or 'bus').

    ``topic``: (site, meter) or (site, gateway, bus) of the topic it came on, which the
    payload must match. ``ContractError`` says what is wrong.
    """
    doc = load_object(payload, max_bytes)
    spec = METER_FIELDS if kind == "meter" else BUS_FIELDS
    header = (*_HEADER, "meter") if kind == "meter" else _HEADER
    missing = [k for k in (*header, *spec) if k not in doc and k not in OPTIONAL]
    if missing:
        raise ContractError("missing_field", ", ".join(missing))
    unknown = sorted(set(doc) - set(header) - set(spec))
    if unknown:
        raise ContractError("unknown_field", f"{', '.join(unknown)} (diagnostics v{VERSION})")
    if doc["v"] != VERSION or isinstance(doc["v"], bool):
        raise ContractError("bad_version", f"diagnostics version {doc['v']!r} (this is v{VERSION})")
    ts = parse_ts(doc["ts"])
    if ts > now + max_future:
        raise ContractError("future_ts", f"ts {doc['ts']} is more than {max_future} ahead")
    if not_before is not None and ts < not_before:
        raise ContractError("old_ts", f"ts {doc['ts']} is before {format_ts(not_before)}")
    site = check_name("site", doc["site"])
    gateway = check_name("gateway id", doc["gateway"])
    bus = check_name("bus", doc["bus"])
    meter = check_name("meter", doc["meter"]) if kind == "meter" else None
    where = (site, meter) if meter is not None else (site, gateway, bus)
    if where != topic:
        raise ContractError(
            "topic_mismatch", f"payload is {'/'.join(where)}, topic {'/'.join(topic)}"
        )
    fields = {name: doc[name] for name in spec if name in doc}
    _check_fields(fields, spec)
    return Diagnostics(ts, site, gateway, bus, meter, fields)


def _check_fields(doc: Mapping[str, Any], spec: Mapping[str, str]) -> None:
    for name, kind in spec.items():
        value = doc.get(name)
        if kind.endswith("?") and value is None:
            continue
        if kind == "text?":
            if not isinstance(value, str) or len(value) > 200:
                raise ContractError("bad_type", f"{name} must be a text of at most 200 characters")
        elif kind == "status":
            if value not in METER_STATUSES:
                raise ContractError("bad_value", f"{name} {value!r} not one of {METER_STATUSES}")
        elif kind == "codes":
            if not isinstance(value, dict) or not all(
                _is_code(k) and _is_count(v) for k, v in value.items()
            ):
                raise ContractError(
                    "bad_type", f"{name} must map exception codes (1..255) to counts"
                )
        elif kind == "count":
            if not _is_count(value):
                raise ContractError("bad_type", f"{name} must be a non-negative integer: {value!r}")
        elif not _is_seconds(value):
            raise ContractError("bad_type", f"{name} must be a non-negative number: {value!r}")


def _is_code(key: object) -> bool:
    """A Modbus exception code 1..255 in ASCII digits (``int`` also reads '٣'; '²' raises)."""
    return (
        isinstance(key, str)
        and 0 < len(key) <= 3
        and key.isascii()
        and key.isdigit()
        and 0 < int(key) < 256
    )


def _is_count(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and 0 <= value < 2**53


def _is_seconds(value: object) -> bool:
    """A finite non-negative JSON number; an integer beyond a float's range is not."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return False
    try:
        return math.isfinite(value) and value >= 0
    except OverflowError:
        return False
