"""MQTT contract v1: topics, encoding and every way a payload can be wrong."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

import contract
from contract import ContractError, Reading

pytestmark = pytest.mark.unit

NOW = datetime(2026, 11, 25, 12, 0, 0, tzinfo=UTC)


def _reading(**values: float) -> Reading:
    return Reading("plant", "kron1", NOW, 7, values or {"p_total": 45.5, "e_imp_kwh": 1234.5})


def _payload(**overrides: object) -> bytes:
    doc = json.loads(contract.encode(_reading()))
    doc.update(overrides)
    return json.dumps(doc).encode()


def test_round_trip() -> None:
    r = _reading()
    raw = contract.encode(r)
    assert json.loads(raw) == {
        "v": 1,
        "ts": "2026-11-25T12:00:00.000Z",
        "site": "plant",
        "meter": "kron1",
        "seq": 7,
        "values": {"p_total": 45.5, "e_imp_kwh": 1234.5},
    }
    assert contract.decode(raw, topic=("plant", "kron1"), now=NOW) == r


def test_topics() -> None:
    assert contract.reading_topic("emusa", "plant", "kron1") == "emusa/plant/kron1/reading"
    assert contract.meter_status_topic("emusa", "plant", "kron1") == "emusa/plant/kron1/status"
    assert (
        contract.gateway_status_topic("emusa", "plant", "gw1") == "emusa/plant/gateway/gw1/status"
    )
    assert contract.state_topic("emusa", "p", "m", "freq") == "emusa/p/m/state/freq"
    assert contract.reading_subscription("emusa") == "emusa/+/+/reading"
    assert contract.reading_subscription("emusa", "ingest") == "$share/ingest/emusa/+/+/reading"
    assert contract.parse_reading_topic("a/b/plant/kron1/reading", "a/b") == ("plant", "kron1")
    with pytest.raises(ContractError, match="bad_topic"):
        contract.parse_reading_topic("emusa/plant/kron1/status", "emusa")
    with pytest.raises(ContractError, match="bad_name"):
        contract.parse_reading_topic("emusa/plant/kr#on/reading", "emusa")


def test_offsets_are_normalised_to_utc() -> None:
    r = contract.decode(_payload(ts="2026-11-25T09:00:00-03:00"), now=NOW)
    assert r.ts == NOW


@pytest.mark.parametrize(
    ("payload", "reason"),
    [
        (b"{not json", "bad_json"),
        (b"\xff\xfe", "bad_json"),
        (b"[1, 2]", "bad_json"),
        (b'{"v": 1}', "missing_field"),
        (_payload(v=2), "bad_version"),
        (_payload(v=True), "bad_version"),
        (_payload(ts=1764072000), "bad_ts"),
        (_payload(ts="yesterday"), "bad_ts"),
        (_payload(ts="2026-11-25T12:00:00"), "bad_ts"),
        (_payload(ts="2026-11-25T13:00:00Z"), "future_ts"),
        (_payload(seq=-1), "bad_type"),
        (_payload(seq="7"), "bad_type"),
        (_payload(seq=1.5), "bad_type"),
        (_payload(site="pl ant"), "bad_name"),
        (_payload(meter="other"), "topic_mismatch"),
        (_payload(values={}), "bad_type"),
        (_payload(values=[1, 2]), "bad_type"),
        (_payload(values={"p_total": "45.5"}), "bad_type"),
        (_payload(values={"p_total": None}), "bad_type"),
        (_payload(values={"p_total": True}), "bad_type"),
        (_payload(values={"tensao": 1.0}), "unknown_quantity"),
        (_payload(values={"freq": 600.0}), "implausible"),
        (
            b'{"v":1,"ts":"2026-11-25T12:00:00Z","site":"plant","meter":"kron1","seq":1,"values":{"p_total":NaN}}',
            "not_finite",
        ),
        (
            b'{"v":1,"ts":"2026-11-25T12:00:00Z","site":"plant","meter":"kron1","seq":1,"values":{"p_total":Infinity}}',
            "not_finite",
        ),
        (
            b'{"v":1,"ts":"2026-11-25T12:00:00Z","site":"plant","meter":"kron1","seq":1,"values":{"p_total":1e999}}',
            "not_finite",
        ),
        (b" " * (contract.MAX_PAYLOAD_BYTES + 1), "too_large"),
    ],
)
def test_bad_payloads_name_what_is_wrong(payload: bytes, reason: str) -> None:
    with pytest.raises(ContractError) as exc:
        contract.decode(payload, topic=("plant", "kron1"), now=NOW)
    assert exc.value.reason == reason
    assert exc.value.detail


def test_too_old_is_refused_when_retention_is_given() -> None:
    with pytest.raises(ContractError, match="old_ts"):
        contract.decode(_payload(), now=NOW, not_before=NOW + timedelta(seconds=1))


def test_encode_refuses_what_decode_would_refuse() -> None:
    with pytest.raises(ContractError, match="not_finite"):
        _reading(p_total=float("nan"))
    with pytest.raises(ContractError, match="unknown_quantity"):
        _reading(potencia=1.0)
    with pytest.raises(ContractError, match="bad_ts"):
        Reading("plant", "kron1", datetime(2026, 1, 1), 1, {"p_total": 1.0})
