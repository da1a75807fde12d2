"""MQTT message contract v1: topics and the reading payload, defined once.

The gateway encodes with it, the ingestor (and anyone else in Python) decodes with it;
nothing else spells a topic or a payload field. Pure module: no network imports.

Reading payload (QoS 1, not retained) on ``<root>/<site>/<meter>/reading``::

    {"v": 1, "ts": "2026-11-25T12:00:00.250Z", "site": "plant", "meter": "kron1",
     "seq": 42, "values": {"v_l1n": 127.1, "p_total": 45.2, "e_imp_kwh": 10234.5}}

``ts`` is the poll time in UTC (RFC 3339), ``seq`` the gateway's per-meter counter,
``values`` canonical quantities (contract/quantities.py) as finite JSON numbers. A
quantity the meter does not have, or whose value was dropped as implausible, is absent.

Modbus diagnostics (retained, QoS 1) go to ``<root>/<site>/<meter>/diagnostics`` and
``<root>/<site>/gateway/<id>/bus/<bus>/diagnostics``; their payload is defined in
contract/diagnostics.py. Each meter's metadata (map, channel, identifier, port, the plant
file's names and descriptions of its registers; retained, QoS 1) goes to
``<root>/<site>/<meter>/info``; its payload is defined in contract/meterinfo.py.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Final

from contract.errors import ContractError
from contract.quantities import QUANTITIES

VERSION: Final = 1
DEFAULT_ROOT: Final = "emusa"
MAX_PAYLOAD_BYTES: Final = 16 * 1024
STATUS_ONLINE: Final = "online"
STATUS_UNREACHABLE: Final = "unreachable"
STATUS_OFFLINE: Final = "offline"

# Checked with fullmatch: "$" alone also matches before a trailing newline ("bad1\n").
_NAME_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")
_ROOT_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}(/[A-Za-z0-9][A-Za-z0-9_.-]{0,63})*")


def check_name(kind: str, value: str) -> str:
    """A site, meter or gateway id usable as one topic level (and as a database name)."""
    if not isinstance(value, str) or not _NAME_RE.fullmatch(value):
        raise ContractError(
            "bad_name",
            f"{kind} {value!r} must be 1-64 characters of letters, digits, '_', '.', '-',"
            " starting with a letter or digit",
        )
    return value


def check_root(root: str) -> str:
    if not isinstance(root, str) or not _ROOT_RE.fullmatch(root):
        raise ContractError("bad_name", f"topic root {root!r} must be levels of [A-Za-z0-9_.-]")
    return root


# --- topics ---------------------------------------------------------------------------


def reading_topic(root: str, site: str, meter: str) -> str:
    return f"{root}/{site}/{meter}/reading"


def meter_status_topic(root: str, site: str, meter: str) -> str:
    return f"{root}/{site}/{meter}/status"


def gateway_status_topic(root: str, site: str, gateway_id: str) -> str:
    return f"{root}/{site}/gateway/{gateway_id}/status"


def state_topic(root: str, site: str, meter: str, quantity: str) -> str:
    return f"{root}/{site}/{meter}/state/{quantity}"


def alerts_topic(root: str, site: str) -> str:
    return f"{root}/{site}/alerts"


def summaries_topic(root: str, site: str) -> str:
    return f"{root}/{site}/summaries"


def meter_diagnostics_topic(root: str, site: str, meter: str) -> str:
    """Retained Modbus diagnostics of one meter (contract/diagnostics.py)."""
    return f"{root}/{site}/{meter}/diagnostics"


def bus_diagnostics_topic(root: str, site: str, gateway_id: str, bus: str) -> str:
    """Retained Modbus diagnostics of one bus of a gateway (contract/diagnostics.py)."""
    return f"{root}/{site}/gateway/{gateway_id}/bus/{bus}/diagnostics"


def meter_info_topic(root: str, site: str, meter: str) -> str:
    """Retained metadata of one meter: map, channel, identifier, port, registers
    (payload: contract/meterinfo.py)."""
    return f"{root}/{site}/{meter}/info"


def meter_info_subscription(root: str, shared_group: str | None = None) -> str:
    """Filter matching every meter's info topic (shared when a group is given)."""
    topic = f"{root}/+/+/info"
    return f"$share/{check_name('shared group', shared_group)}/{topic}" if shared_group else topic


def parse_meter_info_topic(topic: str, root: str) -> tuple[str, str]:
    """(site, meter) of an info topic under ``root``."""
    prefix = f"{root}/"
    rest = topic[len(prefix) :].split("/") if topic.startswith(prefix) else []
    if len(rest) != 3 or rest[2] != "info":
        raise ContractError("bad_topic", f"{topic!r} is not {root}/<site>/<meter>/info")
    return check_name("site", rest[0]), check_name("meter", rest[1])


def diagnostics_subscriptions(root: str, shared_group: str | None = None) -> list[str]:
    """Filters matching every meter and every bus diagnostics topic."""
    topics = [f"{root}/+/+/diagnostics", f"{root}/+/gateway/+/bus/+/diagnostics"]
    if shared_group:
        group = check_name("shared group", shared_group)
        return [f"$share/{group}/{t}" for t in topics]
    return topics


def parse_diagnostics_topic(topic: str, root: str) -> tuple[str, tuple[str, ...]]:
    """('meter', (site, meter)) or ('bus', (site, gateway, bus)) of a diagnostics topic."""
    prefix = f"{root}/"
    rest = topic[len(prefix) :].split("/") if topic.startswith(prefix) else []
    if len(rest) == 3 and rest[2] == "diagnostics":
        return "meter", (check_name("site", rest[0]), check_name("meter", rest[1]))
    if len(rest) == 6 and rest[1] == "gateway" and rest[3] == "bus" and rest[5] == "diagnostics":
        names = (
            check_name("site", rest[0]),
            check_name("gateway id", rest[2]),
            check_name("bus", rest[4]),
        )
        return "bus", names
    raise ContractError(
        "bad_topic",
        f"{topic!r} is neither {root}/<site>/<meter>/diagnostics nor"
        f" {root}/<site>/gateway/<id>/bus/<bus>/diagnostics",
    )


def reading_subscription(root: str, shared_group: str | None = None) -> str:
    """Filter matching every reading; an MQTT v5 shared subscription when a group is given."""
    topic = f"{root}/+/+/reading"
    return f"$share/{check_name('shared group', shared_group)}/{topic}" if shared_group else topic


def parse_reading_topic(topic: str, root: str) -> tuple[str, str]:
    """(site, meter) of a reading topic under ``root``."""
    prefix = f"{root}/"
    rest = topic[len(prefix) :].split("/") if topic.startswith(prefix) else []
    if len(rest) != 3 or rest[2] != "reading":
        raise ContractError("bad_topic", f"{topic!r} is not {root}/<site>/<meter>/reading")
    return check_name("site", rest[0]), check_name("meter", rest[1])


def demand_projection_topic(root: str, site: str) -> str:
    """Retained live projection of the running 15-minute demand interval (analytics)."""
    return f"{root}/{site}/demand/projection"


# --- readings -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Reading:
    site: str
    meter: str
    ts: datetime
    seq: int
    values: Mapping[str, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        check_name("site", self.site)
        check_name("meter", self.meter)
        if self.ts.tzinfo is None:
            raise ContractError("bad_ts", "ts must be timezone-aware")
        for name, value in self.values.items():
            _check_value(name, value)


def _checked_reading(
    site: str, meter: str, ts: datetime, seq: int, values: Mapping[str, float]
) -> Reading:
    """A ``Reading`` of parts :func:`decode_object` has just checked, without checking them
    a second time in ``__post_init__`` (half the cost of decoding a full reading)."""
    reading = object.__new__(Reading)
    for name, value in (("site", site), ("meter", meter), ("ts", ts), ("seq", seq)):
        object.__setattr__(reading, name, value)
    object.__setattr__(reading, "values", values)
    return reading


def format_ts(ts: datetime) -> str:
    """RFC 3339 in UTC with milliseconds and a ``Z``."""
    return ts.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def encode(reading: Reading) -> bytes:
    return json.dumps(
        {
            "v": VERSION,
            "ts": format_ts(reading.ts),
            "site": reading.site,
            "meter": reading.meter,
            "seq": reading.seq,
            "values": dict(reading.values),
        },
        separators=(",", ":"),
        allow_nan=False,
    ).encode()


def _reject_constant(name: str) -> float:
    raise ContractError("not_finite", f"{name} is not a JSON number")


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    doc = dict(pairs)
    if len(doc) < len(pairs):
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                raise ContractError("duplicate_key", f"key {key!r} appears twice in an object")
            seen.add(key)
    return doc


def load_object(payload: bytes, max_bytes: int) -> dict[str, Any]:
    """The JSON object of a payload; ``ContractError`` says why not.

    Refused: NaN/Infinity, a key twice in one object (JSON would keep the last one), and
    integer literals longer than Python converts (``sys.get_int_max_str_digits``).
    """
    if len(payload) > max_bytes:
        raise ContractError("too_large", f"payload of {len(payload)} bytes exceeds {max_bytes}")
    try:
        doc: Any = json.loads(
            payload, parse_constant=_reject_constant, object_pairs_hook=_unique_keys
        )
    except ContractError:
        raise
    except ValueError as exc:  # JSONDecodeError, UnicodeDecodeError, int literal too long
        raise ContractError("bad_json", str(exc)) from None
    if not isinstance(doc, dict):
        raise ContractError("bad_json", f"payload is a JSON {type(doc).__name__}, not an object")
    return doc


def _check_value(name: str, value: object) -> float:
    quantity = QUANTITIES.get(name)
    if quantity is None:
        raise ContractError("unknown_quantity", f"values.{name} is not a canonical quantity")
    if type(value) is float and quantity.low <= value <= quantity.high:
        return value  # the usual case in one test: NaN and infinities fail the finite range
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ContractError(
            "bad_type", f"values.{name} must be a number, got {type(value).__name__}"
        )
    try:
        number = float(value)
    except OverflowError:
        raise ContractError(
            "implausible",
            f"values.{name} is an integer too large for a float, outside"
            f" [{quantity.low}, {quantity.high}] {quantity.unit}",
        ) from None
    if not math.isfinite(number):
        raise ContractError("not_finite", f"values.{name} is {number}")
    if not quantity.is_plausible(number):
        raise ContractError(
            "implausible",
            f"values.{name} = {number} outside [{quantity.low}, {quantity.high}] {quantity.unit}",
        )
    return number


def decode(
    payload: bytes,
    *,
    topic: tuple[str, str] | None = None,
    now: datetime | None = None,
    max_future: timedelta = timedelta(minutes=5),
    not_before: datetime | None = None,
    max_bytes: int = MAX_PAYLOAD_BYTES,
) -> Reading:
    """Parse and validate a reading payload; ``ContractError`` says what is wrong.

    ``topic``: the (site, meter) of the topic it came on, which the payload must match.
    ``now``/``max_future``: refuse readings stamped in the future (a wrong gateway clock).
    ``not_before``: refuse readings older than the raw-data retention.
    """
    doc = load_object(payload, max_bytes)
    return decode_object(doc, topic=topic, now=now, max_future=max_future, not_before=not_before)


def decode_object(
    doc: Mapping[str, Any],
    *,
    topic: tuple[str, str] | None = None,
    now: datetime | None = None,
    max_future: timedelta = timedelta(minutes=5),
    not_before: datetime | None = None,
) -> Reading:
    """Validate a reading payload already parsed into its JSON object (as :func:`decode`).

    For producers that hold the document rather than its bytes (``import-legacy`` builds
    one per row of the old app's table); every check and reason is :func:`decode`'s.
    """
    missing = [k for k in ("v", "ts", "site", "meter", "seq", "values") if k not in doc]
    if missing:
        raise ContractError("missing_field", ", ".join(missing))
    if doc["v"] != VERSION or isinstance(doc["v"], bool):
        raise ContractError("bad_version", f"contract version {doc['v']!r} (this is v{VERSION})")
    ts = parse_ts(doc["ts"])
    now = now or datetime.now(UTC)
    if ts > now + max_future:
        raise ContractError("future_ts", f"ts {doc['ts']} is more than {max_future} ahead")
    if not_before is not None and ts < not_before:
        raise ContractError("old_ts", f"ts {doc['ts']} is before {format_ts(not_before)}")
    seq = doc["seq"]
    if isinstance(seq, bool) or not isinstance(seq, int) or not 0 <= seq < 2**63:
        raise ContractError("bad_type", f"seq must be a non-negative integer, got {seq!r}")
    site = check_name("site", doc["site"])
    meter = check_name("meter", doc["meter"])
    if topic is not None and (site, meter) != topic:
        raise ContractError(
            "topic_mismatch", f"payload is {site}/{meter}, topic {topic[0]}/{topic[1]}"
        )
    values = doc["values"]
    if not isinstance(values, dict) or not values:
        raise ContractError("bad_type", "values must be a non-empty object")
    checked = {str(k): _check_value(str(k), v) for k, v in values.items()}
    return _checked_reading(site, meter, ts, seq, checked)


def parse_ts(value: object) -> datetime:
    """An RFC 3339 timestamp with an offset, as UTC; ``ContractError`` otherwise."""
    if not isinstance(value, str):
        raise ContractError("bad_ts", f"ts must be an RFC 3339 string, got {type(value).__name__}")
    try:
        ts = datetime.fromisoformat(value)
    except ValueError:
        raise ContractError("bad_ts", f"ts {value!r} is not RFC 3339") from None
    if ts.tzinfo is None:
        raise ContractError("bad_ts", f"ts {value!r} has no UTC offset")
    try:
        return ts.astimezone(UTC)
    except OverflowError:  # year 1 or 9999 with an offset
        raise ContractError("bad_ts", f"ts {value!r} is outside years 1-9999 in UTC") from None
