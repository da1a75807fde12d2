from __future__ import annotations

import math
import re

import pytest

from contract import quantities
from contract.quantities import QUANTITIES, Kind

pytestmark = pytest.mark.unit


def test_names_are_snake_case_identifiers() -> None:
    for name in QUANTITIES:
        assert re.fullmatch(r"[a-z][a-z0-9_]*", name), name
        assert len(name) <= 20, "rollup columns append _avg/_delta within the 63-byte limit"


def test_registry_covers_the_design_contract() -> None:
    expected = {
        "v_l1n",
        "v_l2n",
        "v_l3n",
        "v_l12",
        "v_l23",
        "v_l31",
        "i_l1",
        "i_l2",
        "i_l3",
        "i_n",
        "p_total",
        "q_total",
        "s_total",
        "pf_total",
        "freq",
        "e_imp_kwh",
        "e_exp_kwh",
        "e_imp_kvarh",
        "e_exp_kvarh",
        "demand_kw",
    }
    assert expected <= set(QUANTITIES)


def test_counters_are_energy_and_everything_else_is_a_gauge() -> None:
    assert {q.name for q in quantities.counters()} == {
        "e_imp_kwh",
        "e_exp_kwh",
        "e_imp_kvarh",
        "e_exp_kvarh",
        "e_b_kwh",  # the plant's second energy channel (energia_kwh_b), migration 0016
    }
    assert list(QUANTITIES)[-1] == "e_b_kwh", "a new quantity goes last: readings' column order"
    assert all(q.kind is Kind.GAUGE for q in quantities.gauges())


@pytest.mark.parametrize(
    ("name", "value", "ok"),
    [
        ("v_l1n", 127.0, True),
        ("v_l1n", -1.0, False),
        ("pf_total", 0.92, True),
        ("pf_total", 1.5, False),
        ("freq", 60.0, True),
        ("freq", 0.0, False),
        ("p_total", -250.0, True),  # export
        ("e_imp_kwh", math.nan, False),
        ("e_imp_kwh", math.inf, False),
        ("i_l1", -math.inf, False),
    ],
)
def test_plausibility(name: str, value: float, ok: bool) -> None:
    assert QUANTITIES[name].is_plausible(value) is ok


def test_unknown_quantity_error_names_it() -> None:
    with pytest.raises(KeyError, match="unknown quantity 'tensao_ll_l1'"):
        quantities.get("tensao_ll_l1")


def test_labels_in_both_languages() -> None:
    for q in QUANTITIES.values():
        assert q.label_pt and q.label_en
    assert QUANTITIES["v_l12"].label_pt == "Tensão fase-fase L12"
