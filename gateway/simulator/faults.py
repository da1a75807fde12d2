"""Meter-side faults for the simulated plant: what a misconfigured or swapped meter
reports, applied on top of :class:`~gateway.simulator.model.PlantModel` values.

The plant's energy is unchanged; only the registers lie:

* ``counter_reset`` — from ``start`` the import counter restarts from zero (reset or
  register rollover); it stays reset after the fault (``end`` is not used);
* ``counter_scale`` — during [start, end) the counter advances ``factor`` times the energy
  (a register scale or CT ratio set differently for the counter); the offset it gained stays;
* ``counter_swap`` — from ``start`` the counter shows another meter's reading, ``value``
  kWh at ``start`` (a meter swap);
* ``power_scale`` — during [start, end) active powers read ``factor`` times the true
  value (for example x√3: line-to-line voltage used where line-to-neutral belongs).

Pure module (no network).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

from gateway.simulator.model import PlantModel

FAULT_KINDS = ("counter_reset", "counter_scale", "counter_swap", "power_scale")
POWERS = ("p_total", "p_l1", "p_l2", "p_l3")


@dataclass(frozen=True)
class Fault:
    """``kind`` from ``start`` (Unix seconds) to ``end`` (None: for good)."""

    kind: str
    start: float
    end: float | None = None
    factor: float = 1.0
    value: float = 0.0

    def __post_init__(self) -> None:
        if self.kind not in FAULT_KINDS:
            raise ValueError(f"fault {self.kind!r} unknown ({', '.join(FAULT_KINDS)})")
        if self.end is not None and self.end <= self.start:
            raise ValueError(f"fault {self.kind}: end must be after start")
        if self.factor <= 0:
            raise ValueError(f"fault {self.kind}: factor must be > 0")

    def apply(self, model: PlantModel, t: float, values: dict[str, float]) -> None:
        """Rewrite ``values`` (the model's values at ``t``) as the faulty meter reports them."""
        if t < self.start:
            return
        e_start = model.energy_kwh(self.start)
        if self.kind == "counter_reset":
            values["e_imp_kwh"] -= e_start
        elif self.kind == "counter_swap":
            values["e_imp_kwh"] += self.value - e_start
        elif self.kind == "counter_scale":
            until = t if self.end is None else min(t, self.end)
            values["e_imp_kwh"] += (self.factor - 1) * (model.energy_kwh(until) - e_start)
        elif self.end is None or t < self.end:  # power_scale
            for q in POWERS:
                values[q] *= self.factor


def mutate(model: PlantModel, faults: Iterable[Fault]) -> Callable[[float, dict[str, float]], None]:
    """A ``(t, values)`` hook applying ``faults`` in order (for history writers)."""
    ordered = tuple(faults)

    def apply(t: float, values: dict[str, float]) -> None:
        for f in ordered:
            f.apply(model, t, values)

    return apply
