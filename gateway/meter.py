"""Read one meter: run the planned blocks on a bus, decode, scale and sanity-check.

Decoding (``decode_block``) is pure and separate from the read, so tests and the simulator
use the same rules. A value reaches ``values`` only when it is finite, not the map's
"no value" sentinel, and inside the quantity's physical range (gateway.quantities);
otherwise it goes to ``dropped`` with the reason.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from dataclasses import dataclass

from gateway import quantities
from gateway.decode import decode
from gateway.planner import Block
from gateway.registers import RegisterMap
from gateway.transport import Bus


@dataclass(frozen=True)
class MeterRead:
    values: dict[str, float]
    dropped: dict[str, str]
    requests: int
    elapsed: float


def decode_block(
    block: Block, words: Sequence[int], values: dict[str, float], dropped: dict[str, str]
) -> None:
    """Decode every register of ``block`` from its ``words`` into values / dropped."""
    if len(words) != block.count:
        raise ValueError(f"block at {block.address} needs {block.count} words, got {len(words)}")
    for reg in block.registers:
        offset = reg.address - block.address
        raw = decode(words[offset : offset + reg.count], reg.type, reg.order)
        if reg.nodata is not None and raw == reg.nodata:
            dropped[reg.name] = "no value (sentinel)"
            continue
        if isinstance(raw, float) and not math.isfinite(raw):
            dropped[reg.name] = f"not finite ({raw})"
            continue
        value = reg.to_canonical(raw)
        q = quantities.get(reg.name)
        if not q.is_plausible(value):
            dropped[reg.name] = f"out of range {q.low:g}..{q.high:g} {q.unit}: {value:g}"
            continue
        values[reg.name] = value


async def read_meter(bus: Bus, unit: int, regmap: RegisterMap, blocks: list[Block]) -> MeterRead:
    """Read every block once, in order; a failed block raises MeterError/MeterTimeout."""
    started = time.monotonic()
    values: dict[str, float] = {}
    dropped: dict[str, str] = {}
    for block in blocks:
        words = await bus.read(unit, block.function, block.address, block.count)
        decode_block(block, words, values, dropped)
    return MeterRead(values, dropped, len(blocks), time.monotonic() - started)
