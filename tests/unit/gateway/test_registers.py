"""Register maps: every shipped map loads; broken maps name file, register and rule."""

from __future__ import annotations

from pathlib import Path

import pytest

from contract.quantities import QUANTITIES
from gateway.config import MeterConfig
from gateway.errors import RegisterMapError
from gateway.registers import (
    MAPS_DIR,
    builtin_map,
    builtin_models,
    load_map,
    map_for,
)

pytestmark = pytest.mark.unit

SHIPPED = ["eastron_sdm630", "kron03_real", "kron_konect", "schneider_pm5100", "siemens_pac3200"]


def test_shipped_models() -> None:
    assert builtin_models() == SHIPPED


@pytest.mark.parametrize("model", SHIPPED)
def test_every_shipped_map_loads_and_is_canonical(model: str) -> None:
    regmap = builtin_map(model)
    assert regmap.model == model
    assert regmap.registers
    for reg in regmap.registers:
        assert reg.name in QUANTITIES
        assert reg.function in (3, 4)
    # only the plant's own file was validated on its meter (reference/plant/README.md)
    assert regmap.verified == (model == "kron03_real")


@pytest.mark.parametrize("model", [m for m in SHIPPED if m != "kron03_real"])
def test_map_files_say_addresses_are_zero_based_and_what_is_unverified(model: str) -> None:
    text = (MAPS_DIR / f"{model}.yaml").read_text()
    assert "0-BASED WIRE ADDRESS" in text
    assert "UNVERIFIED" in text
    assert "source:" in text


def test_kron_konect_is_fc04_float_dcba_with_derived_counts() -> None:
    regmap = builtin_map("kron_konect")
    for reg in regmap.registers:
        assert (reg.function, reg.type, reg.order.value, reg.count) == (4, "F32", "DCBA", 2)
    assert regmap["p_total"].address == 34
    assert regmap["p_total"].scale == pytest.approx(0.001)
    assert regmap["e_imp_kwh"].address == 200


def test_siemens_energy_is_f64_wh_to_kwh() -> None:
    reg = builtin_map("siemens_pac3200")["e_imp_kwh"]
    assert (reg.type, reg.count, reg.unit, reg.address) == ("F64", 4, "Wh", 801)
    assert reg.to_canonical(1_234_500.0) == pytest.approx(1234.5)
    assert not builtin_map("siemens_pac3200")["freq"].verified


def test_unknown_model() -> None:
    with pytest.raises(RegisterMapError, match=r"model 'nope' unknown.*kron_konect"):
        builtin_map("nope")


def test_map_for_model_and_relative_map_file(tmp_path: Path) -> None:
    assert map_for(MeterConfig(name="m", model="kron_konect"), tmp_path).model == "kron_konect"
    (tmp_path / "maps").mkdir()
    (tmp_path / "maps" / "mine.yaml").write_text(
        "model: mine\nsource: test\ntransport: tcp\nregisters:\n  freq: {address: 0, unit: Hz}\n"
    )
    regmap = map_for(MeterConfig(name="m", map_file=Path("maps/mine.yaml")), tmp_path)
    assert regmap.names == ["freq"]


# --- broken maps ------------------------------------------------------------------------

GOOD_HEAD = (
    "model: t\nsource: test\ntransport: tcp\ndefaults: {function: 4, type: F32, order: ABCD}\n"
)

BROKEN_YAML = [
    (
        "registers:\n  p_total: {address: 65, type: F16, unit: W, scale: 0.001}\n",
        "siemens_pac3200.yaml: registers.p_total.type: type F16 unknown",
    ),
    (
        "registers:\n  v_l1n: {adress: 1, unit: V}\n",
        "registers.v_l1n.adress: unknown key",
    ),
    (
        "colour: red\nregisters:\n  v_l1n: {address: 1, unit: V}\n",
        "siemens_pac3200.yaml: colour: unknown key",
    ),
    (
        "registers:\n  v_l1n: {address: 1, unit: V}\n  v_l2n: {address: 2, unit: V}\n",
        "registers.v_l2n: registers 2-3 overlap v_l1n (1-2, function 4)",
    ),
    (
        "registers:\n  power: {address: 1, unit: W, scale: 0.001}\n",
        "registers.power: quantity 'power' unknown (not in contract.quantities)",
    ),
    (
        "registers:\n  p_total: {address: 65, unit: W}\n",
        "registers.p_total: unit 'W' with scale 1 does not give kW (needs scale 0.001)",
    ),
    (
        "registers:\n  v_l1n: {address: 1, unit: A}\n",
        "registers.v_l1n: unit 'A' cannot become v_l1n's unit 'V'",
    ),
    (
        "registers:\n  v_l1n: {address: 1, unit: V, function: 6}\n",
        "registers.v_l1n.function: function 6 not allowed (3 or 4)",
    ),
    (
        "registers:\n  v_l1n: {address: 1, unit: V, order: XYZW}\n",
        "registers.v_l1n.order: order XYZW unknown",
    ),
    (
        "registers:\n  v_l1n: {address: -1, unit: V}\n",
        "registers.v_l1n.address: Input should be greater than or equal to 0",
    ),
    (
        "registers:\n  e_imp_kwh: {address: 65533, type: F64, unit: Wh, scale: 0.001}\n",
        "registers.e_imp_kwh: runs past register 65535",
    ),
    ("registers: {}\n", "siemens_pac3200.yaml: registers: Dictionary should have at least 1 item"),
]


@pytest.mark.parametrize(("body", "message"), BROKEN_YAML)
def test_broken_house_maps_name_file_register_and_rule(
    tmp_path: Path, body: str, message: str
) -> None:
    path = tmp_path / "siemens_pac3200.yaml"
    path.write_text(GOOD_HEAD + body)
    with pytest.raises(RegisterMapError) as exc:
        load_map(path)
    assert message in str(exc.value)


def test_different_function_codes_may_share_addresses(tmp_path: Path) -> None:
    path = tmp_path / "m.yaml"
    path.write_text(
        GOOD_HEAD
        + "registers:\n  v_l1n: {address: 1, unit: V}\n  v_l2n: {address: 1, unit: V, function: 3}\n"
    )
    assert len(load_map(path).registers) == 2


def test_not_yaml_and_unreadable(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text("registers: [unclosed\n")
    with pytest.raises(RegisterMapError, match=r"^bad\.yaml: not valid YAML"):
        load_map(path)
    with pytest.raises(RegisterMapError, match=r"^missing\.yaml: cannot read"):
        load_map(tmp_path / "missing.yaml")
