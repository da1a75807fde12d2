"""Block planner: coalesce a register map into the fewest Modbus reads.

Registers are grouped per function code, sorted by address and merged greedily while the
block stays within ``max_registers`` (125, the Modbus limit for FC03/04) and the hole
between two registers is at most ``max_gap`` registers. Reading a hole costs 2 bytes per
register (2.3 ms at 9600 8N2) while a new request costs about 13 characters plus two
t3.5 silences and the meter's turnaround (~23 ms + turnaround), so small holes are cheaper
to read through; meters that reject reads of unmapped registers set ``max_gap: 0`` in
their map. Pure module.
"""

from __future__ import annotations

from dataclasses import dataclass

from gateway.mapmodel import Register, RegisterMap

MAX_REGISTERS = 125


@dataclass(frozen=True, slots=True)
class Block:
    """One read request: ``count`` registers from ``address`` with ``function``."""

    function: int
    address: int
    count: int
    registers: tuple[Register, ...]

    @property
    def end(self) -> int:
        return self.address + self.count


def plan(
    regmap: RegisterMap, max_registers: int = MAX_REGISTERS, max_gap: int | None = None
) -> list[Block]:
    """The reads that cover every register of ``regmap``, fewest first-fit blocks."""
    if not 1 <= max_registers <= MAX_REGISTERS:
        raise ValueError(f"max_registers must be 1..{MAX_REGISTERS}, not {max_registers}")
    gap = regmap.max_gap if max_gap is None else max_gap
    if gap < 0:
        raise ValueError(f"max_gap must be >= 0, not {gap}")
    blocks: list[Block] = []
    current: list[Register] = []

    def close() -> None:
        if current:
            start = current[0].address
            end = max(r.end for r in current)
            blocks.append(Block(current[0].function, start, end - start, tuple(current)))
            current.clear()

    for reg in sorted(regmap.registers, key=lambda r: (r.function, r.address)):
        if current:
            start = current[0].address
            end = max(r.end for r in current)
            if (
                reg.function != current[0].function
                or reg.address - end > gap
                or reg.end - start > max_registers
            ):
                close()
        current.append(reg)
    close()
    return blocks


def plan_per_quantity(regmap: RegisterMap) -> list[Block]:
    """One read per register: the naive baseline the benchmark compares against."""
    return [
        Block(r.function, r.address, r.count, (r,))
        for r in sorted(regmap.registers, key=lambda r: (r.function, r.address))
    ]
