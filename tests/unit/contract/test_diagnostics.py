"""Diagnostics counters, latency summary, payload codec and topics (pure)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

import contract
from contract import ContractError
from contract import diagnostics as diag
from contract.diagnostics import Attempt, LinkStats, Outcome

pytestmark = pytest.mark.unit

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


def test_percentile_is_nearest_rank() -> None:
    values = [float(v) for v in range(1, 101)]
    assert diag.percentile(values, 50) == 50.0
    assert diag.percentile(values, 95) == 95.0
    assert diag.percentile(values, 100) == 100.0
    assert diag.percentile([7.0], 95) == 7.0
    with pytest.raises(ValueError, match="no value"):
        diag.percentile([], 50)


def test_counts_by_outcome_per_period_and_since_start() -> None:
    stats = LinkStats(period_started=100.0)
    for ms in (10, 20, 30, 40):
        stats.record(Attempt(1, Outcome.OK, ms / 1000))
    stats.record(Attempt(1, Outcome.TIMEOUT, 0.5))
    stats.record(Attempt(1, Outcome.TIMEOUT, 0.5, retry=True))
    stats.record(Attempt(1, Outcome.CRC, 0.5, retry=True))
    stats.record(Attempt(1, Outcome.EXCEPTION, 0.01, code=2))
    stats.record(Attempt(1, Outcome.EXCEPTION, 0.01, code=2))
    stats.record(Attempt(1, Outcome.EXCEPTION, 0.01, code=6))
    stats.record(Attempt(1, Outcome.CONNECT, 1.0))
    stats.record(Attempt(1, Outcome.INVALID, 0.02))
    period, length = stats.take_period(115.0)
    s = period.summary()
    assert length == 15.0
    assert (s["requests"], s["successes"], s["timeouts"], s["crc_errors"]) == (12, 4, 2, 1)
    assert (s["exceptions"], s["connect_errors"], s["invalid"], s["retries"]) == (3, 1, 1, 2)
    assert s["exception_codes"] == {"2": 2, "6": 1}
    assert (s["latency_p50_ms"], s["latency_p95_ms"], s["latency_max_ms"]) == (20.0, 40.0, 40.0)
    assert s["latency_last_ms"] == 40.0, "latency counts successful frames only"
    stats.record(Attempt(1, Outcome.TIMEOUT, 0.5))
    nxt, length = stats.take_period(130.0)
    assert length == 15.0
    assert nxt.summary()["requests"] == 1
    assert nxt.summary()["latency_p95_ms"] is None
    totals = stats.totals()
    assert (totals["requests"], totals["timeouts"], totals["retries"]) == (13, 3, 2)
    assert totals["exception_codes"] == {"2": 2, "6": 1}
    assert totals["latency_last_ms"] == 40.0


def _meter_fields(**changes: Any) -> dict[str, Any]:
    fields: dict[str, Any] = {
        "period_s": 15.0,
        **dict.fromkeys(diag.COUNT_FIELDS, 0),
        "exception_codes": {},
        "latency_last_ms": 12.5,
        "latency_p50_ms": 12.0,
        "latency_p95_ms": 14.0,
        "latency_max_ms": 15.0,
        "unit": 3,
        "status": "online",
        "consecutive_failures": 0,
        "backoff_s": 0.0,
        "next_try_in_s": None,
        "seconds_since_good_read": 0.4,
    }
    fields.update(changes)
    return fields


def test_meter_payload_round_trips() -> None:
    d = diag.Diagnostics(NOW, "plant", "gw1", "rs485a", "kron1", _meter_fields(requests=30))
    payload = diag.encode(d)
    doc = json.loads(payload)
    assert doc["v"] == 1 and doc["ts"] == "2026-11-25T12:00:00.000Z" and doc["requests"] == 30
    assert diag.decode(payload, kind="meter", topic=("plant", "kron1"), now=NOW) == d


def _bad(**changes: Any) -> bytes:
    doc = {"v": 1, "ts": "2026-11-25T12:00:00Z", "site": "plant", "gateway": "gw1"}
    doc |= {"bus": "rs485a", "meter": "kron1", **_meter_fields()}
    doc.update(changes)
    return json.dumps({k: v for k, v in doc.items() if v != "DROP"}).encode()


@pytest.mark.parametrize(
    ("payload", "reason", "detail"),
    [
        (_bad(timeouts=-1), "bad_type", "timeouts must be a non-negative integer"),
        (_bad(timeouts=1.5), "bad_type", "timeouts"),
        (_bad(latency_p95_ms="fast"), "bad_type", "latency_p95_ms"),
        (_bad(status="sleeping"), "bad_value", "status 'sleeping'"),
        (_bad(exception_codes={"x": 1}), "bad_type", "exception_codes"),
        (_bad(retries="DROP"), "missing_field", "retries"),
        (_bad(extra=1), "unknown_field", "extra"),
        (_bad(v=2), "bad_version", "2"),
        (_bad(meter="pac1"), "topic_mismatch", "plant/pac1"),
        (_bad(ts="2026-11-25T12:10:00Z"), "future_ts", "ahead"),
        (b"NaN", "not_finite", "NaN"),
        (b"[]", "bad_json", "list"),
    ],
)
def test_bad_meter_payloads_say_what_is_wrong(payload: bytes, reason: str, detail: str) -> None:
    with pytest.raises(ContractError) as exc:
        diag.decode(payload, kind="meter", topic=("plant", "kron1"), now=NOW)
    assert exc.value.reason == reason
    assert detail in exc.value.detail


def test_bus_payload_needs_the_bus_fields() -> None:
    d = diag.Diagnostics(
        NOW - timedelta(seconds=1),
        "plant",
        "gw1",
        "rs485a",
        None,
        {
            **{k: v for k, v in _meter_fields().items() if k in diag.BUS_FIELDS},
            "cycles": 15,
            "cycle_last_ms": 80.0,
            "cycle_max_ms": 95.5,
            "overruns": 0,
            "meters": 2,
            "meters_online": 1,
        },
    )
    payload = diag.encode(d)
    assert "meter" not in json.loads(payload)
    assert diag.decode(payload, kind="bus", topic=("plant", "gw1", "rs485a"), now=NOW) == d
    with pytest.raises(ContractError, match=r"missing_field: .*cycles"):
        diag.decode(_bad(meter="DROP"), kind="bus", topic=("plant", "gw1", "rs485a"), now=NOW)


def test_diagnostics_topics_parse_back() -> None:
    meter = contract.meter_diagnostics_topic("emusa", "plant", "kron1")
    bus = contract.bus_diagnostics_topic("emusa", "plant", "gw1", "rs485a")
    assert bus == "emusa/plant/gateway/gw1/bus/rs485a/diagnostics"
    assert contract.parse_diagnostics_topic(meter, "emusa") == ("meter", ("plant", "kron1"))
    assert contract.parse_diagnostics_topic(bus, "emusa") == ("bus", ("plant", "gw1", "rs485a"))
    with pytest.raises(ContractError, match="bad_topic"):
        contract.parse_diagnostics_topic("emusa/plant/kron1/reading", "emusa")
    assert contract.diagnostics_subscriptions("emusa", "ing") == [
        "$share/ing/emusa/+/+/diagnostics",
        "$share/ing/emusa/+/gateway/+/bus/+/diagnostics",
    ]
