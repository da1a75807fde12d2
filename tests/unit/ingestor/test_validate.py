"""Validation policy and dead-letter records (the contract itself is tested in gateway)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

import contract
from contract import Reading
from ingestor.validate import Policy, Reject, make_reject, validate

pytestmark = pytest.mark.unit

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
POLICY = Policy(root="emusa", retention=timedelta(days=10), keep_bytes=16)
TOPIC = "emusa/plant/kron1/reading"


def _payload(ts: datetime = NOW, **values: float) -> bytes:
    return contract.encode(Reading("plant", "kron1", ts, 3, values or {"p_total": 1.5}))


def test_good_message_gives_the_reading() -> None:
    out = validate(TOPIC, _payload(), POLICY, NOW)
    assert out == Reading("plant", "kron1", NOW, 3, {"p_total": 1.5})


@pytest.mark.parametrize(
    ("topic", "payload", "reason"),
    [
        ("emusa/plant/kron1/status", _payload(), "bad_topic"),
        ("other/plant/kron1/reading", _payload(), "bad_topic"),
        ("emusa/plant/kron2/reading", _payload(), "topic_mismatch"),
        (TOPIC, _payload(NOW - timedelta(days=11)), "old_ts"),
        (TOPIC, _payload(NOW + timedelta(minutes=6)), "future_ts"),
        (TOPIC, b"[" * 100_000, "too_large"),
        (TOPIC, b"\x00\x01", "bad_json"),
        (TOPIC, json.dumps({"v": 1}).encode(), "missing_field"),
    ],
)
def test_refusals_carry_the_contract_reason(topic: str, payload: bytes, reason: str) -> None:
    out = validate(topic, payload, POLICY, NOW)
    assert isinstance(out, Reject)
    assert (out.topic, out.reason) == (topic, reason)
    assert out.detail


def test_deeply_nested_json_under_the_size_limit_is_a_reject() -> None:
    policy = Policy(root="emusa", max_bytes=1_000_000)
    out = validate(TOPIC, b"[" * 200_000, policy, NOW)
    assert isinstance(out, Reject)
    assert out.reason == "bad_json"


def test_retention_window_moves_with_now() -> None:
    old = _payload(NOW - timedelta(days=9))
    assert isinstance(validate(TOPIC, old, POLICY, NOW), Reading)
    assert isinstance(validate(TOPIC, old, POLICY, NOW + timedelta(days=2)), Reject)


def test_reject_keeps_a_prefix_and_the_real_size() -> None:
    r = make_reject("t", b"0123456789" * 3, "too_large", "d", keep_bytes=16)
    assert (r.payload, r.payload_bytes, r.truncated) == (b"0123456789012345", 30, True)
    small = make_reject("t", b"{}", "bad_json", "d", keep_bytes=16)
    assert (small.payload, small.payload_bytes, small.truncated) == (b"{}", 2, False)
