"""The meter info message (contract/meterinfo.py): built from a map, encoded, decoded
strictly with the readings' reject reasons, and its topic (pure)."""

from __future__ import annotations

import dataclasses
import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import contract
from contract import ContractError, meterinfo
from gateway import describe
from gateway.registers import MAPS_DIR, load_map

pytestmark = pytest.mark.unit

PLANT = load_map(MAPS_DIR / "kron03_real.json")
PAC = load_map(MAPS_DIR / "siemens_pac3200.yaml")


def plant_info(**change: Any) -> meterinfo.MeterInfo:
    args: dict[str, Any] = {
        "site": "plant", "meter": "ch30_canal_1", "gateway": "gw1", "unit": 1,
        "regmap": PLANT, "channel": "CH30 canal 1", "identifier": "CH30-001",
        "port": "/dev/ttyUSB0 9600 8N2",
    }  # fmt: skip
    return describe.meter_info(**{**args, **change})


def test_the_plant_file_gives_its_own_names_descriptions_and_ai_flags() -> None:
    info = plant_info()
    assert (info.model, info.map, info.unit) == ("kron03_real", "kron03_real.json", 1)
    by_quantity = {r.quantity: r for r in info.registers}
    assert [r.quantity for r in info.registers] == PLANT.names  # the file's order
    v1 = by_quantity["v_l1n"]
    assert (v1.name, v1.description, v1.unit, v1.ai) == (
        "tensao_l1", "Tensão fase-neutro L1", "V", False,
    )  # fmt: skip
    assert by_quantity["e_b_kwh"].name == "energia_kwh_b"
    assert by_quantity["e_b_kwh"].description == "Energia canal B acumulada"
    assert by_quantity["pf_total"].ai is True


def test_a_builtin_map_has_quantities_and_units_but_no_plant_words() -> None:
    info = describe.meter_info(site="plant", meter="pac1", gateway="gw1", unit=1, regmap=PAC,
                           port="10.0.0.5:502")  # fmt: skip
    assert info.channel is None and info.identifier is None
    assert len(info.registers) == len(PAC.registers) > 10
    assert all(r.name is None and r.description is None and r.ai is None for r in info.registers)
    assert {r.quantity: r.unit for r in info.registers}["p_total"] == "kW"
    assert meterinfo.decode(meterinfo.encode(info), topic=("plant", "pac1")) == info


def test_round_trip_and_stable_bytes() -> None:
    info = plant_info()
    payload = meterinfo.encode(info)
    assert payload == meterinfo.encode(plant_info())  # no timestamp: same meter, same bytes
    assert "Tensão fase-neutro L1".encode() in payload  # UTF-8, not \\u escapes
    assert meterinfo.decode(payload, topic=("plant", "ch30_canal_1")) == info
    doc = json.loads(payload)
    assert doc["v"] == meterinfo.VERSION == 1
    assert doc["registers"][0] == {
        "quantity": "v_l1n", "unit": "V", "name": "tensao_l1",
        "description": "Tensão fase-neutro L1", "ai": False,
    }  # fmt: skip
    assert meterinfo.encode(plant_info(identifier="CH30-009")) != payload


def test_topic() -> None:
    assert contract.meter_info_topic("emusa", "plant", "kron1") == "emusa/plant/kron1/info"
    assert contract.meter_info_subscription("emusa") == "emusa/+/+/info"
    assert contract.meter_info_subscription("emusa", "ing") == "$share/ing/emusa/+/+/info"
    assert contract.parse_meter_info_topic("emusa/plant/kron1/info", "emusa") == ("plant", "kron1")
    for bad in ("emusa/plant/kron1/reading", "emusa/plant/info", "other/plant/kron1/info",
                "emusa/pl+nt/kron1/info"):  # fmt: skip
        with pytest.raises(ContractError) as err:
            contract.parse_meter_info_topic(bad, "emusa")
        assert err.value.reason in {"bad_topic", "bad_name"}


def _doc() -> dict[str, Any]:
    doc: dict[str, Any] = json.loads(meterinfo.encode(plant_info()))
    return doc


def _set(path: str, value: Any) -> dict[str, Any]:
    doc = _doc()
    target: Any = doc
    *parents, last = [int(k) if k.isdigit() else k for k in path.split(".")]
    for key in parents:
        target = target[key]
    if value is KeyError:
        del target[last]
    else:
        target[last] = value
    return doc


BAD: list[tuple[str, Any, str]] = [
    ("v", 2, "bad_version"),
    ("v", True, "bad_version"),
    ("v", KeyError, "missing_field"),
    ("extra", 1, "unknown_field"),
    ("registers.0.extra", "x", "unknown_field"),
    ("registers.0.description", KeyError, "missing_field"),
    ("site", "pl/ant", "bad_name"),
    ("meter", 7, "bad_name"),
    ("gateway", "", "bad_name"),
    ("model", None, "bad_type"),
    ("unit", 256, "bad_type"),
    ("unit", True, "bad_type"),
    ("identifier", 5, "bad_type"),
    ("port", "x" * 201, "bad_type"),
    ("registers", [], "bad_type"),
    ("registers", {"v_l1n": {}}, "bad_type"),
    ("registers.0", "v_l1n", "bad_type"),
    ("registers.0.quantity", "tensao_l1", "unknown_quantity"),
    ("registers.1.quantity", "v_l1n", "duplicate_key"),
    ("registers.0.ai", "sim", "bad_type"),
    ("registers.0.unit", 1, "bad_type"),
]


@pytest.mark.parametrize(
    ("path", "value", "reason"), BAD, ids=[f"{p}={v!r:.20}" for p, v, _ in BAD]
)
def test_decoder_refuses_with_a_reason(path: str, value: Any, reason: str) -> None:
    payload = json.dumps(_set(path, value)).encode()
    with pytest.raises(ContractError) as err:
        meterinfo.decode(payload, topic=("plant", "ch30_canal_1"))
    assert err.value.reason == reason, err.value.detail


def test_decoder_refuses_topic_mismatch_size_duplicates_and_non_json() -> None:
    payload = meterinfo.encode(plant_info())
    cases = [
        (payload, ("plant", "ch30_canal_2"), "topic_mismatch"),
        (payload, ("annex", "ch30_canal_1"), "topic_mismatch"),
        (b"x" * (meterinfo.MAX_INFO_BYTES + 1), None, "too_large"),
        (b'{"v": 1, "v": 1}', None, "duplicate_key"),
        (b"[1]", None, "bad_json"),
        (b"\xff", None, "bad_json"),
    ]
    for body, topic, reason in cases:
        with pytest.raises(ContractError) as err:
            meterinfo.decode(body, topic=topic)
        assert err.value.reason == reason


def test_encode_refuses_what_decode_would() -> None:
    bad = (meterinfo.RegisterEntry("tensao_l1", "V"),)  # the plant's name, not a quantity
    with pytest.raises(ContractError, match="unknown_quantity"):
        meterinfo.encode(dataclasses.replace(plant_info(), registers=bad))
    with pytest.raises(ContractError, match="bad_type"):
        meterinfo.encode(plant_info(channel="c" * 201))


JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=20,
)


@settings(max_examples=300, deadline=None)
@given(path=st.sampled_from(["site", "unit", "registers", "registers.0", "registers.0.ai",
                             "registers.0.quantity", "model", "map"]), value=JSON)  # fmt: skip
def test_any_value_anywhere_is_accepted_or_refused_never_crashes(path: str, value: Any) -> None:
    payload = json.dumps(_set(path, value)).encode()
    reasons = {
        "bad_type",
        "bad_name",
        "unknown_quantity",
        "duplicate_key",
        "missing_field",
        "unknown_field",
    }
    try:
        info = meterinfo.decode(payload, topic=("plant", "ch30_canal_1"))
    except ContractError as exc:
        reason = exc.reason
    else:
        reason = ""
        assert meterinfo.decode(meterinfo.encode(info)) == info
    assert reason in {*reasons, ""}
