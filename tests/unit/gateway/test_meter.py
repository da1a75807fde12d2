"""Decoding a read block: scaling, and every reason a value is dropped."""

from __future__ import annotations

from pathlib import Path

import pytest

from gateway.decode import encode
from gateway.meter import decode_block
from gateway.planner import plan
from gateway.registers import builtin_map, load_map

pytestmark = pytest.mark.unit


def _words(regmap_values: dict[int, list[int]], start: int, count: int) -> list[int]:
    words = [0] * count
    for address, ws in regmap_values.items():
        words[address - start : address - start + len(ws)] = ws
    return words


def test_scaling_and_drop_reasons(tmp_path: Path) -> None:
    path = tmp_path / "m.yaml"
    path.write_text(
        "model: m\nsource: test\ntransport: tcp\ndefaults: {function: 3, type: F32, order: ABCD}\n"
        "registers:\n"
        "  p_total: {address: 0, unit: W, scale: 0.001}\n"
        "  v_l1n: {address: 2, unit: V}\n"
        "  v_l2n: {address: 4, unit: V}\n"
        "  freq: {address: 6, unit: Hz}\n"
        "  e_imp_kwh: {address: 8, type: S64, unit: Wh, scale: 0.001, nodata: -9223372036854775808}\n"
        "  i_l1: {address: 12, type: U16, unit: A, resolution: 0.1}\n"
    )
    regmap = load_map(path)
    [block] = plan(regmap)
    words = _words(
        {
            0: encode(45_250.0, "F32", "ABCD"),
            2: [0x7FC0, 0x0000],  # NaN
            4: [0x7F80, 0x0000],  # +inf
            6: encode(130.0, "F32", "ABCD"),  # not a frequency
            8: encode(-(2**63), "S64", "ABCD"),
            12: [1234],
        },
        block.address,
        block.count,
    )
    values: dict[str, float] = {}
    dropped: dict[str, str] = {}
    decode_block(block, words, values, dropped)
    assert values == {"p_total": pytest.approx(45.25), "i_l1": pytest.approx(123.4)}
    assert dropped["v_l1n"] == "not finite (nan)"
    assert dropped["v_l2n"] == "not finite (inf)"
    assert dropped["freq"] == "out of range 40..70 Hz: 130"
    assert dropped["e_imp_kwh"] == "no value (sentinel)"


def test_block_length_is_checked() -> None:
    [block, _] = plan(builtin_map("kron_konect"))
    with pytest.raises(ValueError, match="needs 62 words, got 3"):
        decode_block(block, [0, 0, 0], {}, {})
