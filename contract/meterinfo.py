"""Meter metadata message of the MQTT contract: what a meter is and what it measures.

Published by the gateway, retained (QoS 1, latest wins), on ``<root>/<site>/<meter>/info``
(topic: contract.meter_info_topic) at start and again whenever the meter's
identifier or port changes (a channel of the plant's file answering with another
identifier, a serial port found by ``port: auto``). The ingestor stores it in ``meters``
and ``meter_registers`` (migration 0019), so operators see the plant's own names and
descriptions in Grafana's "Registros monitorados". Pure module: no network imports.

Payload v1 (no timestamp: the same meter gives the same bytes, so a republish is a no-op)::

    {"v": 1, "site": "plant", "meter": "ch30_canal_1", "gateway": "gw1",
     "model": "kron03_real", "map": "kron03_real.json", "unit": 1,
     "channel": "CH30 canal 1", "identifier": "CH30-001", "port": "/dev/ttyUSB0 9600 8N2",
     "registers": [
       {"quantity": "v_l1n", "unit": "V", "name": "tensao_l1",
        "description": "Tensão fase-neutro L1", "ai": false}, ...]}

``model``: the register map's model; ``map``: its file name (null when the map has no
file); ``unit``: the Modbus unit (slave) id; ``channel``/``identifier``: the
channel of the plant's file and what its detection read answered (null for other maps, or
before the first answer); ``port``: where the meter is reached (serial port and line, or
host:port; null when not known yet). ``registers``: the canonical quantities the meter
publishes, in the map's order, each with the unit of its published value and, from the
plant's file only (else null), the file's own ``name``, ``description`` and ``ai`` flag.
Refused with the readings' reject reasons (missing_field, unknown_field, bad_version,
bad_name, topic_mismatch, bad_type, unknown_quantity, duplicate_key, too_large, bad_json).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

from contract.errors import ContractError
from contract.messages import check_name, load_object
from contract.quantities import QUANTITIES

VERSION: Final = 1
MAX_INFO_BYTES: Final = 48 * 1024  # below the broker's max_packet_size (64 KiB)
MAX_REGISTERS: Final = 200
MAX_TEXT: Final = 200

_HEADER: Final[dict[str, str]] = {
    "v": "version",
    "site": "name",
    "meter": "name",
    "gateway": "name",
    "model": "text",
    "map": "text?",
    "unit": "unit",
    "channel": "text?",
    "identifier": "text?",
    "port": "text?",
    "registers": "registers",
}
_REGISTER: Final[dict[str, str]] = {
    "quantity": "quantity",
    "unit": "symbol",
    "name": "text?",
    "description": "text?",
    "ai": "bool?",
}


@dataclass(frozen=True, slots=True)
class RegisterEntry:
    """One published quantity of a meter, with the plant file's own words for it."""

    quantity: str
    unit: str
    name: str | None = None
    description: str | None = None
    ai: bool | None = None


@dataclass(frozen=True, slots=True)
class MeterInfo:
    site: str
    meter: str
    gateway: str
    model: str
    map: str | None
    unit: int
    channel: str | None
    identifier: str | None
    port: str | None
    registers: tuple[RegisterEntry, ...]


def to_document(info: MeterInfo) -> dict[str, Any]:
    return {
        "v": VERSION,
        "site": info.site,
        "meter": info.meter,
        "gateway": info.gateway,
        "model": info.model,
        "map": info.map,
        "unit": info.unit,
        "channel": info.channel,
        "identifier": info.identifier,
        "port": info.port,
        "registers": [
            {
                "quantity": r.quantity,
                "unit": r.unit,
                "name": r.name,
                "description": r.description,
                "ai": r.ai,
            }
            for r in info.registers
        ],
    }


def encode(info: MeterInfo) -> bytes:
    """The payload; ``ContractError`` when the message would break the contract."""
    doc = to_document(info)
    _check(doc)
    payload = json.dumps(doc, ensure_ascii=False, separators=(",", ":")).encode()
    if len(payload) > MAX_INFO_BYTES:
        raise ContractError(
            "too_large", f"info of {info.meter}: {len(payload)} bytes exceeds {MAX_INFO_BYTES}"
        )
    return payload


def decode(
    payload: bytes, *, topic: tuple[str, str] | None = None, max_bytes: int = MAX_INFO_BYTES
) -> MeterInfo:
    """Parse and validate an info payload; ``topic``: the (site, meter) it came on."""
    doc = load_object(payload, max_bytes)
    _check(doc)
    if topic is not None and (doc["site"], doc["meter"]) != topic:
        raise ContractError(
            "topic_mismatch", f"payload is {doc['site']}/{doc['meter']}, topic {'/'.join(topic)}"
        )
    registers = tuple(RegisterEntry(**r) for r in doc["registers"])
    fields = {k: doc[k] for k in _HEADER if k not in ("v", "registers")}
    return MeterInfo(**fields, registers=registers)


def _check(doc: Mapping[str, Any]) -> None:
    _fields(doc, _HEADER, "")
    if doc["v"] != VERSION or isinstance(doc["v"], bool):
        raise ContractError("bad_version", f"info version {doc['v']!r} (this is v{VERSION})")
    registers = doc["registers"]
    seen: set[str] = set()
    for i, reg in enumerate(registers):
        if not isinstance(reg, dict):
            raise ContractError("bad_type", f"registers[{i}] must be an object")
        _fields(reg, _REGISTER, f"registers[{i}].")
        if reg["quantity"] in seen:
            raise ContractError("duplicate_key", f"registers[{i}]: {reg['quantity']} twice")
        seen.add(reg["quantity"])


def _fields(doc: Mapping[str, Any], spec: Mapping[str, str], where: str) -> None:
    missing = [k for k in spec if k not in doc]
    if missing:
        raise ContractError("missing_field", ", ".join(f"{where}{k}" for k in missing))
    unknown = sorted(set(doc) - set(spec))
    if unknown:
        names = ", ".join(f"{where}{k}" for k in unknown)
        raise ContractError("unknown_field", f"{names} (info v{VERSION})")
    for name, kind in spec.items():
        _check_value(f"{where}{name}", kind, doc[name])


def _is_text(value: object) -> bool:
    return isinstance(value, str) and 0 < len(value) <= MAX_TEXT


def _is_unit(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= 255


def _is_registers(value: object) -> bool:
    return isinstance(value, list) and 0 < len(value) <= MAX_REGISTERS


# kind -> (test, reason, what the value must be)
_KINDS: Final = {
    "text": (_is_text, "bad_type", f"a text of 1-{MAX_TEXT} characters"),
    "symbol": (lambda v: isinstance(v, str) and len(v) <= 16, "bad_type", "a unit symbol ('' for none)"),
    "bool": (lambda v: isinstance(v, bool), "bad_type", "true or false"),
    "unit": (_is_unit, "bad_type", "a Modbus unit id 0-255"),
    "quantity": (lambda v: isinstance(v, str) and v in QUANTITIES, "unknown_quantity",
                 "a canonical quantity (contract/quantities.py)"),
    "registers": (_is_registers, "bad_type", f"a list of 1-{MAX_REGISTERS} objects"),
}  # fmt: skip


def _check_value(name: str, kind: str, value: object) -> None:
    if kind.endswith("?"):
        if value is None:
            return
        kind = kind[:-1]
    if kind == "name":
        if not isinstance(value, str):
            raise ContractError("bad_name", f"{name} must be a text, got {type(value).__name__}")
        check_name(name, value)
    elif kind in _KINDS:
        test, reason, what = _KINDS[kind]
        if not test(value):
            raise ContractError(reason, f"{name} must be {what}, got {value!r:.60}")
    # "version" is checked by _check (its own reason)
