"""Register words <-> numbers: one table of types and one of byte orders drive everything.

The table mirrors pymodbus' ``ModbusClientMixin.DATATYPE`` (same struct codes, same register
counts) and the word handling of its ``convert_from_registers`` (high word first for
"big", all words reversed for "little"); a unit test checks that both give the same number
for every type and order. It is written with ``struct`` here so that decoding stays pure
(no import of the Modbus network library) and so that the byte swap DCBA/BADC need, which
``convert_from_registers`` does not do, lives in the same place.

Orders name the bytes of a 32-bit value as they travel, A being the most significant:

========  ==============================  ===================================
order     32-bit wire bytes               rule (any width)
========  ==============================  ===================================
ABCD      A B | C D                       big endian, high word first
CDAB      C D | A B                       words reversed ("word swap")
BADC      B A | D C                       bytes swapped inside each register
DCBA      D C | B A                       fully little endian (KRON default)
========  ==============================  ===================================

For 64-bit values CDAB/DCBA reverse all four words (pymodbus ``word_order="little"``).
16-bit types have one word: ABCD = CDAB, BADC = DCBA.
"""

from __future__ import annotations

import math
import struct
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Final


class Order(StrEnum):
    ABCD = "ABCD"
    CDAB = "CDAB"
    BADC = "BADC"
    DCBA = "DCBA"

    @property
    def words_reversed(self) -> bool:
        return self in (Order.CDAB, Order.DCBA)

    @property
    def bytes_swapped(self) -> bool:
        return self in (Order.BADC, Order.DCBA)


@dataclass(frozen=True, slots=True)
class DataType:
    """One wire type: struct code (big endian) and number of 16-bit registers."""

    name: str
    code: str
    count: int
    is_float: bool

    @property
    def is_signed(self) -> bool:
        return self.code.islower()


TYPES: Final[dict[str, DataType]] = {
    t.name: t
    for t in (
        DataType("U16", "H", 1, False),
        DataType("S16", "h", 1, False),
        DataType("U32", "I", 2, False),
        DataType("S32", "i", 2, False),
        DataType("U64", "Q", 4, False),
        DataType("S64", "q", 4, False),
        DataType("F32", "f", 2, True),
        DataType("F64", "d", 4, True),
    )
}
"""Type name -> DataType; pymodbus' DATATYPE names: UINT16, INT16, ..., FLOAT64."""

PYMODBUS_NAMES: Final[dict[str, str]] = {
    "U16": "UINT16",
    "S16": "INT16",
    "U32": "UINT32",
    "S32": "INT32",
    "U64": "UINT64",
    "S64": "INT64",
    "F32": "FLOAT32",
    "F64": "FLOAT64",
}


def _swap(word: int) -> int:
    return ((word & 0xFF) << 8) | (word >> 8)


def _normalise(words: Sequence[int], order: Order) -> list[int]:
    """Wire words -> big-endian words, high word first (the ABCD layout)."""
    regs = list(words)
    if order.bytes_swapped:
        regs = [_swap(w) for w in regs]
    if order.words_reversed:
        regs.reverse()
    return regs


def decode(words: Sequence[int], type_name: str, order: Order | str) -> float:
    """Decode the registers of one value. ``ValueError`` on a wrong number of words."""
    dtype = TYPES[type_name]
    if len(words) != dtype.count:
        raise ValueError(f"{type_name} needs {dtype.count} registers, got {len(words)}")
    regs = _normalise(words, Order(order))
    raw = b"".join(w.to_bytes(2, "big") for w in regs)
    value: int | float = struct.unpack(f">{dtype.code}", raw)[0]
    return value


def encode(value: float, type_name: str, order: Order | str) -> list[int]:
    """The registers a meter sends for ``value`` (integers are rounded, then range-checked)."""
    dtype = TYPES[type_name]
    if dtype.is_float:
        raw = struct.pack(f">{dtype.code}", value)
    else:
        if not math.isfinite(value):
            raise ValueError(f"{type_name} cannot hold {value}")
        raw = struct.pack(f">{dtype.code}", round(value))
    regs = [int.from_bytes(raw[i : i + 2], "big") for i in range(0, len(raw), 2)]
    # _normalise is its own inverse: reversing and byte swapping commute.
    return _normalise(regs, Order(order))


def decode_string(words: Sequence[int], *, swap_bytes: bool = False) -> str:
    """ASCII text of ``words`` (two characters per register, high byte first unless
    ``swap_bytes``); padding NULs and spaces at either end are stripped."""
    regs = [_swap(w) for w in words] if swap_bytes else list(words)
    raw = b"".join(w.to_bytes(2, "big") for w in regs)
    return raw.decode("ascii", errors="replace").strip("\x00 ")


def encode_string(text: str, count: int, *, swap_bytes: bool = False) -> list[int]:
    """The ``count`` registers a device shows for ``text`` (NUL-padded, ASCII)."""
    raw = text.encode("ascii")
    if len(raw) > 2 * count:
        raise ValueError(f"{text!r} does not fit in {count} registers")
    raw = raw.ljust(2 * count, b"\x00")
    regs = [int.from_bytes(raw[i : i + 2], "big") for i in range(0, len(raw), 2)]
    return [_swap(w) for w in regs] if swap_bytes else regs
