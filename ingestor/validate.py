"""Turn one MQTT message into a reading, Modbus diagnostics, a meter's info or a reject
record (pure: no paho, no psycopg).

Everything about what a valid reading is lives in ``contract`` (diagnostics:
``contract.diagnostics``, meter info: ``contract.meterinfo``); this module only adds the ingestor's policy (retention window,
future tolerance, size limit) and builds the dead letter kept in ``ingest_rejects`` when
the contract refuses a message.

:func:`validate` never raises: a payload the contract cannot make sense of in a way it
did not foresee (a Python error rather than a ``ContractError``) is refused as
``unparseable`` and logged with its topic, so no message can stop the service.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from contract import (
    MAX_PAYLOAD_BYTES,
    ContractError,
    Reading,
    decode,
    decode_object,
    diagnostics,
    meterinfo,
    parse_diagnostics_topic,
    parse_meter_info_topic,
    parse_reading_topic,
)
from contract.diagnostics import Diagnostics
from contract.meterinfo import MeterInfo

log = logging.getLogger(__name__)

DIAGNOSTICS_SUFFIX = "/diagnostics"
INFO_SUFFIX = "/info"
UNPARSEABLE = "unparseable"


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
) -> Reading | Diagnostics | MeterInfo | Reject:
    """The reading (diagnostics, meter info) carried by ``payload`` on ``topic``, or why it
    is refused."""
    try:
        if topic.endswith(INFO_SUFFIX):
            return meterinfo.decode(payload, topic=parse_meter_info_topic(topic, policy.root))
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
    except Exception as exc:  # a case the contract did not foresee: refuse, never crash
        return unparseable(topic, payload, exc, policy.keep_bytes)


def validate_document(
    topic: str, doc: Mapping[str, Any], policy: Policy, now: datetime
) -> Reading | Reject:
    """As :func:`validate` for a reading payload already in its JSON object form.

    ``emusa-ingestor import-legacy`` builds one per row of the old app's table: the same
    checks and reject reasons as a live reading, without a JSON round trip per row. A
    refused document is dead-lettered as its JSON text (NaN and infinities written out).
    """
    try:
        where = parse_reading_topic(topic, policy.root)
        return decode_object(
            doc,
            topic=where,
            now=now,
            max_future=policy.max_future,
            not_before=now - policy.retention,
        )
    except ContractError as exc:
        return make_reject(topic, _document_bytes(doc), exc.reason, exc.detail, policy.keep_bytes)
    except Exception as exc:  # as validate(): refuse, never crash
        return unparseable(topic, _document_bytes(doc), exc, policy.keep_bytes)


def _document_bytes(doc: Mapping[str, Any]) -> bytes:
    return json.dumps(doc, separators=(",", ":"), default=str).encode()


def unparseable(topic: str, payload: bytes, exc: Exception, keep_bytes: int) -> Reject:
    """The reject of a message whose handling raised ``exc``, logged with its topic."""
    detail = f"{type(exc).__name__}: {exc}"
    log.error(
        "unexpected error on a message on %s (%d bytes), refused as %s: %s",
        topic,
        len(payload),
        UNPARSEABLE,
        detail,
        exc_info=exc,
        extra={"action": "reject", "topic": topic, "reason": UNPARSEABLE},
    )
    return make_reject(topic, payload, UNPARSEABLE, detail, keep_bytes)
