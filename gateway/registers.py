"""Register maps: data files (one per meter model) loaded into a validated ``RegisterMap``.

Every map is loaded here: ``load`` (a shipped model or a file of either format) is the one
entry point; ``map_for`` is it for a configured meter. The types live in
gateway/mapmodel.py. Two file formats load here:

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

from dataclasses import replace
from pathlib import Path
from typing import Any, Literal, Protocol

from pydantic import Field, ValidationError

from contract import datafiles, quantities
from contract.settings import Strict
from gateway.decode import TYPES, Order
from gateway.errors import RegisterMapError
from gateway.mapmodel import DEFAULT_MAX_GAP, Register, RegisterMap, check_overlaps, map_error
from gateway.plantfile import from_doc

MAPS_DIR = Path(__file__).parent / "maps"


Function = Literal[3, 4]
TypeName = Literal["U16", "S16", "U32", "S32", "U64", "S64", "F32", "F64"]
OrderName = Literal["ABCD", "CDAB", "BADC", "DCBA"]


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
        raise map_error(path, key, problem)


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
    check_overlaps(path, regs, "registers")
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


# --- public API -------------------------------------------------------------------------


def _read(path: Path) -> Any:
    try:
        return datafiles.read(path)
    except datafiles.DataFileError as exc:
        raise RegisterMapError(str(exc)) from exc


def load_map(path: Path, order: Order | None = None) -> RegisterMap:
    """Load and validate a register map file (house format or the plant's register file).

    ``order`` (the gateway configuration's override) replaces the byte/word order of every
    register of the file.
    """
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


class MapChoice(Protocol):
    """A configured meter's choice of map (gateway.config.MeterConfig is one)."""

    @property
    def name(self) -> str: ...

    @property
    def model(self) -> str | None: ...

    @property
    def map_file(self) -> Path | None: ...

    @property
    def order(self) -> str | None: ...


def load(
    model: str | None = None,
    map_file: Path | None = None,
    *,
    base_dir: Path | None = None,
    order: Order | None = None,
) -> RegisterMap:
    """The one entry point for a map: the file ``map_file`` when given (house format or the
    plant's register file; a relative path is taken from ``base_dir``), else the shipped map
    ``model``; every register in byte/word ``order`` when given (a configuration override)."""
    if map_file is not None:
        path = map_file if base_dir is None or map_file.is_absolute() else base_dir / map_file
        return load_map(path, order)
    if model is None:
        raise RegisterMapError("no register map given: name a shipped model or a map file")
    regmap = builtin_map(model)
    return regmap if order is None else with_order(regmap, order)


def map_for(meter: MapChoice, base_dir: Path) -> RegisterMap:
    """The map of a configured meter: its ``model`` or its ``map_file`` (relative to base_dir),
    in the byte/word ``order`` the configuration gives, if any."""
    if meter.model is None and meter.map_file is None:  # pragma: no cover - MeterConfig forbids it
        raise RegisterMapError(f"meter {meter.name}: neither model nor map_file")
    order = None if meter.order is None else Order(meter.order)
    return load(meter.model, meter.map_file, base_dir=base_dir, order=order)
