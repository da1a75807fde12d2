"""``emusa-gateway read`` and ``scan-ports`` on the plant's register file: every channel, its
identifier and its "Registros monitorados" (the plant's names, descriptions and AI flags).

Text for operators is pt-BR, English with ``EMUSA_LANG=en``.
"""

from __future__ import annotations

import json
import os
import sys
from dataclasses import dataclass, field
from typing import Any

from contract.quantities import QUANTITIES
from gateway.buses import open_bus
from gateway.config import MeterConfig, RtuBusConfig, TcpBusConfig
from gateway.errors import MeterError
from gateway.mapmodel import Channel, RegisterMap
from gateway.meter import identify, read_meter, read_text
from gateway.planner import plan
from gateway.scan import ProbeResult, SerialSettings, channels_to_probe

TEXT = {
    "pt-BR": {
        "port": "Porta",
        "slave": "escravo",
        "channel": "canal",
        "identifier": "identificador",
        "silent": "não respondeu",
        "registers": "Registros monitorados",
        "head": ("nome", "grandeza", "valor", "unidade", "descrição", "IA"),
        "yes": "sim",
        "no": "não",
        "dropped": "descartado",
        "probing": "procurando os canais de {model} em {settings}",
        "found": "ENCONTRADO",
        "none": "nenhuma porta serial encontrada",
    },
    "en": {
        "port": "Port",
        "slave": "slave",
        "channel": "channel",
        "identifier": "identifier",
        "silent": "did not answer",
        "registers": "Monitored registers",
        "head": ("name", "quantity", "value", "unit", "description", "AI"),
        "yes": "yes",
        "no": "no",
        "dropped": "dropped",
        "probing": "probing the channels of {model} at {settings}",
        "found": "FOUND",
        "none": "no serial port found",
    },
}


def _t(key: str) -> Any:
    lang = "en" if os.environ.get("EMUSA_LANG", "pt-BR") == "en" else "pt-BR"
    return TEXT[lang][key]


@dataclass
class ChannelRead:
    channel: Channel
    port: str
    identifier: str | None = None
    error: str | None = None
    values: dict[str, float] = field(default_factory=dict)
    dropped: dict[str, str] = field(default_factory=dict)
    texts: dict[str, str] = field(default_factory=dict)


async def read_channels(
    config: TcpBusConfig | RtuBusConfig, regmap: RegisterMap, units: list[int] | None
) -> list[ChannelRead]:
    """Identify and read every channel (those at ``units`` when given) on one bus; a channel
    that does not answer is reported, the others are still read."""
    bus = open_bus(config)
    out: list[ChannelRead] = []
    try:
        for channel in channels_to_probe(regmap, units):
            result = ChannelRead(channel, bus.where())
            try:
                result.identifier = await identify(bus, channel.unit, channel)
                got = await read_meter(bus, channel.unit, regmap, plan(regmap))
                result.values, result.dropped = got.values, got.dropped
                for text in regmap.texts:
                    result.texts[text.name] = await read_text(bus, channel.unit, text)
            except MeterError as exc:
                result.error = str(exc)
            result.port = bus.where()  # port auto: the port found
            out.append(result)
    finally:
        await bus.close()
    return out


def channel_meters(regmap: RegisterMap, file: Any) -> list[MeterConfig]:
    """One MeterConfig per channel of the file (a bus needs its meters for port auto)."""
    units = [c.unit for c in channels_to_probe(regmap)] or [regmap.default_unit or 1]
    return [MeterConfig(name=f"ch{u}", map_file=file, unit=u) for u in units]


def registers_table(regmap: RegisterMap, read: ChannelRead) -> list[dict[str, Any]]:
    """The "Registros monitorados" rows: the plant's name, quantity, value, unit, text, AI."""
    rows = []
    for reg in regmap.registers:
        info = regmap.info.get(reg.name)
        rows.append(
            {
                "name": info.label if info else reg.name,
                "quantity": reg.name,
                "value": read.values.get(reg.name),
                "unit": QUANTITIES[reg.name].unit,
                "description": info.description if info else "",
                "ai": info.ai if info else False,
                "dropped": read.dropped.get(reg.name),
            }
        )
    rows += [
        {"name": name, "quantity": None, "value": text, "unit": "", "description": t.description,
         "ai": False, "dropped": None}
        for t in regmap.texts
        for name, text in read.texts.items()
        if name == t.name
    ]  # fmt: skip
    return rows


def banner(read: ChannelRead) -> str:
    """The old app's connection line: port, slave id, channel, identifier."""
    c = read.channel
    head = f"{_t('port')} {read.port} · {_t('slave')} {c.unit} · {_t('channel')} {c.name}"
    if read.error is not None:
        return f"{head} · {_t('silent')}: {read.error}"
    ident = f" · {_t('identifier')} {read.identifier}" if read.identifier is not None else ""
    return head + ident


def print_reads(regmap: RegisterMap, reads: list[ChannelRead], fmt: str) -> int:
    """Print what ``read_channels`` got; 0 when at least one channel answered."""
    if fmt == "json":
        doc = {
            "model": regmap.model,
            "channels": [
                {
                    "channel": r.channel.name,
                    "unit": r.channel.unit,
                    "port": r.port,
                    "identifier": r.identifier,
                    "answered": r.error is None,
                    "error": r.error,
                    "values": r.values,
                    "dropped": r.dropped,
                    "registers": registers_table(regmap, r),
                }
                for r in reads
            ],
        }
        json.dump(doc, sys.stdout, ensure_ascii=False, indent=2)
        sys.stdout.write("\n")
    else:
        yes, no = _t("yes"), _t("no")
        for r in reads:
            print(banner(r))
            if r.error is not None:
                continue
            print(f"  {_t('registers')}")
            h = _t("head")
            print(f"  {h[0]:<18} {h[1]:<10} {h[2]:>14} {h[3]:<7} {h[4]:<30} {h[5]}")
            for row in registers_table(regmap, r):
                value = row["value"]
                shown = (
                    f"{value:>14.4f}"
                    if isinstance(value, float)
                    else f"{value if value is not None else _t('dropped'):>14}"
                )
                print(
                    f"  {row['name']:<18} {row['quantity'] or '':<10} {shown} {row['unit']:<7}"
                    f" {row['description']:<30} {yes if row['ai'] else no}"
                )
    return 0 if any(r.error is None for r in reads) else 1


def print_scan(regmap: RegisterMap, settings: SerialSettings, results: list[ProbeResult]) -> int:
    """One line per port and channel: port, slave id, channel, identifier read."""
    print(_t("probing").format(model=regmap.model, settings=settings))
    for r in results:
        status = _t("found") if r.answered else _t("silent")
        print(
            f"{r.port:<24} {_t('slave')} {r.unit!s:<3} {r.channel or '':<16} {status:<14}"
            f" {r.identifier or r.detail} {r.description}".rstrip()
        )
    if not results:
        print(_t("none"))
    return 0 if any(r.answered for r in results) else 1
