"""Canonical quantity registry: the one list of electrical quantities the system knows.

Register maps, the MQTT contract, the ``readings`` table columns, the rollups, the
dashboards and the reports all use these names. Adding a quantity means adding it at the
END here (the column order of ``readings``) and writing a migration that adds its column
and rollup columns (see migration 0016 and scripts/gen_migration_sql.py); a test compares
this registry with the migrated database and fails when they disagree.

This module is pure data: it imports nothing from the network or database layers.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from enum import StrEnum
from types import MappingProxyType


class Kind(StrEnum):
    """How a quantity behaves over time, which decides how it is rolled up."""

    GAUGE = "gauge"  # instantaneous value: rolled up as avg / min / max
    COUNTER = "counter"  # monotonic accumulator: rolled up as the delta per bucket


class Group(StrEnum):
    VOLTAGE = "voltage"
    CURRENT = "current"
    ACTIVE_POWER = "active_power"
    REACTIVE_POWER = "reactive_power"
    APPARENT_POWER = "apparent_power"
    POWER_FACTOR = "power_factor"
    FREQUENCY = "frequency"
    ENERGY = "energy"
    THD = "thd"
    DEMAND = "demand"


@dataclass(frozen=True, slots=True)
class Quantity:
    """One canonical quantity.

    ``low``/``high`` bound what is physically possible for a low- or medium-voltage
    industrial meter; a value outside is a decoding or wiring error, never a reading.
    """

    name: str
    unit: str
    group: Group
    kind: Kind
    low: float
    high: float
    label_pt: str
    label_en: str

    def is_plausible(self, value: float) -> bool:
        """True when ``value`` is a finite number inside the physical range."""
        # NaN fails both comparisons; +-inf fails one of them.
        return self.low <= value <= self.high


_V_LN = (0.0, 40_000.0)  # up to 69 kV systems line-neutral
_V_LL = (0.0, 70_000.0)
_I = (0.0, 100_000.0)
_P = (-1_000_000.0, 1_000_000.0)  # kW / kvar / kVA, signed for export and capacitive
_PF = (-1.0, 1.0)
_F = (40.0, 70.0)
_E = (0.0, 1e12)
_THD = (0.0, 1000.0)


_PHASES = ("l1", "l2", "l3")
_PHASES_TOTAL = ("l1", "l2", "l3", "total")

# Per-phase gauge families: (prefix, unit, group, (low, high), label pt-BR, label en, suffixes)
_FAMILIES: tuple[tuple[str, str, Group, tuple[float, float], str, str, tuple[str, ...]], ...] = (
    ("v", "V", Group.VOLTAGE, _V_LN, "Tensão fase-neutro", "Voltage L-N", ("l1n", "l2n", "l3n")),
    ("v", "V", Group.VOLTAGE, _V_LL, "Tensão fase-fase", "Voltage L-L", ("l12", "l23", "l31")),
    ("i", "A", Group.CURRENT, _I, "Corrente", "Current", ("l1", "l2", "l3", "n")),
    ("p", "kW", Group.ACTIVE_POWER, _P, "Potência ativa", "Active power", _PHASES_TOTAL),
    ("q", "kvar", Group.REACTIVE_POWER, _P, "Potência reativa", "Reactive power", _PHASES_TOTAL),
    ("s", "kVA", Group.APPARENT_POWER, _P, "Potência aparente", "Apparent power", _PHASES_TOTAL),
    ("pf", "", Group.POWER_FACTOR, _PF, "Fator de potência", "Power factor", _PHASES_TOTAL),
)
_THD_FAMILIES = (
    ("thd_v", "%", Group.THD, _THD, "DHT tensão", "Voltage THD", _PHASES),
    ("thd_i", "%", Group.THD, _THD, "DHT corrente", "Current THD", _PHASES),
)
_ENERGY = (
    ("e_imp_kwh", "kWh", "Energia ativa importada", "Active energy imported"),
    ("e_exp_kwh", "kWh", "Energia ativa exportada", "Active energy exported"),
    ("e_imp_kvarh", "kvarh", "Energia reativa importada", "Reactive energy imported"),
    ("e_exp_kvarh", "kvarh", "Energia reativa exportada", "Reactive energy exported"),
)


def _expand(
    families: tuple[tuple[str, str, Group, tuple[float, float], str, str, tuple[str, ...]], ...],
) -> list[Quantity]:
    out = []
    for prefix, unit, group, (low, high), pt, en, suffixes in families:
        for suffix in suffixes:
            tag = "total" if suffix == "total" else suffix.upper()
            out.append(
                Quantity(
                    f"{prefix}_{suffix}",
                    unit,
                    group,
                    Kind.GAUGE,
                    low,
                    high,
                    f"{pt} {tag}",
                    f"{en} {tag}",
                )
            )
    return out


def _build() -> list[Quantity]:
    q = _expand(_FAMILIES)
    q.append(Quantity("freq", "Hz", Group.FREQUENCY, Kind.GAUGE, *_F, "Frequência", "Frequency"))
    q += [Quantity(n, u, Group.ENERGY, Kind.COUNTER, *_E, pt, en) for n, u, pt, en in _ENERGY]
    q += _expand(_THD_FAMILIES)
    q.append(
        Quantity(
            "demand_kw",
            "kW",
            Group.DEMAND,
            Kind.GAUGE,
            *_P,
            "Demanda ativa (medidor)",
            "Active demand (meter)",
        )
    )
    q.append(
        Quantity(
            "demand_kva",
            "kVA",
            Group.DEMAND,
            Kind.GAUGE,
            0.0,
            _P[1],
            "Demanda aparente (medidor)",
            "Apparent demand (meter)",
        )
    )
    # Added after the first schema (migration 0016): the second accumulated active-energy
    # channel of the plant's KRON (its register file's energia_kwh_b, "Energia canal B").
    q.append(
        Quantity(
            "e_b_kwh",
            "kWh",
            Group.ENERGY,
            Kind.COUNTER,
            *_E,
            "Energia ativa canal B",
            "Active energy channel B",
        )
    )
    return q


QUANTITIES: Mapping[str, Quantity] = MappingProxyType({q.name: q for q in _build()})
"""All canonical quantities by name, in the column order of ``readings``."""


def get(name: str) -> Quantity:
    """The quantity called ``name``; ``KeyError`` naming the unknown quantity otherwise."""
    try:
        return QUANTITIES[name]
    except KeyError:
        raise KeyError(f"unknown quantity {name!r} (not in contract.quantities)") from None


def gauges() -> Iterator[Quantity]:
    return (q for q in QUANTITIES.values() if q.kind is Kind.GAUGE)


def counters() -> Iterator[Quantity]:
    return (q for q in QUANTITIES.values() if q.kind is Kind.COUNTER)


#: (meter unit, canonical unit) -> the scale that converts one into the other.
UNIT_FACTORS: Mapping[tuple[str, str], float] = {
    ("W", "kW"): 1e-3,
    ("kW", "kW"): 1.0,
    ("MW", "kW"): 1e3,
    ("var", "kvar"): 1e-3,
    ("kvar", "kvar"): 1.0,
    ("VA", "kVA"): 1e-3,
    ("kVA", "kVA"): 1.0,
    ("Wh", "kWh"): 1e-3,
    ("kWh", "kWh"): 1.0,
    ("MWh", "kWh"): 1e3,
    ("varh", "kvarh"): 1e-3,
    ("kvarh", "kvarh"): 1.0,
    ("Mvarh", "kvarh"): 1e3,
    ("V", "V"): 1.0,
    ("kV", "V"): 1e3,
    ("A", "A"): 1.0,
    ("mA", "A"): 1e-3,
    ("Hz", "Hz"): 1.0,
    ("", ""): 1.0,
    ("%", "%"): 1.0,
    ("%", ""): 0.01,  # power factor given in percent
    ("pu", ""): 1.0,  # per unit (the plant's file says so of its power factor)
}


def conversion_problem(name: str, unit: str, scale: float) -> str | None:
    """Why a value of quantity ``name`` read in ``unit`` and multiplied by ``scale`` would
    not be in the registry's unit (None when it would)."""
    q = QUANTITIES.get(name)
    if q is None:
        return f"quantity {name!r} unknown (not in contract.quantities)"
    factor = UNIT_FACTORS.get((unit, q.unit))
    if factor is None:
        return f"unit {unit!r} cannot become {name}'s unit {q.unit!r}"
    if not math.isclose(scale, factor, rel_tol=1e-9):
        return (
            f"unit {unit!r} with scale {scale:g} does not give {q.unit or 'a ratio'}"
            f" (needs scale {factor:g})"
        )
    return None
