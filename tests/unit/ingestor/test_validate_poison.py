"""Payloads that once crashed the ingestor (issue 13): each is a reject with an exact reason.

Python's own errors (OverflowError, ValueError from json or int()) used to escape the
validator, stop the service and make the broker redeliver the same message after every
restart. These are the known triggers; test_validate_properties.py looks for unknown ones.
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime, timedelta

import pytest

from contract import Reading
from contract import diagnostics as diag
from ingestor.validate import Policy, Reject, validate

pytestmark = pytest.mark.unit

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
POLICY = Policy(root="emusa", retention=timedelta(days=10), keep_bytes=4096)
TOPIC = "emusa/plant/kron1/reading"
BUS_TOPIC = "emusa/plant/gateway/gw1/bus/lan/diagnostics"
METER_TOPIC = "emusa/plant/kron1/diagnostics"
HUGE_LITERAL = "9" * 5000  # json.loads raises ValueError beyond 4,300 digits


def _reading(**changes: object) -> dict[str, object]:
    doc: dict[str, object] = {"v": 1, "ts": "2026-11-25T11:59:59.000Z", "site": "plant"}
    doc |= {"meter": "kron1", "seq": 3, "values": {"p_total": 1.5}}
    return doc | changes


def _diag(kind: str = "bus", **changes: object) -> dict[str, object]:
    spec = diag.BUS_FIELDS if kind == "bus" else diag.METER_FIELDS
    fields: dict[str, object] = {}
    for name, k in spec.items():
        fields[name] = {"count": 1, "codes": {"2": 1}, "status": "online", "text?": "x"}.get(k, 9.5)
    doc: dict[str, object] = {"v": 1, "ts": "2026-11-25T11:59:59.500Z", "site": "plant"}
    doc |= {"gateway": "gw1", "bus": "lan", **fields}
    if kind == "meter":
        doc["meter"] = "kron1"
    return doc | changes


def _raw(doc: dict[str, object], **literals: str) -> bytes:
    """JSON of ``doc`` with the value of each named key replaced by a raw literal."""
    text = json.dumps({k: (f"@{k}@" if k in literals else v) for k, v in doc.items()})
    for key, literal in literals.items():
        text = text.replace(f'"@{key}@"', literal)
    return text.encode()


def _reject(topic: str, payload: bytes, policy: Policy = POLICY) -> Reject:
    out = validate(topic, payload, policy, NOW)
    assert isinstance(out, Reject), out
    assert out.topic == topic
    assert out.payload == payload[: policy.keep_bytes]
    return out


def test_the_templates_are_valid() -> None:
    assert isinstance(validate(TOPIC, json.dumps(_reading()).encode(), POLICY, NOW), Reading)
    for topic, kind in ((BUS_TOPIC, "bus"), (METER_TOPIC, "meter")):
        out = validate(topic, json.dumps(_diag(kind)).encode(), POLICY, NOW)
        assert isinstance(out, diag.Diagnostics)


@pytest.mark.parametrize(
    ("payload", "reason", "named"),
    [
        # an integer too large for a float (float() raises OverflowError)
        (_raw(_reading(), values='{"p_total": 1' + "0" * 400 + "}"), "implausible", "p_total"),
        (_raw(_reading(), values='{"e_imp_kwh": -' + "9" * 400 + "}"), "implausible", "e_imp_kwh"),
        # integer literals beyond Python's 4,300-digit limit, anywhere in the document
        (_raw(_reading(), values='{"p_total": ' + HUGE_LITERAL + "}"), "bad_json", "4300"),
        (_raw(_reading(), seq=HUGE_LITERAL), "bad_json", "4300"),
        (_raw(_reading(), v="-" + HUGE_LITERAL), "bad_json", "4300"),
        # an offset that moves the instant off the calendar on conversion to UTC
        (_raw(_reading(ts='"0001-01-01T00:00:00+01:00"')), "bad_ts", "0001-01-01"),
        (_raw(_reading(ts='"9999-12-31T23:59:59-00:01"')), "bad_ts", "9999-12-31"),
        (_raw(_reading(ts='"\uff12\uff10\uff12\uff16-11-25T11:59:59Z"')), "bad_ts", "ts"),
        # not numbers in JSON, and a float literal that overflows to infinity
        (_raw(_reading(), values='{"p_total": NaN}'), "not_finite", "NaN"),
        (_raw(_reading(), values='{"p_total": -Infinity}'), "not_finite", "-Infinity"),
        (_raw(_reading(), values='{"p_total": 1e999}'), "not_finite", "p_total"),
        (_raw(_reading(), seq="1e999"), "bad_type", "seq"),
        (_raw(_reading(), seq="1" + "0" * 400), "bad_type", "seq"),
        # the same key twice: refused, not last-wins
        (
            b'{"v":1,"ts":"2026-11-25T11:59:59Z","site":"plant","meter":"kron1","meter":"x",'
            b'"seq":3,"values":{"p_total":1.5}}',
            "duplicate_key",
            "'meter'",
        ),
        (
            b'{"v":1,"ts":"2026-11-25T11:59:59Z","site":"plant","meter":"kron1","seq":3,'
            b'"values":{"p_total":1.5,"p_total":2e9}}',
            "duplicate_key",
            "'p_total'",
        ),
    ],
    ids=[
        "int_too_large_for_float",
        "negative_int_too_large",
        "int_literal_over_4300_digits_in_values",
        "int_literal_over_4300_digits_in_seq",
        "int_literal_over_4300_digits_in_v",
        "ts_year_1_with_offset",
        "ts_year_9999_with_offset",
        "ts_non_ascii_digits",
        "nan",
        "minus_infinity",
        "float_literal_overflow",
        "seq_infinite",
        "seq_huge",
        "duplicate_top_level_key",
        "duplicate_quantity",
    ],
)
def test_reading_poison_is_a_reject_with_its_reason(
    payload: bytes, reason: str, named: str
) -> None:
    out = _reject(TOPIC, payload)
    assert out.reason == reason
    assert named in out.detail


@pytest.mark.parametrize(
    ("topic", "payload", "reason", "named"),
    [
        (BUS_TOPIC, _raw(_diag(), exception_codes='{"\u00b2": 1}'), "bad_type", "exception_codes"),
        (BUS_TOPIC, _raw(_diag(), exception_codes='{"\u0663": 1}'), "bad_type", "exception_codes"),
        (
            BUS_TOPIC,
            _raw(_diag(), exception_codes='{"' + "1" * 4400 + '": 1}'),
            "bad_type",
            "exception_codes",
        ),
        (BUS_TOPIC, _raw(_diag(), period_s="1" + "0" * 400), "bad_type", "period_s"),
        (BUS_TOPIC, _raw(_diag(), cycle_max_ms="1" + "0" * 400), "bad_type", "cycle_max_ms"),
        (METER_TOPIC, _raw(_diag("meter"), backoff_s="1" + "0" * 400), "bad_type", "backoff_s"),
        (
            METER_TOPIC,
            _raw(_diag("meter"), next_try_in_s="-" + "1" * 400),
            "bad_type",
            "next_try_in_s",
        ),
        (METER_TOPIC, _raw(_diag("meter"), unit=HUGE_LITERAL), "bad_json", "4300"),
        (BUS_TOPIC, _raw(_diag(ts='"9999-12-31T23:30:00-01:00"')), "bad_ts", "9999-12-31"),
        (BUS_TOPIC, _raw(_diag(), period_s="Infinity"), "not_finite", "Infinity"),
        (
            BUS_TOPIC,
            _raw(_diag(), exception_codes='{"2": 1, "2": 7}'),
            "duplicate_key",
            "'2'",
        ),
        (
            BUS_TOPIC,
            json.dumps(_diag()).encode().replace(b'"cycles": 1', b'"cycles": 1, "cycles": 2'),
            "duplicate_key",
            "'cycles'",
        ),
    ],
    ids=[
        "superscript_digit_code",
        "arabic_indic_digit_code",
        "code_with_4400_digits",
        "huge_int_seconds",
        "huge_int_ms",
        "huge_int_backoff",
        "huge_negative_next_try",
        "int_literal_over_4300_digits",
        "ts_year_9999_with_offset",
        "infinity",
        "duplicate_code",
        "duplicate_field",
    ],
)
def test_diagnostics_poison_is_a_reject_with_its_reason(
    topic: str, payload: bytes, reason: str, named: str
) -> None:
    out = _reject(topic, payload)
    assert out.reason == reason
    assert named in out.detail


def test_any_other_failure_is_an_unparseable_reject_logged_with_the_topic(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The last-resort catch: here the retention window itself falls off the calendar."""
    payload = json.dumps(_reading()).encode()
    edge = datetime(1, 1, 2, tzinfo=UTC)
    with caplog.at_level(logging.ERROR, logger="ingestor.validate"):
        out = validate(TOPIC, payload, Policy(root="emusa"), edge)
    assert isinstance(out, Reject)
    assert (out.topic, out.reason, out.payload) == (TOPIC, "unparseable", payload)
    assert out.detail.startswith("OverflowError: ")
    [record] = caplog.records
    assert TOPIC in record.getMessage()
    assert getattr(record, "topic", None) == TOPIC


@pytest.mark.parametrize(
    ("topic", "meter"),
    [
        ("emusa/plant/kron1\n/reading", "kron1\n"),
        ("emusa/plant\n/kron1/reading", "kron1"),
    ],
)
def test_a_name_with_a_trailing_newline_is_refused(topic: str, meter: str) -> None:
    out = _reject(topic, json.dumps(_reading(meter=meter)).encode())
    assert out.reason == "bad_name"
    assert "\\n" in out.detail
