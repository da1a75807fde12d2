"""Diagnostics messages through the ingestor's validation: decoded, or a reject with a reason."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from contract import diagnostics as diag
from ingestor.validate import Policy, Reject, validate

pytestmark = pytest.mark.unit

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
POLICY = Policy(root="emusa", retention=timedelta(days=10), keep_bytes=4096)
BUS_TOPIC = "emusa/plant/gateway/gw1/bus/lan/diagnostics"


def _bus(**changes: object) -> bytes:
    fields: dict[str, object] = {
        "period_s": 15.0,
        **dict.fromkeys(diag.COUNT_FIELDS, 1),
        "exception_codes": {"2": 1},
        **dict.fromkeys(("latency_last_ms", "latency_p50_ms", "latency_p95_ms"), 9.5),
        "latency_max_ms": 11.0,
        "cycles": 15,
        "cycle_last_ms": 40.0,
        "cycle_max_ms": 41.0,
        "overruns": 0,
        "meters": 2,
        "meters_online": 2,
    }
    doc = {"v": 1, "ts": "2026-11-25T11:59:59.500Z", "site": "plant", "gateway": "gw1"}
    doc |= {"bus": "lan", **fields, **changes}
    return json.dumps(doc).encode()


def test_bus_diagnostics_are_decoded() -> None:
    out = validate(BUS_TOPIC, _bus(), POLICY, NOW)
    assert isinstance(out, diag.Diagnostics)
    assert (out.kind, out.site, out.gateway, out.bus) == ("bus", "plant", "gw1", "lan")
    assert out.fields["cycles"] == 15 and out.fields["exception_codes"] == {"2": 1}


@pytest.mark.parametrize(
    ("topic", "payload", "reason"),
    [
        (BUS_TOPIC, _bus(cycles=-3), "bad_type"),
        (BUS_TOPIC, _bus(bus="rs485"), "topic_mismatch"),
        (BUS_TOPIC, _bus(ts="2026-11-01T00:00:00Z"), "old_ts"),
        ("emusa/plant/gateway/gw1/diagnostics", _bus(), "bad_topic"),
        ("emusa/plant/kron1/diagnostics", _bus(), "missing_field"),
    ],
)
def test_bad_diagnostics_become_rejects_with_a_reason(
    topic: str, payload: bytes, reason: str
) -> None:
    out = validate(topic, payload, POLICY, NOW)
    assert isinstance(out, Reject)
    assert (out.topic, out.reason, out.payload) == (topic, reason, payload)
