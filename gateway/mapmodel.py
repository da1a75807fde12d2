"""The register map model: what a loaded map holds, whatever file it came from.

``RegisterMap`` and its parts (registers, text fields, the plant file's channels and
serial line), and the checks both file formats share. gateway/registers.py loads maps (the
house format, and the plant's file through gateway/plantfile.py) into these types. Pure
module: no network, no file reading.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType

from gateway.decode import Order
from gateway.errors import RegisterMapError

DEFAULT_MAX_GAP = 10


@dataclass(frozen=True, slots=True)
class Register:
    """One quantity of a meter: where it is, how it is encoded, how to scale it."""

    name: str  # canonical quantity
    function: int  # 3 (holding) or 4 (input)
    address: int  # 0-based wire address
    type: str  # key of gateway.decode.TYPES
    order: Order
    count: int  # registers, derived from type
    scale: float  # raw * resolution * scale = canonical value
    resolution: float
    unit: str  # the meter's unit
    nodata: float | None
    verified: bool

    @property
    def end(self) -> int:
        """One past the last register."""
        return self.address + self.count

    def to_canonical(self, raw: float) -> float:
        return float(raw) * self.resolution * self.scale

    def to_raw(self, value: float) -> float:
        return value / (self.resolution * self.scale)


@dataclass(frozen=True, slots=True)
class RegisterInfo:
    """What the plant's file says of a register: its own name, description and AI flag."""

    label: str  # the plant's measurement name, e.g. tensao_ll_l1
    description: str
    ai: bool


@dataclass(frozen=True, slots=True)
class TextRegister:
    """A text (ASCII) field: a ``string`` measurement or a channel's identifier."""

    name: str
    function: int
    address: int
    count: int
    swap_bytes: bool = False
    description: str = ""


@dataclass(frozen=True, slots=True)
class Detection:
    """How a channel is recognised: the text at ``register`` starts with ``expected_prefix``."""

    field: TextRegister
    expected_prefix: str


@dataclass(frozen=True, slots=True)
class Channel:
    """One meter the plant's file lists: its name, slave id and optional detection read."""

    name: str
    unit: int
    detection: Detection | None


@dataclass(frozen=True, slots=True)
class SerialDefaults:
    """The serial line a register file was validated with (its ``settings``)."""

    baudrate: int
    bytesize: int
    parity: str
    stopbits: int
    timeout: float
    scan_units: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class RegisterMap:
    model: str
    source: str
    transport: str  # rtu, tcp or any
    registers: tuple[Register, ...]
    path: Path | None = None
    verified: bool = False
    max_gap: int = DEFAULT_MAX_GAP
    default_unit: int | None = None
    # the plant's register file only (gateway/plantfile.py):
    info: Mapping[str, RegisterInfo] = field(default_factory=lambda: MappingProxyType({}))
    texts: tuple[TextRegister, ...] = ()
    channels: tuple[Channel, ...] = ()
    serial: SerialDefaults | None = None
    warnings: tuple[str, ...] = ()

    def __getitem__(self, name: str) -> Register:
        for reg in self.registers:
            if reg.name == name:
                return reg
        raise KeyError(name)

    @property
    def names(self) -> list[str]:
        return [r.name for r in self.registers]


# --- checks both file formats share ---------------------------------------------------


def map_error(path: Path, key: str, rule: str) -> RegisterMapError:
    """The error of one rule broken at ``key`` of the map file ``path``."""
    return RegisterMapError(f"{path.name}: {key}: {rule}")


def check_overlaps(path: Path, regs: list[Register], prefix: str) -> None:
    """Registers that run past 65535 or overlap another of the same function."""
    for reg in regs:
        if reg.end > 65536:
            raise map_error(path, f"{prefix}.{reg.name}", "runs past register 65535")
    by_fn = sorted(regs, key=lambda r: (r.function, r.address))
    for prev, cur in itertools.pairwise(by_fn):
        if prev.function == cur.function and cur.address < prev.end:
            raise map_error(
                path,
                f"{prefix}.{cur.name}",
                f"registers {cur.address}-{cur.end - 1} overlap {prev.name}"
                f" ({prev.address}-{prev.end - 1}, function {cur.function})",
            )
