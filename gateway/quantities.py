"""Canonical quantity registry: the one list of electrical quantities the system knows.

Register maps, the MQTT contract, the ``readings`` table columns, the rollups, the
dashboards and the reports all use these names. Adding a quantity means adding it here
and writing a migration that adds the column (a test compares this registry with the
migrated database and fails when they disagree).

This module is pure data: it imports nothing from the network or database layers.
"""

from __future__ import annotations

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


def _phase_set(
    prefix: str,
    unit: str,
    group: Group,
    bounds: tuple[float, float],
    label_pt: str,
    label_en: str,
    suffixes: tuple[str, ...] = ("l1", "l2", "l3"),
) -> list[Quantity]:
    out = []
    for suffix in suffixes:
        tag = suffix.upper().replace("TOTAL", "total")
        out.append(
            Quantity(
                name=f"{prefix}_{suffix}",
                unit=unit,
                group=group,
                kind=Kind.GAUGE,
                low=bounds[0],
                high=bounds[1],
                label_pt=f"{label_pt} {tag}",
                label_en=f"{label_en} {tag}",
            )
        )
    return out


def _build() -> list[Quantity]:
    q: list[Quantity] = []
    q += _phase_set(
        "v", "V", Group.VOLTAGE, _V_LN, "Tensão fase-neutro", "Voltage L-N", ("l1n", "l2n", "l3n")
    )
    q += _phase_set(
        "v", "V", Group.VOLTAGE, _V_LL, "Tensão fase-fase", "Voltage L-L", ("l12", "l23", "l31")
    )
    q += _phase_set("i", "A", Group.CURRENT, _I, "Corrente", "Current", ("l1", "l2", "l3", "n"))
    for prefix, unit, group, pt, en in (
        ("p", "kW", Group.ACTIVE_POWER, "Potência ativa", "Active power"),
        ("q", "kvar", Group.REACTIVE_POWER, "Potência reativa", "Reactive power"),
        ("s", "kVA", Group.APPARENT_POWER, "Potência aparente", "Apparent power"),
    ):
        q += _phase_set(prefix, unit, group, _P, pt, en, ("l1", "l2", "l3", "total"))
    q += _phase_set(
        "pf", "", Group.POWER_FACTOR, _PF, "Fator de potência", "Power factor",
        ("l1", "l2", "l3", "total"),
    )
    q.append(Quantity("freq", "Hz", Group.FREQUENCY, Kind.GAUGE, *_F, "Frequência", "Frequency"))
    for name, unit, pt, en in (
        ("e_imp_kwh", "kWh", "Energia ativa importada", "Active energy imported"),
        ("e_exp_kwh", "kWh", "Energia ativa exportada", "Active energy exported"),
        ("e_imp_kvarh", "kvarh", "Energia reativa importada", "Reactive energy imported"),
        ("e_exp_kvarh", "kvarh", "Energia reativa exportada", "Reactive energy exported"),
    ):
        q.append(Quantity(name, unit, Group.ENERGY, Kind.COUNTER, *_E, pt, en))
    q += _phase_set("thd_v", "%", Group.THD, _THD, "DHT tensão", "Voltage THD")
    q += _phase_set("thd_i", "%", Group.THD, _THD, "DHT corrente", "Current THD")
    q.append(
        Quantity("demand_kw", "kW", Group.DEMAND, Kind.GAUGE, *_P,
                 "Demanda ativa (medidor)", "Active demand (meter)")
    )
    q.append(
        Quantity("demand_kva", "kVA", Group.DEMAND, Kind.GAUGE, 0.0, _P[1],
                 "Demanda aparente (medidor)", "Apparent demand (meter)")
    )
    return q


QUANTITIES: Mapping[str, Quantity] = MappingProxyType({q.name: q for q in _build()})
"""All canonical quantities by name, in the column order of ``readings``."""


def get(name: str) -> Quantity:
    """The quantity called ``name``; ``KeyError`` naming the unknown quantity otherwise."""
    try:
        return QUANTITIES[name]
    except KeyError:
        raise KeyError(f"unknown quantity {name!r} (not in gateway.quantities)") from None


def gauges() -> Iterator[Quantity]:
    return (q for q in QUANTITIES.values() if q.kind is Kind.GAUGE)


def counters() -> Iterator[Quantity]:
    return (q for q in QUANTITIES.values() if q.kind is Kind.COUNTER)
