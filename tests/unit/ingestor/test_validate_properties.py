"""Property tests: whatever arrives on a topic, validation accepts it or says why not.

The ingestor validates every MQTT message with ``ingestor.validate.validate``; an
exception there once stopped the service in a crash loop (issue 13). Fed arbitrary JSON
documents (written as text, so huge integer literals, NaN, duplicate keys and any Unicode
occur), arbitrary bytes and near-valid readings and diagnostics with mutated fields, it
must return a decoded message or a reject whose reason is one the contract foresaw: a
reject ``unparseable`` (the last-resort catch) means a case no check handles yet.

Examples are derandomized (the ``ci`` profile in tests/conftest.py);
``HYPOTHESIS_PROFILE=explore`` searches further with random examples.
"""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import contract
from contract import Reading
from contract import diagnostics as diag
from contract.quantities import QUANTITIES
from ingestor.validate import UNPARSEABLE, Policy, Reject, validate

pytestmark = pytest.mark.unit

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
POLICY = Policy(root="emusa", retention=timedelta(days=400), max_bytes=64 * 1024)
READING_TOPIC = "emusa/plant/kron1/reading"
METER_TOPIC = "emusa/plant/kron1/diagnostics"
BUS_TOPIC = "emusa/plant/gateway/gw1/bus/lan/diagnostics"
TOPICS = (READING_TOPIC, METER_TOPIC, BUS_TOPIC)

# --- JSON as text ------------------------------------------------------------------------

_DIGITS = st.text("0123456789", min_size=1, max_size=40)
_huge_ints = st.builds(  # beyond a float (~1.8e308), or beyond what json converts (4,300 digits)
    lambda sign, digit, n: sign + digit + "0" * n,
    st.sampled_from(["", "-"]),
    st.sampled_from("19"),
    st.one_of(st.integers(300, 320), st.integers(4290, 4310)),
)
_int_literals = st.one_of(
    st.integers().map(str),
    st.integers(min_value=-(10**400), max_value=10**400).map(str),
    _huge_ints,
)
_float_literals = st.one_of(
    st.floats(allow_nan=False, allow_infinity=False).map(repr),
    st.sampled_from(["NaN", "Infinity", "-Infinity", "1e999", "-1e999", "4.9e-325", "-0.0"]),
    st.builds(lambda m, e: f"{m}e{e}", _DIGITS, st.integers(-400, 400)),
)
_strings = st.one_of(
    st.text(),
    st.text(st.characters(categories=["Nd", "No", "Zs", "Cc"]), max_size=8),
    st.sampled_from(["2026-11-25T11:59:59Z", "0001-01-01T00:00:00+01:00", "plant", "kron1"]),
)
_KEYS = st.one_of(
    st.sampled_from(
        ["v", "ts", "site", "meter", "seq", "values", "p_total", "gateway", "bus", "period_s"]
    ),
    st.text(max_size=12),
)
json_leaves = st.one_of(
    st.sampled_from(["null", "true", "false"]),
    _int_literals,
    _float_literals,
    _strings.map(json.dumps),
    _strings.map(lambda s: json.dumps(s, ensure_ascii=False)),
)


def _obj(pairs: list[tuple[str, str]]) -> str:
    return "{" + ",".join(f"{json.dumps(k)}:{v}" for k, v in pairs) + "}"


json_texts = st.recursive(
    json_leaves,
    lambda inner: st.one_of(
        st.lists(inner, max_size=6).map(lambda xs: "[" + ",".join(xs) + "]"),
        st.lists(st.tuples(_KEYS, inner), max_size=6).map(_obj),  # keys may repeat
    ),
    max_leaves=25,
)

# --- near-valid messages ---------------------------------------------------------------

_offsets = st.integers(-23 * 60 - 59, 23 * 60 + 59).map(lambda m: timezone(timedelta(minutes=m)))
_recent = st.builds(
    lambda s, tz: json.dumps((NOW - timedelta(seconds=s)).astimezone(tz).isoformat()),
    st.integers(-60, 86_400 * 30),
    _offsets,
)
_any_time = st.builds(
    lambda dt, tz: json.dumps(dt.replace(tzinfo=tz).isoformat()),
    st.one_of(
        st.datetimes(min_value=datetime(1, 1, 1), max_value=datetime(9999, 12, 31, 23, 59)),
        st.builds(  # the first and last day of the calendar, where offsets overflow
            lambda day, m: day + timedelta(minutes=m),
            st.sampled_from([datetime(1, 1, 1), datetime(9999, 12, 31)]),
            st.integers(0, 1439),
        ),
    ),
    _offsets,
)
_numbers = st.one_of(_int_literals, _float_literals, _huge_ints)
_anything = st.one_of(json_texts, _numbers, _any_time)

# Each field: (a valid value, values to break it with), as JSON text.
Field = tuple[st.SearchStrategy[str], st.SearchStrategy[str]]


def _values() -> Field:
    def one(name: str) -> st.SearchStrategy[tuple[str, str]]:
        q = QUANTITIES[name]
        return st.tuples(st.just(name), st.floats(q.low, q.high).map(repr))

    names = st.lists(st.sampled_from(sorted(QUANTITIES)), min_size=1, max_size=5, unique=True)
    valid = names.flatmap(lambda ns: st.tuples(*map(one, ns))).map(list)
    broken = st.builds(
        lambda good, bad, at: [*good[:at], bad, *good[at:]],
        valid,
        st.tuples(st.one_of(st.sampled_from(sorted(QUANTITIES)), _KEYS), _numbers),
        st.integers(0, 5),
    )
    return valid.map(_obj), st.one_of(broken.map(_obj), broken.map(_obj), _anything)


def _reading_fields() -> dict[str, Field]:
    return {
        "v": (st.just("1"), st.one_of(st.sampled_from(["1.0", "true", "2"]), _anything)),
        "ts": (_recent, _any_time),
        "site": (st.just('"plant"'), st.sampled_from(['"plant\\n"', '"pl ant"', "7"])),
        "meter": (st.just('"kron1"'), st.sampled_from(['"kron1\\n"', '"kron1 "'])),
        "seq": (st.integers(0, 2**63 - 1).map(str), _numbers),
        "values": _values(),
    }


def _diagnostics_fields(kind: str) -> dict[str, Field]:
    spec = diag.METER_FIELDS if kind == "meter" else diag.BUS_FIELDS
    code = st.tuples(st.integers(1, 255).map(str), st.integers(0, 99).map(str))
    tricky = st.sampled_from(["\u00b2", "\u0663", "\uff11", "0", "256", "007", "1" * 4400])
    bad_code = st.tuples(st.one_of(tricky, tricky, _strings, _DIGITS), _numbers)
    seconds = st.floats(0, 1e6).map(repr)
    field: dict[str, Field] = {
        "count": (st.integers(0, 2**31 - 1).map(str), _numbers),
        "seconds": (seconds, _numbers),
        "seconds?": (st.one_of(st.just("null"), seconds), _numbers),
        "codes": (
            st.lists(code, max_size=3, unique_by=lambda c: c[0]).map(_obj),
            st.tuples(st.lists(code, max_size=2), bad_code).map(lambda c: _obj([*c[0], c[1]])),
        ),
        "status": (st.just('"online"'), st.sampled_from(['"gone"', "1", "null"])),
        "text?": (st.sampled_from(["null", '"CH30-001"']), _numbers),  # port, identifier
    }
    out: dict[str, Field] = {
        "v": (st.just("1"), _anything),
        "ts": (_recent, _any_time),
        "site": (st.just('"plant"'), st.just('"plant\\n"')),
        "gateway": (st.just('"gw1"'), st.just('"gw1\\n"')),
        "bus": (st.just('"lan"'), st.just('"lan\\n"')),
    }
    if kind == "meter":
        out["meter"] = (st.just('"kron1"'), st.just('"kron1\\n"'))
    return out | {name: field[k] for name, k in spec.items()}


@st.composite
def _mutated(draw: st.DrawFn, fields: dict[str, Field], among: list[str]) -> bytes:
    """A valid message with one field of ``among`` broken, maybe more broken, dropped,
    repeated or added."""
    pairs = [(name, draw(valid)) for name, (valid, _) in fields.items()]
    broken = draw(st.sampled_from(among))
    pairs = [(n, draw(fields[n][1]) if n == broken else v) for n, v in pairs]
    for _ in range(draw(st.integers(0, 2))):
        i = draw(st.integers(0, len(pairs) - 1))
        action = draw(st.sampled_from(["break", "drop", "repeat", "add"]))
        if action == "break":
            pairs[i] = (pairs[i][0], draw(_anything))
        elif action == "drop":
            del pairs[i]
        elif action == "repeat":
            pairs.append((pairs[i][0], draw(_anything)))
        else:
            pairs.append((draw(_KEYS), draw(_anything)))
    return _obj(pairs).encode()


# --- the property ------------------------------------------------------------------------


def _check(topic: str, payload: bytes) -> None:
    out = validate(topic, payload, POLICY, NOW)
    if isinstance(out, Reject):
        assert out.reason, out
        assert out.reason != UNPARSEABLE, f"unforeseen failure: {out.detail}"
        assert out.payload == payload[: POLICY.keep_bytes]
        return
    if isinstance(out, Reading):
        assert topic == READING_TOPIC
        assert out.ts.utcoffset() == timedelta(0)
        assert all(isinstance(v, float) and math.isfinite(v) for v in out.values.values())
        assert contract.decode(contract.encode(out), now=NOW).values == out.values
        return
    assert isinstance(out, diag.Diagnostics), out
    assert topic != READING_TOPIC
    assert json.loads(diag.encode(out))["site"] == "plant"


@given(st.sampled_from(TOPICS), json_texts)
def test_arbitrary_json_is_accepted_or_refused_with_a_reason(topic: str, text: str) -> None:
    _check(topic, text.encode())


@given(st.sampled_from(TOPICS), st.binary(max_size=512))
def test_arbitrary_bytes_are_accepted_or_refused_with_a_reason(topic: str, data: bytes) -> None:
    _check(topic, data)


@given(st.text(max_size=60), st.binary(max_size=64))
def test_arbitrary_topics_are_refused_with_a_reason(topic: str, data: bytes) -> None:
    _check(topic if topic not in TOPICS else topic + "/x", data)


READING_FIELDS = _reading_fields()
DIAGNOSTICS_FIELDS = {kind: _diagnostics_fields(kind) for kind in ("meter", "bus")}


def _groups(kind: str) -> dict[str, list[str]]:
    """The fields of a diagnostics message by what they hold (header, count, seconds...)."""
    spec = diag.METER_FIELDS if kind == "meter" else diag.BUS_FIELDS
    out: dict[str, list[str]] = {"header": [n for n in DIAGNOSTICS_FIELDS[kind] if n not in spec]}
    for name, k in spec.items():
        out.setdefault(k, []).append(name)
    return out


NEAR_VALID = settings(max_examples=max(settings.default.max_examples // 4, 10))  # per field


@pytest.mark.parametrize("field", list(READING_FIELDS))
@NEAR_VALID
@given(data=st.data())
def test_near_valid_readings_are_accepted_or_refused_with_a_reason(
    field: str, data: st.DataObject
) -> None:
    _check(READING_TOPIC, data.draw(_mutated(READING_FIELDS, [field])))


@pytest.mark.parametrize(("kind", "group"), [(k, g) for k in ("meter", "bus") for g in _groups(k)])
@NEAR_VALID
@given(data=st.data())
def test_near_valid_diagnostics_are_accepted_or_refused_with_a_reason(
    kind: str, group: str, data: st.DataObject
) -> None:
    payload = data.draw(_mutated(DIAGNOSTICS_FIELDS[kind], _groups(kind)[group]))
    _check(METER_TOPIC if kind == "meter" else BUS_TOPIC, payload)


@st.composite
def _valid(draw: st.DrawFn, fields: dict[str, Field]) -> bytes:
    return _obj([(name, draw(valid)) for name, (valid, _) in fields.items()]).encode()


@given(
    st.one_of(
        st.tuples(st.just(READING_TOPIC), _valid(READING_FIELDS)),
        st.tuples(st.just(METER_TOPIC), _valid(DIAGNOSTICS_FIELDS["meter"])),
        st.tuples(st.just(BUS_TOPIC), _valid(DIAGNOSTICS_FIELDS["bus"])),
    )
)
def test_the_unbroken_messages_are_accepted(message: tuple[str, bytes]) -> None:
    """The base the near-valid messages are broken from is valid: what breaks is the field."""
    topic, payload = message
    out = validate(topic, payload, POLICY, NOW)
    assert not isinstance(out, Reject), out
    _check(topic, payload)
