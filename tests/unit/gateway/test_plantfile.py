"""The plant's own register file: loads unchanged, decodes exactly as the plant's reader did,
and broken files name the file and the key."""

from __future__ import annotations

import copy
import hashlib
import json
import logging
import struct
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from contract.aliases import load as load_aliases
from gateway import config
from gateway.decode import Order
from gateway.errors import RegisterMapError
from gateway.mapmodel import RegisterMap
from gateway.meter import decode_block
from gateway.planner import plan
from gateway.plantfile import channel_meter_name, plant_order
from gateway.registers import MAPS_DIR, builtin_map, load_map, map_for

pytestmark = pytest.mark.unit

PLANT_FILE = MAPS_DIR / "kron03_real.json"
PLANT_DOC: dict[str, Any] = json.loads(PLANT_FILE.read_text(encoding="utf-8"))

# The plant's names -> (canonical quantity, FC, register, description, ai), as in its file.
EXPECTED = {
    "tensao_l1": ("v_l1n", 4, 0, "Tensão fase-neutro L1", False),
    "tensao_l2": ("v_l2n", 4, 2, "Tensão fase-neutro L2", False),
    "tensao_l3": ("v_l3n", 4, 4, "Tensão fase-neutro L3", False),
    "tensao_ll_l1": ("v_l12", 4, 6, "Tensão linha-linha R-S", True),
    "tensao_ll_l2": ("v_l23", 4, 8, "Tensão linha-linha S-T", True),
    "tensao_ll_l3": ("v_l31", 4, 10, "Tensão linha-linha T-R", True),
    "potencia_kw_inst": ("p_total", 4, 20, "Potência ativa instantânea", True),
    "energia_kwh_a": ("e_imp_kwh", 4, 40, "Energia canal A acumulada", True),
    "energia_kwh_b": ("e_b_kwh", 4, 42, "Energia canal B acumulada", False),
    "frequencia": ("freq", 4, 60, "Frequência", True),
    "fp_avg": ("pf_total", 4, 70, "Fator de potência médio", True),
}


def _write(tmp_path: Path, doc: object, name: str = "registers_kron03_real.json") -> Path:
    path = tmp_path / name
    path.write_text(json.dumps(doc, ensure_ascii=False), encoding="utf-8")
    return path


def _one(tmp_path: Path, **measurement: Any) -> RegisterMap:
    m = {"name": "tensao_l1", "fn": 4, "register": 0, "type": "float", "unit": "V"}
    m.update(measurement)
    return load_map(_write(tmp_path, {"measurements": [m]}))


def _decode(regmap: RegisterMap, words: list[int]) -> dict[str, float]:
    values: dict[str, float] = {}
    dropped: dict[str, str] = {}
    for block in plan(regmap):
        decode_block(block, words[block.address : block.end], values, dropped)
    assert dropped == {}
    return values


# sha256 of reference/plant/registers_kron03_real.json, the file the plant validated
PLANT_SHA256 = "0dfe24aac806c34ea231d2f48edfd39933c130fdb1cafa0aecb6ddef351c85dd"


def test_the_shipped_file_is_the_plants_byte_for_byte() -> None:
    assert hashlib.sha256(PLANT_FILE.read_bytes()).hexdigest() == PLANT_SHA256


def test_the_plants_file_loads_unchanged_with_its_names_channels_and_settings() -> None:
    regmap = builtin_map("kron03_real")
    assert {i.label: r.name for r in regmap.registers for i in [regmap.info[r.name]]} == {
        k: v[0] for k, v in EXPECTED.items()
    }
    for reg in regmap.registers:
        info = regmap.info[reg.name]
        _, fn, address, description, ai = EXPECTED[info.label]
        assert (reg.function, reg.address, reg.type, reg.count) == (fn, address, "F32", 2)
        assert reg.order is Order.ABCD, "no order key in the file: ABCD, not the README's DCBA"
        assert (info.description, info.ai) == (description, ai)
        assert reg.resolution * reg.scale == 1.0
    assert [(c.name, c.unit) for c in regmap.channels] == [("CH30 canal 1", 1), ("CH30 canal 2", 2)]
    for c in regmap.channels:
        assert c.detection is not None
        assert c.detection.expected_prefix == "CH30"
        f = c.detection.field
        assert (f.function, f.address, f.count) == (3, 0, 4)
    s = regmap.serial
    assert s is not None
    assert (s.baudrate, s.bytesize, s.parity, s.stopbits, s.timeout) == (9600, 8, "N", 2, 1.5)
    assert s.scan_units == (1, 2, 3, 4)
    assert regmap.warnings == ()


def test_the_plants_file_decodes_every_value_exactly() -> None:
    regmap = builtin_map("kron03_real")
    chosen = {
        "v_l1n": 127.25, "v_l2n": 126.5, "v_l3n": 128.125, "v_l12": 220.5, "v_l23": 219.75,
        "v_l31": 221.0, "p_total": 187.625, "e_imp_kwh": 152_345.5, "e_b_kwh": 40_123.25,
        "freq": 59.98, "pf_total": 0.923,
    }  # fmt: skip
    words = [0] * 72
    for reg in regmap.registers:
        raw = struct.pack(">f", chosen[reg.name])  # the file says big-endian bytes and words
        words[reg.address] = int.from_bytes(raw[:2], "big")
        words[reg.address + 1] = int.from_bytes(raw[2:], "big")
    values = _decode(regmap, words)
    assert values == {k: struct.unpack(">f", struct.pack(">f", v))[0] for k, v in chosen.items()}
    # only what the plant's reader read, in contiguous runs: 0-11, 20-21, 40-43, 60-61, 70-71
    assert [(b.address, b.count) for b in plan(regmap)] == [
        (0, 12),
        (20, 2),
        (40, 4),
        (60, 2),
        (70, 2),
    ]


# 230.5 as float32 is 0x43668000: A=0x43 B=0x66 C=0x80 D=0x00. The wire words each key
# combination gives in the plant's reader (pymodbus byteorder / wordorder), and the usual name.
GOLDEN_FLOAT = [
    ({}, [0x4366, 0x8000], Order.ABCD),
    ({"byteorder": "big", "wordorder": "big"}, [0x4366, 0x8000], Order.ABCD),
    ({"endian": "abcd"}, [0x4366, 0x8000], Order.ABCD),
    ({"byteorder": "little"}, [0x6643, 0x0080], Order.BADC),
    ({"wordorder": "little"}, [0x8000, 0x4366], Order.CDAB),
    ({"endian": "little"}, [0x8000, 0x4366], Order.CDAB),
    ({"byteorder": "little", "wordorder": "little"}, [0x0080, 0x6643], Order.DCBA),
    ({"endian": "dcba"}, [0x0080, 0x6643], Order.DCBA),
    ({"endian": "DCBA"}, [0x0080, 0x6643], Order.DCBA),
    ({"wordorder": "dcba"}, [0x0080, 0x6643], Order.DCBA),
    # the two ambiguous names, as the reader meant them:
    ({"endian": "cdab"}, [0x6643, 0x0080], Order.BADC),  # bytes swapped inside each word
    ({"endian": "badc"}, [0x8000, 0x4366], Order.CDAB),  # the two words swapped
    ({"wordorder": "cdab"}, [0x6643, 0x0080], Order.BADC),
    ({"wordorder": "badc"}, [0x8000, 0x4366], Order.CDAB),
]


@pytest.mark.parametrize(("keys", "words", "order"), GOLDEN_FLOAT)
def test_float_orders_decode_as_the_plants_reader(
    tmp_path: Path, keys: dict[str, str], words: list[int], order: Order
) -> None:
    regmap = _one(tmp_path, name="tensao_ll_l1", **keys)
    assert regmap.registers[0].order is order
    assert _decode(regmap, words) == {"v_l12": 230.5}


@pytest.mark.parametrize("name", ["cdab", "badc", "CDAB"])
def test_the_two_ambiguous_names_warn(
    tmp_path: Path, name: str, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="gateway.plantfile"):
        regmap = _one(tmp_path, endian=name)
    (warning,) = regmap.warnings
    assert warning.startswith("registers_kron03_real.json: measurements[0] (tensao_l1): endian")
    usual = "BADC" if name.lower() == "cdab" else "CDAB"
    assert f"{usual} in the usual naming" in warning
    assert warning in caplog.text


def test_a_four_letter_name_sets_the_bytes_and_says_it_ignores_byteorder(tmp_path: Path) -> None:
    regmap = _one(tmp_path, byteorder="little", endian="abcd")
    assert regmap.registers[0].order is Order.ABCD
    assert "byteorder 'little' ignored" in regmap.warnings[0]


# (type, words in ABCD, scale, value): each integer type, its sign, and the file's scale.
GOLDEN_INT = [
    ("uint32", [0x075B, 0xCD15], None, 123_456_789),
    ("u32", [0x075B, 0xCD15], 0.5, 61_728_394.5),
    ("uint16", [0xBEEF], None, 48_879),
    ("u16", [0x04D2], 0.1, 123.4),
]
GOLDEN_SIGNED = [
    ("int32", [0xFFFF, 0xFFFE], -2),
    ("i32", [0x0001, 0x0000], 65_536),
    ("int16", [0xFED4], -300),
    ("i16", [0x012C], 300),
]


@pytest.mark.parametrize(("type_name", "words", "scale", "value"), GOLDEN_INT)
def test_integer_types_and_scale(
    tmp_path: Path, type_name: str, words: list[int], scale: float | None, value: float
) -> None:
    keys: dict[str, Any] = {"type": type_name, "name": "energia_kwh_b", "unit": "kWh"}
    if scale is not None:
        keys["scale"] = scale
    regmap = _one(tmp_path, **keys)
    assert _decode(regmap, words)["e_b_kwh"] == pytest.approx(value, rel=1e-12)


@pytest.mark.parametrize(("type_name", "words", "value"), GOLDEN_SIGNED)
def test_signed_types(tmp_path: Path, type_name: str, words: list[int], value: int) -> None:
    regmap = _one(tmp_path, name="potencia_kw_inst", type=type_name, unit="kW")
    assert _decode(regmap, words) == {"p_total": value}


@pytest.mark.parametrize(
    ("byteorder", "wordorder"),
    [("big", "big"), ("little", "big"), ("big", "little"), ("little", "little")],
)
@given(value=st.floats(width=32, allow_nan=False, allow_infinity=False, min_value=0, max_value=1e6))
@settings(max_examples=40, deadline=None)
def test_every_float_roundtrips_through_the_readers_orders(
    tmp_path_factory: pytest.TempPathFactory, byteorder: str, wordorder: str, value: float
) -> None:
    raw = struct.pack(">f", value)
    pairs = [raw[0:2], raw[2:4]]
    if byteorder == "little":
        pairs = [p[::-1] for p in pairs]
    if wordorder == "little":
        pairs.reverse()
    words = [int.from_bytes(p, "big") for p in pairs]
    tmp = tmp_path_factory.mktemp("orders")
    regmap = _one(tmp, name="energia_kwh_a", unit="kWh", byteorder=byteorder, wordorder=wordorder)
    assert _decode(regmap, words) == {"e_imp_kwh": value}


def test_the_gateway_config_overrides_the_order_of_a_whole_file() -> None:
    regmap = load_map(PLANT_FILE, Order.DCBA)
    assert {r.order for r in regmap.registers} == {Order.DCBA}
    assert len(regmap.registers) == len(EXPECTED)


def test_string_measurements_are_text_not_quantities(tmp_path: Path) -> None:
    doc = copy.deepcopy(PLANT_DOC)
    doc["measurements"].append(
        {"name": "modelo", "fn": 3, "register": 10, "count": 4, "type": "string",
         "unit": "", "description": "Modelo do medidor", "ai": False}
    )  # fmt: skip
    regmap = load_map(_write(tmp_path, doc))
    (text,) = regmap.texts
    assert (text.name, text.function, text.address, text.count) == ("modelo", 3, 10, 4)
    assert "modelo" not in regmap.names


def test_alias_table_covers_the_plants_names_and_legacy_columns() -> None:
    aliases = load_aliases()
    for name, (quantity, *_rest) in EXPECTED.items():
        assert aliases[name].quantity == quantity
    for column in ("corrente_l1", "corrente_l2", "corrente_l3"):  # the old app's leituras
        assert aliases[column].quantity == f"i_l{column[-1]}"
    assert aliases["energia_kwh_b"].quantity != aliases["energia_kwh_a"].quantity


def test_channel_names_become_meter_names() -> None:
    assert channel_meter_name("CH30 canal 1") == "ch30_canal_1"
    assert channel_meter_name("Canal B (subestação)") == "canal_b_subesta_o"


def test_plant_order_rejects_unknown_names() -> None:
    with pytest.raises(ValueError, match="endian") as exc:
        plant_order(None, None, "middle")
    assert exc.value.args == ("endian", "'middle' unknown (big, little, abcd, dcba, cdab, badc)")


def _set(doc: dict[str, Any], path: tuple[Any, ...], value: Any) -> dict[str, Any]:
    out = copy.deepcopy(doc)
    node: Any = out
    for p in path[:-1]:
        node = node[p]
    if value is _DROP:
        del node[path[-1]]
    else:
        node[path[-1]] = value
    return out


_DROP = object()
BROKEN = [
    (("measurements", 3, "name"), "tensao_xx", "measurements[3] (tensao_xx): name 'tensao_xx' is not in the alias table _aliases_kron03.yaml"),
    (("measurements", 0, "type"), "float16", "measurements[0] (tensao_l1).type: 'float16' unknown"),
    (("measurements", 1, "count"), 4, "measurements[1] (tensao_l2).count: float takes 2 registers, not 4"),
    (("measurements", 2, "fn"), 6, "measurements[2] (tensao_l3).fn: Input should be 3 or 4"),
    (("measurements", 4, "endian"), "middle", "measurements[4] (tensao_ll_l2).endian: 'middle' unknown"),
    (("measurements", 4, "byteorder"), "reverse", "measurements[4] (tensao_ll_l2).byteorder: 'reverse' unknown"),
    (("measurements", 6, "unit"), "W", None),  # W -> kW is a known conversion: loads
    (("measurements", 6, "unit"), "A", "measurements[6] (potencia_kw_inst).unit: 'A' cannot become p_total's unit 'kW'"),
    (("measurements", 5, "register"), 9, "measurements.v_l31: registers 9-10 overlap v_l23"),
    (("measurements", 5, "name"), "tensao_ll_l2", "measurements[5] (tensao_ll_l2): name used twice"),
    (("measurements", 0, "registro"), 1, "measurements[0] (tensao_l1).registro: unknown key"),
    (("measurements", 0, "register"), _DROP, "measurements[0] (tensao_l1).register: Field required"),
    (("channels", 1, "slave_id"), 1, "channels[1] (CH30 canal 2).slave_id: slave id 1 used by another channel"),
    (("channels", 0, "detection", "type"), "float", "channels[0] (CH30 canal 1).detection.type: Input should be 'string'"),
    (("settings", "parity"), "X", "settings.parity: Input should be 'N', 'E' or 'O'"),
    (("settings", "velocidade"), 9600, "settings.velocidade: unknown key"),
    (("measurements",), [], "measurements: List should have at least 1 item"),
]  # fmt: skip


@pytest.mark.parametrize(("path", "value", "message"), BROKEN)
def test_broken_files_name_the_file_and_the_key(
    tmp_path: Path, path: tuple[Any, ...], value: Any, message: str | None
) -> None:
    target = _write(tmp_path, _set(PLANT_DOC, path, value))
    if message is None:
        assert load_map(target)["p_total"].scale == pytest.approx(0.001)
        return
    with pytest.raises(RegisterMapError) as exc:
        load_map(target)
    assert f"registers_kron03_real.json: {message}" in str(exc.value)


def test_not_json_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "registers_kron03_real.json"
    path.write_text('{"measurements": [', encoding="utf-8")
    with pytest.raises(RegisterMapError, match=r"^registers_kron03_real\.json: not valid JSON"):
        load_map(path)


_JUNK = st.one_of(
    st.none(), st.booleans(), st.integers(-70000, 70000), st.text(max_size=6),
    st.lists(st.integers(), max_size=2), st.dictionaries(st.text(max_size=3), st.integers(), max_size=1),
)  # fmt: skip
_KEYS = st.sampled_from(["name", "fn", "register", "count", "type", "unit", "scale", "byteorder", "wordorder", "endian", "ai"])  # fmt: skip


@given(index=st.integers(0, len(EXPECTED) - 1), key=_KEYS, value=_JUNK)
@settings(max_examples=300, deadline=None)
def test_any_broken_measurement_is_refused_naming_file_and_measurement_or_loads(
    tmp_path_factory: pytest.TempPathFactory, index: int, key: str, value: Any
) -> None:
    doc = _set(PLANT_DOC, ("measurements", index, key), value)
    path = _write(tmp_path_factory.mktemp("broken"), doc)
    try:
        regmap = load_map(path)
    except RegisterMapError as exc:
        for line in str(exc).splitlines():
            assert line.startswith("registers_kron03_real.json: measurements")
            assert f"[{index}]" in line or "measurements." in line or "measurements:" in line
        return
    # it loaded: the change was one the format allows, and every register still decodes
    assert len(regmap.registers) + len(regmap.texts) == len(EXPECTED)


def _gateway_yaml(tmp_path: Path, bus: dict[str, Any]) -> Path:
    base = {"name": "rs485", "type": "rtu", "port": "auto"}
    path = tmp_path / "gateway.yaml"
    path.write_text(yaml.safe_dump({"site": "plant", "buses": [{**base, **bus}]}))
    return path


def test_a_bus_takes_the_plant_file_as_its_meter_list(tmp_path: Path) -> None:

    _write(tmp_path, PLANT_DOC)
    cfg = config.load(
        _gateway_yaml(tmp_path, {"map_file": "registers_kron03_real.json", "order": "DCBA", "timeout": 0.8}),
        env={},
    )  # fmt: skip
    bus = cfg.buses[0]
    assert [(m.name, m.unit, m.order) for m in bus.meters] == [
        ("ch30_canal_1", 1, "DCBA"), ("ch30_canal_2", 2, "DCBA"),
    ]  # fmt: skip
    assert bus.type == "rtu"
    assert (bus.baudrate, bus.parity, bus.stopbits, bus.bytesize) == (9600, "N", 2, 8)
    assert bus.timeout == 0.8  # set on the bus: wins over the file's 1.5
    regmap = map_for(bus.meters[1], tmp_path)
    assert {r.order for r in regmap.registers} == {Order.DCBA}


@pytest.mark.parametrize(
    ("bus", "message"),
    [
        ({"map_file": "registers_kron03_real.json", "meters": [{"name": "x", "model": "kron_konect"}]},
         "gateway.yaml: buses.rs485: give either meters or map_file"),
        ({"map_file": "missing.json"}, "gateway.yaml: buses.rs485.map_file: missing.json: cannot read"),
        ({"map_file": "broken.json"},
         "gateway.yaml: buses.rs485.map_file: broken.json: measurements[0] (tensao_l1).type"),
    ],
)  # fmt: skip
def test_a_broken_plant_file_on_a_bus_names_the_config_and_the_file(
    tmp_path: Path, bus: dict[str, Any], message: str
) -> None:

    _write(tmp_path, PLANT_DOC)
    _write(tmp_path, _set(PLANT_DOC, ("measurements", 0, "type"), "double"), "broken.json")
    with pytest.raises(config.ConfigError) as exc:
        config.load(_gateway_yaml(tmp_path, bus), env={})
    assert message in str(exc.value)


def test_check_config_prints_the_files_warnings(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from gateway.__main__ import main

    _write(tmp_path, _set(PLANT_DOC, ("measurements", 6, "endian"), "badc"))
    path = _gateway_yaml(tmp_path, {"map_file": "registers_kron03_real.json", "port": "/dev/x"})
    assert main(["check-config", "--config", str(path)]) == 0
    out = capsys.readouterr().out
    assert "ch30_canal_1: registers_kron03_real unit 1, 11 quantities" in out
    assert "(channel 'CH30 canal 1')" in out
    assert (
        "warning: registers_kron03_real.json: measurements[6] (potencia_kw_inst): endian 'badc'"
        in out
    )
