"""Read one meter: run the planned blocks on a bus, decode, scale and sanity-check.

Decoding (``decode_block``) is pure and separate from the read, so tests and the simulator
use the same rules. A value reaches ``values`` only when it is finite, not the map's
"no value" sentinel, and inside the quantity's physical range (contract.quantities);
otherwise it goes to ``dropped`` with the reason.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from dataclasses import dataclass

from contract import quantities
from gateway.decode import decode, decode_string
from gateway.errors import MeterError
from gateway.mapmodel import Channel, RegisterMap, TextRegister
from gateway.planner import Block
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


async def read_text(bus: Bus, unit: int, field: TextRegister) -> str:
    """The ASCII text of ``field`` (a ``string`` measurement or a channel's identifier)."""
    words = await bus.read(unit, field.function, field.address, field.count)
    return decode_string(words, swap_bytes=field.swap_bytes)


async def identify(bus: Bus, unit: int, channel: Channel) -> str | None:
    """The identifier a channel of the plant's file answers (its detection read), checked
    against the expected prefix; None when the channel has no detection. ``MeterError``
    when the text is not the expected one (another device answers at this slave id)."""
    if channel.detection is None:
        return None
    text = await read_text(bus, unit, channel.detection.field)
    if not text.startswith(channel.detection.expected_prefix):
        raise MeterError(
            f"channel {channel.name!r} (slave {unit}): identifier {text!r} does not start"
            f" with {channel.detection.expected_prefix!r}"
        )
    return text


def channel_of(regmap: RegisterMap, unit: int) -> Channel | None:
    """The channel of the plant's file at slave id ``unit``, if the map lists one."""
    return next((c for c in regmap.channels if c.unit == unit), None)
