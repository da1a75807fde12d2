"""The plant's own register file (``registers_kron03_real.json``), loaded as it is.

The original Dash app's reader takes this JSON, and so does the gateway, unchanged:

* ``settings``: the serial line (``baudrate``, ``bytesize``, ``parity``, ``stopbits``,
  ``timeout`` in seconds) and ``scan_slave_ids`` (slave ids to try when no channel is given);
* ``channels``: ``{name, slave_id, detection: {fn, register, count, type: "string",
  expected_prefix}}``; every channel is a meter of its own, recognised when the text read
  at ``register`` starts with ``expected_prefix`` (the KRON answers "CH30...");
* ``measurements``: ``{name, fn, register, count, type, unit, description, ai}``, optional
  ``scale`` and the order keys ``byteorder`` ("big"/"little") and ``wordorder`` or
  ``endian`` ("big"/"little", "abcd", "dcba", "cdab", "badc"). No order key = ABCD.

Order names are the reader's own: "dcba" reverses the four bytes (DCBA), but its "cdab"
swaps the bytes inside each word (BADC in the usual naming, gateway.decode) and its "badc"
swaps the two words (CDAB in the usual naming). Files are decoded exactly as the reader
did, with a warning for the two ambiguous names.

Types: ``float``/``float32``, ``uint32``/``u32``, ``int32``/``i32``, ``uint16``/``u16``,
``int16``/``i16``, ``string``. Numeric names map onto canonical quantities through the
alias table (contract/_aliases_kron03.yaml); ``unit`` is the unit the value has after
``scale`` and must convert into the quantity's canonical unit. ``string`` measurements
are read and shown, never published. Errors name the file and the key, e.g.
``registers_kron03_real.json: measurements[3] (tensao_ll_l1).type: ...``. Pure module.
"""

from __future__ import annotations

import logging
from pathlib import Path
from types import MappingProxyType
from typing import Any, Literal

from pydantic import Field, ValidationError

from contract import quantities
from contract.aliases import ALIASES_FILE, AliasError
from contract.aliases import load as load_aliases
from contract.quantities import UNIT_FACTORS
from contract.settings import Strict
from gateway.decode import TYPES, Order
from gateway.errors import RegisterMapError
from gateway.mapmodel import (
    Channel,
    Detection,
    Register,
    RegisterInfo,
    RegisterMap,
    SerialDefaults,
    TextRegister,
    check_overlaps,
    map_error,
)

log = logging.getLogger(__name__)

PLANT_TYPES: dict[str, str | None] = {
    "float": "F32",
    "float32": "F32",
    "uint32": "U32",
    "u32": "U32",
    "int32": "S32",
    "i32": "S32",
    "uint16": "U16",
    "u16": "U16",
    "int16": "S16",
    "i16": "S16",
    "string": None,
}
"""The reader's type names -> gateway.decode type (None: ASCII text)."""

# (bytes swapped inside each word, words reversed) -> the usual order name.
_ORDERS = {
    (False, False): Order.ABCD,
    (False, True): Order.CDAB,
    (True, False): Order.BADC,
    (True, True): Order.DCBA,
}
# The reader's four-letter names -> (byte order, word order) as it applies them.
FOUR_LETTER: dict[str, tuple[str, str]] = {
    "abcd": ("big", "big"),
    "dcba": ("little", "little"),
    "cdab": ("little", "big"),  # the reader's "cdab": bytes swapped in each word = BADC
    "badc": ("big", "little"),  # the reader's "badc": the two words swapped = CDAB
}


class _Settings(Strict):
    baudrate: int = Field(default=9600, ge=1200, le=921600)
    bytesize: Literal[7, 8] = 8
    parity: Literal["N", "E", "O"] = "N"
    stopbits: Literal[1, 2] = 1
    timeout: float = Field(default=1.0, gt=0, le=30)
    scan_slave_ids: list[int] = Field(default=[1], min_length=1)


class _Detection(Strict):
    fn: Literal[3, 4]
    address: int = Field(alias="register", ge=0, le=65535)
    count: int = Field(ge=1, le=125)
    type: Literal["string"]
    expected_prefix: str = Field(min_length=1)


class _Channel(Strict):
    name: str = Field(min_length=1)
    slave_id: int = Field(ge=1, le=247)
    detection: _Detection | None = None


class _Measurement(Strict):
    name: str = Field(min_length=1)
    fn: Literal[3, 4]
    address: int = Field(alias="register", ge=0, le=65535)
    count: int | None = Field(default=None, ge=1, le=125)
    type: str
    unit: str | None = None
    description: str = ""
    ai: bool = False
    scale: float | None = None
    byteorder: str | None = None
    wordorder: str | None = None
    endian: str | None = None


class _PlantFile(Strict):
    settings: _Settings = _Settings()
    channels: list[_Channel] = Field(default_factory=list)
    measurements: list[_Measurement] = Field(min_length=1)


def _where(doc: dict[str, Any], loc: tuple[int | str, ...]) -> str:
    """``measurements[3] (tensao_ll_l1).type`` for a pydantic error location."""
    out = ""
    node: Any = doc
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
            node = node[part] if isinstance(node, list) and part < len(node) else None
            if isinstance(node, dict) and isinstance(node.get("name"), str):
                out += f" ({node['name']})"
        else:
            out += f".{part}" if out else part
            node = node.get(part) if isinstance(node, dict) else None
    return out or "(top)"


def _validation_error(path: Path, doc: dict[str, Any], exc: ValidationError) -> RegisterMapError:
    lines = []
    for err in exc.errors():
        msg = "unknown key" if err["type"] == "extra_forbidden" else err["msg"]
        lines.append(f"{path.name}: {_where(doc, err['loc'])}: {msg}")
    return RegisterMapError("\n".join(lines))


def plant_order(
    byteorder: str | None, wordorder: str | None, endian: str | None
) -> tuple[Order, list[str]]:
    """The order the plant's reader applies for these keys, and warnings about them.

    ``ValueError(key, message)`` for a value the reader does not know.
    """
    notes: list[str] = []
    byte = (byteorder or "big").lower()
    if byte not in ("big", "little"):
        raise ValueError("byteorder", f"{byteorder!r} unknown (big, little)")
    word_key, word_raw = ("wordorder", wordorder) if wordorder is not None else ("endian", endian)
    if wordorder is not None and endian is not None and wordorder.lower() != endian.lower():
        notes.append(f"wordorder {wordorder!r} used, endian {endian!r} ignored (as the reader)")
    word = (word_raw or "big").lower()
    if word in FOUR_LETTER:
        named_byte, word = FOUR_LETTER[word]
        if byteorder is not None and byte != named_byte:
            notes.append(f"byteorder {byteorder!r} ignored: {word_key} {word_raw!r} sets the bytes")
        byte = named_byte
    elif word not in ("big", "little"):
        raise ValueError(word_key, f"{word_raw!r} unknown (big, little, abcd, dcba, cdab, badc)")
    order = _ORDERS[(byte == "little", word == "little")]
    if (word_raw or "").lower() == "cdab":
        notes.append(
            f"{word_key} {word_raw!r} read as the plant's reader did: bytes swapped inside"
            ' each word (BADC in the usual naming, not CDAB); write "byteorder": "little"'
            " to say it without doubt"
        )
    elif (word_raw or "").lower() == "badc":
        notes.append(
            f"{word_key} {word_raw!r} read as the plant's reader did: the two words swapped"
            ' (CDAB in the usual naming, not BADC); write "wordorder": "little" to say it'
            " without doubt"
        )
    return order, notes


def _measurement(
    path: Path, key: str, m: _Measurement, aliases: dict[str, Any]
) -> tuple[Register | TextRegister, RegisterInfo | None, list[str]]:
    type_name = m.type.lower()
    if type_name not in PLANT_TYPES:
        raise map_error(path, f"{key}.type", f"{m.type!r} unknown ({', '.join(PLANT_TYPES)})")
    try:
        order, notes = plant_order(m.byteorder, m.wordorder, m.endian)
    except ValueError as exc:
        raise map_error(path, f"{key}.{exc.args[0]}", exc.args[1]) from None
    notes = [f"{path.name}: {key}: {n}" for n in notes]
    dtype_name = PLANT_TYPES[type_name]
    if dtype_name is None:
        if m.count is None:
            raise map_error(path, f"{key}.count", "a string needs its count of registers")
        text = TextRegister(m.name, m.fn, m.address, m.count, order.bytes_swapped, m.description)
        return text, None, notes
    dtype = TYPES[dtype_name]
    if m.count is not None and m.count != dtype.count:
        raise map_error(
            path, f"{key}.count", f"{m.type} takes {dtype.count} registers, not {m.count}"
        )
    alias = aliases.get(m.name)
    if alias is None:
        raise map_error(
            path,
            key,
            f"name {m.name!r} is not in the alias table {ALIASES_FILE.name}"
            f" (known: {', '.join(sorted(aliases))})",
        )
    q = quantities.get(alias.quantity)
    unit = m.unit if m.unit is not None else alias.unit
    factor = UNIT_FACTORS.get((unit, q.unit))
    if factor is None:
        raise map_error(path, f"{key}.unit", f"{unit!r} cannot become {q.name}'s unit {q.unit!r}")
    resolution = 1.0 if m.scale is None else m.scale
    if resolution == 0:
        raise map_error(path, f"{key}.scale", "must not be 0")
    reg = Register(
        name=alias.quantity,
        function=m.fn,
        address=m.address,
        type=dtype_name,
        order=order,
        count=dtype.count,
        scale=factor,
        resolution=resolution,
        unit=unit,
        nodata=None,
        verified=True,
    )
    return reg, RegisterInfo(m.name, m.description, m.ai), notes


def from_doc(path: Path, doc: dict[str, Any]) -> RegisterMap:
    """The RegisterMap of a plant register file already parsed from JSON."""
    try:
        spec = _PlantFile.model_validate(doc)
    except ValidationError as exc:
        raise _validation_error(path, doc, exc) from None
    try:
        aliases = load_aliases()
    except AliasError as exc:
        raise RegisterMapError(str(exc)) from exc
    regs: list[Register] = []
    texts: list[TextRegister] = []
    info: dict[str, RegisterInfo] = {}
    warnings: list[str] = []
    names: dict[str, str] = {}
    for i, m in enumerate(spec.measurements):
        key = f"measurements[{i}] ({m.name})"
        if m.name in names:
            raise map_error(path, key, f"name used twice (also {names[m.name]})")
        names[m.name] = key
        item, reg_info, notes = _measurement(path, key, m, aliases)
        warnings += notes
        if isinstance(item, TextRegister):
            texts.append(item)
            continue
        if item.name in info:
            raise map_error(path, key, f"maps to {item.name} like {info[item.name].label}")
        regs.append(item)
        info[item.name] = reg_info  # type: ignore[assignment]
    if not regs:
        raise map_error(path, "measurements", "no numeric measurement to publish")
    check_overlaps(path, regs, "measurements")
    channels = _channels(path, spec)
    for w in warnings:
        log.warning("%s", w, extra={"action": "register_map"})
    s = spec.settings
    return RegisterMap(
        model=path.stem,
        source=f"plant register file {path.name} (names via {ALIASES_FILE.name})",
        transport="any",
        registers=tuple(regs),
        path=path,
        verified=True,
        max_gap=0,  # read only registers the plant's reader read (no holes between them)
        default_unit=channels[0].unit if channels else s.scan_slave_ids[0],
        info=MappingProxyType(info),
        texts=tuple(texts),
        channels=channels,
        serial=SerialDefaults(
            s.baudrate, s.bytesize, s.parity, s.stopbits, s.timeout, tuple(s.scan_slave_ids)
        ),
        warnings=tuple(warnings),
    )


def _channels(path: Path, spec: _PlantFile) -> tuple[Channel, ...]:
    out: list[Channel] = []
    for i, c in enumerate(spec.channels):
        key = f"channels[{i}] ({c.name})"
        if any(o.unit == c.slave_id for o in out):
            raise map_error(
                path, f"{key}.slave_id", f"slave id {c.slave_id} used by another channel"
            )
        if any(o.name == c.name for o in out):
            raise map_error(path, f"{key}.name", "name used by another channel")
        detection = None
        if c.detection is not None:
            d = c.detection
            field = TextRegister("identifier", d.fn, d.address, d.count)
            detection = Detection(field, d.expected_prefix)
        out.append(Channel(c.name, c.slave_id, detection))
    return tuple(out)


def channel_meter_name(channel: str) -> str:
    """A meter name (MQTT topic level) for a channel name: ``CH30 canal 1`` -> ``ch30_canal_1``."""
    out = "".join(ch if ch.isascii() and (ch.isalnum() or ch in "_.-") else "_" for ch in channel)
    out = "_".join(part for part in out.lower().split("_") if part)
    return out[:64] or "channel"
