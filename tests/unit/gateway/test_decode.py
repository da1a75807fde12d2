"""Golden words for every type x order, checked against hand-written wire bytes and pymodbus."""

from __future__ import annotations

import math
import struct

import pytest

from gateway.decode import PYMODBUS_NAMES, TYPES, Order, decode, encode

pytestmark = pytest.mark.unit

# value, {order: registers as they travel on the wire}
GOLDEN: dict[str, tuple[float, dict[str, list[int]]]] = {
    "U16": (0x1234, {"ABCD": [0x1234], "CDAB": [0x1234], "BADC": [0x3412], "DCBA": [0x3412]}),
    "S16": (-2, {"ABCD": [0xFFFE], "CDAB": [0xFFFE], "BADC": [0xFEFF], "DCBA": [0xFEFF]}),
    "U32": (
        0x12345678,
        {
            "ABCD": [0x1234, 0x5678],
            "CDAB": [0x5678, 0x1234],
            "BADC": [0x3412, 0x7856],
            "DCBA": [0x7856, 0x3412],
        },
    ),
    "S32": (
        -123456789,  # 0xF8A432EB
        {
            "ABCD": [0xF8A4, 0x32EB],
            "CDAB": [0x32EB, 0xF8A4],
            "BADC": [0xA4F8, 0xEB32],
            "DCBA": [0xEB32, 0xA4F8],
        },
    ),
    "U64": (
        0x0102030405060708,
        {
            "ABCD": [0x0102, 0x0304, 0x0506, 0x0708],
            "CDAB": [0x0708, 0x0506, 0x0304, 0x0102],
            "BADC": [0x0201, 0x0403, 0x0605, 0x0807],
            "DCBA": [0x0807, 0x0605, 0x0403, 0x0201],
        },
    ),
    "S64": (
        -2,
        {
            "ABCD": [0xFFFF, 0xFFFF, 0xFFFF, 0xFFFE],
            "CDAB": [0xFFFE, 0xFFFF, 0xFFFF, 0xFFFF],
            "BADC": [0xFFFF, 0xFFFF, 0xFFFF, 0xFEFF],
            "DCBA": [0xFEFF, 0xFFFF, 0xFFFF, 0xFFFF],
        },
    ),
    "F32": (
        230.0,  # 0x43660000
        {
            "ABCD": [0x4366, 0x0000],
            "CDAB": [0x0000, 0x4366],
            "BADC": [0x6643, 0x0000],
            "DCBA": [0x0000, 0x6643],
        },
    ),
    "F64": (
        123456.789,  # 0x40FE240C9FBE76C9
        {
            "ABCD": [0x40FE, 0x240C, 0x9FBE, 0x76C9],
            "CDAB": [0x76C9, 0x9FBE, 0x240C, 0x40FE],
            "BADC": [0xFE40, 0x0C24, 0xBE9F, 0xC976],
            "DCBA": [0xC976, 0xBE9F, 0x0C24, 0xFE40],
        },
    ),
}

CASES = [(t, o) for t in TYPES for o in Order]


def test_golden_table_covers_every_type_and_order() -> None:
    assert set(GOLDEN) == set(TYPES)
    for _, orders in GOLDEN.values():
        assert set(orders) == {o.value for o in Order}


@pytest.mark.parametrize(("type_name", "order"), CASES)
def test_decode_golden(type_name: str, order: Order) -> None:
    value, table = GOLDEN[type_name]
    assert decode(table[order.value], type_name, order) == value


@pytest.mark.parametrize(("type_name", "order"), CASES)
def test_encode_golden(type_name: str, order: Order) -> None:
    value, table = GOLDEN[type_name]
    assert encode(value, type_name, order) == table[order.value]


@pytest.mark.parametrize(("type_name", "order"), CASES)
def test_same_number_as_pymodbus(type_name: str, order: Order) -> None:
    """pymodbus' convert_from_registers knows word order only: give it the bytes swapped."""
    from pymodbus.client.mixin import ModbusClientMixin

    _, table = GOLDEN[type_name]
    words = table[order.value]
    regs = [((w & 0xFF) << 8) | (w >> 8) for w in words] if order.bytes_swapped else words
    datatype = ModbusClientMixin.DATATYPE[PYMODBUS_NAMES[type_name]]
    assert datatype.value[1] == TYPES[type_name].count
    theirs = ModbusClientMixin.convert_from_registers(
        regs, datatype, word_order="little" if order.words_reversed else "big"
    )
    assert decode(words, type_name, order) == theirs


def test_kron_dcba_is_plain_little_endian_on_the_wire() -> None:
    """KRON's DCBA: the float's bytes travel least significant first (struct '<f')."""
    wire = struct.pack("<f", 127.5)
    words = [int.from_bytes(wire[i : i + 2], "big") for i in (0, 2)]
    assert decode(words, "F32", "DCBA") == 127.5
    # word order alone (what convert_from_registers does with word_order="little") is wrong
    assert decode(words, "F32", "CDAB") != 127.5


def test_nan_passes_through_for_the_caller_to_drop() -> None:
    assert math.isnan(decode([0xFFC0, 0x0000], "F32", "ABCD"))


def test_wrong_word_count_is_refused() -> None:
    with pytest.raises(ValueError, match="F32 needs 2 registers, got 1"):
        decode([1], "F32", "ABCD")


def test_integer_out_of_range_cannot_be_encoded() -> None:
    with pytest.raises(struct.error):
        encode(70000, "U16", "ABCD")
