"""Register maps: data files (one per meter model) loaded into a validated ``RegisterMap``.

Two file formats load here:

* the house format (YAML, or the same structure in JSON), one file per model under
  ``gateway/maps/``::

      model: siemens_pac3200
      source: ...
      transport: tcp
      defaults: {function: 4, type: F32, order: ABCD}
      registers:
        p_total: {address: 65, unit: W, scale: 0.001}   # meter gives W, canonical kW

  ``address`` is the 0-based wire address. ``unit`` is the unit the meter gives
  (after ``resolution`` for fixed-point integers); ``scale`` converts it into the
  canonical unit of contract.quantities and must agree with the two units
  (W -> kW needs 0.001). ``nodata`` is the raw value the meter sends for "no value".

* the plant's own register file (``registers_kron03_real.json``: ``settings``,
  ``channels``, ``measurements``), read by gateway/plantfile.py; its Portuguese names
  (``tensao_ll_l1``, ``energia_kwh_b``) map onto canonical quantities through the alias
  table ``contract/_aliases_kron03.yaml``.

Every error is a ``RegisterMapError`` naming the file, the register and the rule, e.g.
``siemens_pac3200.yaml: registers.p_total: type F16 unknown``. Pure module: no network.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from types import MappingProxyType
from typing import Any, Literal

import yaml
from pydantic import Field, ValidationError

from contract import quantities
from contract.settings import Strict
from gateway.config import MeterConfig
from gateway.decode import TYPES, Order
from gateway.errors import RegisterMapError

MAPS_DIR = Path(__file__).parent / "maps"
DEFAULT_MAX_GAP = 10


Function = Literal[3, 4]
TypeName = Literal["U16", "S16", "U32", "S32", "U64", "S64", "F32", "F64"]
OrderName = Literal["ABCD", "CDAB", "BADC", "DCBA"]


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


# --- the house format -------------------------------------------------------------------


class _Defaults(Strict):
    function: Function = 4
    type: TypeName = "F32"
    order: OrderName = "ABCD"


class _RegisterSpec(Strict):
    address: int = Field(ge=0, le=65535)
    unit: str
    function: Function | None = None
    type: TypeName | None = None
    order: OrderName | None = None
    scale: float = 1.0
    resolution: float = Field(default=1.0, gt=0)
    nodata: float | None = None
    verified: bool = True
    note: str | None = None


class _MapFile(Strict):
    model: str
    source: str
    transport: Literal["rtu", "tcp", "any"]
    name: str | None = None
    verified: bool = False
    notes: str | None = None
    default_unit: int | None = Field(default=None, ge=0, le=255)
    max_gap: int = Field(default=DEFAULT_MAX_GAP, ge=0, le=124)
    defaults: _Defaults = _Defaults()
    registers: dict[str, _RegisterSpec] = Field(min_length=1)


def _fail(path: Path, key: str, rule: str) -> RegisterMapError:
    return RegisterMapError(f"{path.name}: {key}: {rule}")


def _pydantic_errors(path: Path, exc: ValidationError) -> RegisterMapError:
    lines = []
    for err in exc.errors():
        loc = ".".join(str(p) for p in err["loc"]) or "(top)"
        msg = err["msg"]
        if err["type"] == "extra_forbidden":
            msg = "unknown key"
        elif err["type"] == "literal_error" and err["loc"][-1] == "type":
            msg = f"type {err['input']} unknown ({', '.join(TYPES)})"
        elif err["type"] == "literal_error" and err["loc"][-1] == "order":
            msg = f"order {err['input']} unknown (ABCD, CDAB, BADC, DCBA)"
        elif err["type"] == "literal_error" and err["loc"][-1] == "function":
            msg = f"function {err['input']} not allowed (3 or 4)"
        lines.append(f"{path.name}: {loc}: {msg}")
    return RegisterMapError("\n".join(lines))


def _check_unit(path: Path, key: str, name: str, unit: str, scale: float) -> None:
    problem = quantities.conversion_problem(name, unit, scale)
    if problem is not None:
        raise _fail(path, key, problem)


def _check_overlaps(path: Path, regs: list[Register], prefix: str) -> None:
    for reg in regs:
        if reg.end > 65536:
            raise _fail(path, f"{prefix}.{reg.name}", "runs past register 65535")
    by_fn = sorted(regs, key=lambda r: (r.function, r.address))
    for prev, cur in itertools.pairwise(by_fn):
        if prev.function == cur.function and cur.address < prev.end:
            raise _fail(
                path,
                f"{prefix}.{cur.name}",
                f"registers {cur.address}-{cur.end - 1} overlap {prev.name}"
                f" ({prev.address}-{prev.end - 1}, function {cur.function})",
            )


def _from_house(path: Path, doc: dict[str, Any]) -> RegisterMap:
    try:
        spec = _MapFile.model_validate(doc)
    except ValidationError as exc:
        raise _pydantic_errors(path, exc) from None
    regs: list[Register] = []
    for name, r in spec.registers.items():
        key = f"registers.{name}"
        _check_unit(path, key, name, r.unit, r.scale)
        type_name = r.type or spec.defaults.type
        dtype = TYPES[type_name]
        regs.append(
            Register(
                name=name,
                function=r.function or spec.defaults.function,
                address=r.address,
                type=type_name,
                order=Order(r.order or spec.defaults.order),
                count=dtype.count,
                scale=r.scale,
                resolution=r.resolution,
                unit=r.unit,
                nodata=r.nodata,
                verified=r.verified and spec.verified,
            )
        )
    _check_overlaps(path, regs, "registers")
    return RegisterMap(
        model=spec.model,
        source=spec.source,
        transport=spec.transport,
        registers=tuple(regs),
        path=path,
        verified=spec.verified,
        max_gap=spec.max_gap,
        default_unit=spec.default_unit,
    )


# --- the alias table of the plant's register file (gateway/plantfile.py) ----------------


# --- public API -------------------------------------------------------------------------


def _read(path: Path) -> Any:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise RegisterMapError(f"{path.name}: cannot read: {exc.strerror}") from exc
    try:
        if path.suffix.lower() == ".json":
            return json.loads(text)
        return yaml.safe_load(text)
    except (json.JSONDecodeError, yaml.YAMLError) as exc:
        raise RegisterMapError(f"{path.name}: not valid {path.suffix[1:].upper()}: {exc}") from exc


def load_map(path: Path, order: Order | None = None) -> RegisterMap:
    """Load and validate a register map file (house format or the plant's register file).

    ``order`` (the gateway configuration's override) replaces the byte/word order of every
    register of the file.
    """
    from gateway.plantfile import from_doc  # noqa: PLC0415 - plantfile builds on this module

    doc = _read(path)
    if isinstance(doc, dict) and "registers" in doc:
        regmap = _from_house(path, doc)
    elif isinstance(doc, dict) and "measurements" in doc:
        regmap = from_doc(path, doc)
    else:
        raise RegisterMapError(
            f"{path.name}: (top): expected a mapping with 'registers' (house format) or the"
            " plant's register file ('settings', 'channels', 'measurements')"
        )
    return regmap if order is None else with_order(regmap, order)


def with_order(regmap: RegisterMap, order: Order) -> RegisterMap:
    """``regmap`` with every register read in byte/word ``order`` (a configuration override)."""
    return replace(
        regmap,
        registers=tuple(replace(r, order=order) for r in regmap.registers),
        texts=tuple(replace(t, swap_bytes=order.bytes_swapped) for t in regmap.texts),
    )


def builtin_models() -> list[str]:
    """Names of the shipped register maps."""
    return sorted(
        p.stem
        for p in MAPS_DIR.iterdir()
        if p.suffix in (".yaml", ".json") and not p.name.startswith("_")
    )


def builtin_map(model: str) -> RegisterMap:
    """A shipped register map by model name, e.g. ``kron_konect``."""
    for suffix in (".yaml", ".json"):
        path = MAPS_DIR / f"{model}{suffix}"
        if path.is_file() and not model.startswith("_"):
            return load_map(path)
    raise RegisterMapError(f"model {model!r} unknown (shipped: {', '.join(builtin_models())})")


def map_for(meter: MeterConfig, base_dir: Path) -> RegisterMap:
    """The map of a configured meter: its ``model`` or its ``map_file`` (relative to base_dir),
    in the byte/word ``order`` the configuration gives, if any."""
    order = None if meter.order is None else Order(meter.order)
    if meter.model is not None:
        regmap = builtin_map(meter.model)
        return regmap if order is None else with_order(regmap, order)
    if meter.map_file is None:  # pragma: no cover - MeterConfig forbids it
        raise RegisterMapError(f"meter {meter.name}: neither model nor map_file")
    path = meter.map_file if meter.map_file.is_absolute() else base_dir / meter.map_file
    return load_map(path, order)
