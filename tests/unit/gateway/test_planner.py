"""Block planner: fewest reads, <= 125 registers, bounded gaps, per function code."""

from __future__ import annotations

from pathlib import Path

import pytest

from gateway.mapmodel import RegisterMap
from gateway.planner import Block, plan, plan_per_quantity
from gateway.registers import builtin_map, builtin_models, load_map

pytestmark = pytest.mark.unit


def _covers(blocks: list[Block], regmap: RegisterMap) -> None:
    seen = []
    for b in blocks:
        assert 1 <= b.count <= 125
        for r in b.registers:
            assert r.function == b.function
            assert b.address <= r.address and r.end <= b.end
            seen.append(r.name)
    assert sorted(seen) == sorted(regmap.names)


def test_kron_map_in_at_most_three_requests_instead_of_one_per_quantity() -> None:
    regmap = builtin_map("kron_konect")
    blocks = plan(regmap)
    assert len(blocks) <= 3
    assert len(plan_per_quantity(regmap)) == len(regmap.registers) == 33
    assert [(b.function, b.address, b.count) for b in blocks] == [(4, 4, 62), (4, 200, 16)]
    _covers(blocks, regmap)


@pytest.mark.parametrize("model", builtin_models())
def test_every_map_is_covered(model: str) -> None:
    regmap = builtin_map(model)
    blocks = plan(regmap)
    _covers(blocks, regmap)
    assert len(blocks) < len(regmap.registers)


def test_expected_request_counts() -> None:
    counts = {m: len(plan(builtin_map(m))) for m in builtin_models()}
    assert counts == {
        "eastron_sdm630": 3,
        "kron03_real": 5,  # the plant's file reads no hole (max_gap 0)
        "kron_konect": 2,
        "schneider_pm5100": 5,
        "siemens_pac3200": 3,
    }


def _dense(tmp_path: Path, n: int, step: int = 2, function: int = 4) -> Path:
    names = [f"{p}_{s}" for p in ("v", "i", "p", "q", "s", "pf") for s in ("l1", "l2", "l3")]
    units = {"v": "V", "i": "A", "p": "kW", "q": "kvar", "s": "kVA", "pf": '""'}
    lines = [
        "model: dense",
        "source: test",
        "transport: tcp",
        f"defaults: {{function: {function}}}",
        "registers:",
    ]
    for k, name in enumerate(names[:n]):
        prefix = name.split("_")[0]
        real = {"v": f"v_{name[2:]}n"}.get(prefix, name)
        lines.append(f"  {real}: {{address: {k * step}, unit: {units[prefix]}}}")
    path = tmp_path / "dense.yaml"
    path.write_text("\n".join(lines) + "\n")
    return path


def test_block_never_exceeds_max_registers(tmp_path: Path) -> None:
    regmap = load_map(_dense(tmp_path, 18, step=8))  # 18 floats spread over 138 registers
    blocks = plan(regmap)
    assert len(blocks) == 2
    assert all(b.count <= 125 for b in blocks)
    small = plan(regmap, max_registers=10)
    assert all(b.count <= 10 for b in small)
    _covers(small, regmap)


def test_gap_bound(tmp_path: Path) -> None:
    regmap = load_map(_dense(tmp_path, 4, step=8))  # gaps of 6 registers
    assert len(plan(regmap, max_gap=6)) == 1
    assert len(plan(regmap, max_gap=5)) == 4
    assert len(plan(regmap, max_gap=0)) == 4


def test_function_codes_are_never_mixed() -> None:
    blocks = plan(builtin_map("kron_konect"))
    assert {b.function for b in blocks} == {4}
    for b in plan(builtin_map("schneider_pm5100")):
        assert b.function == 3


def test_bad_limits() -> None:
    with pytest.raises(ValueError, match="max_registers"):
        plan(builtin_map("kron_konect"), max_registers=126)
    with pytest.raises(ValueError, match="max_gap"):
        plan(builtin_map("kron_konect"), max_gap=-1)
