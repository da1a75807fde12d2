"""Turn one MQTT message into a reading, Modbus diagnostics or a reject record (pure: no
paho, no psycopg).

Everything about what a valid reading is lives in ``gateway.contract`` (diagnostics:
``gateway.diagnostics``); this module only adds the ingestor's policy (retention window,
future tolerance, size limit) and builds the dead letter kept in ``ingest_rejects`` when
the contract refuses a message.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from gateway import diagnostics
from gateway.contract import (
    MAX_PAYLOAD_BYTES,
    ContractError,
    Reading,
    decode,
    parse_diagnostics_topic,
    parse_reading_topic,
)
from gateway.diagnostics import Diagnostics

DIAGNOSTICS_SUFFIX = "/diagnostics"


@dataclass(frozen=True, slots=True)
class Reject:
    """A refused message: reason code, the first bytes of the payload and its real size."""

    topic: str
    reason: str
    detail: str
    payload: bytes
    payload_bytes: int
    truncated: bool


@dataclass(frozen=True, slots=True)
class Policy:
    root: str
    retention: timedelta = timedelta(days=400)
    max_future: timedelta = timedelta(minutes=5)
    max_bytes: int = MAX_PAYLOAD_BYTES
    keep_bytes: int = 4096


def make_reject(topic: str, payload: bytes, reason: str, detail: str, keep_bytes: int) -> Reject:
    kept = payload[:keep_bytes]
    return Reject(topic, reason, detail, kept, len(payload), len(kept) < len(payload))


def validate(
    topic: str, payload: bytes, policy: Policy, now: datetime
) -> Reading | Diagnostics | Reject:
    """The reading (or diagnostics) carried by ``payload`` on ``topic``, or why it is refused."""
    try:
        if topic.endswith(DIAGNOSTICS_SUFFIX):
            kind, names = parse_diagnostics_topic(topic, policy.root)
            return diagnostics.decode(
                payload,
                kind=kind,
                topic=names,
                now=now,
                max_future=policy.max_future,
                not_before=now - policy.retention,
                max_bytes=policy.max_bytes,
            )
        where = parse_reading_topic(topic, policy.root)
        return decode(
            payload,
            topic=where,
            now=now,
            max_future=policy.max_future,
            not_before=now - policy.retention,
            max_bytes=policy.max_bytes,
        )
    except ContractError as exc:
        return make_reject(topic, payload, exc.reason, exc.detail, policy.keep_bytes)
    except RecursionError:
        # json.loads on absurdly nested arrays; the size limit normally stops it first.
        return make_reject(topic, payload, "bad_json", "nesting too deep", policy.keep_bytes)
