"""The metadata message of a meter read with a register map (contract/meterinfo.py)."""

from __future__ import annotations

from contract.meterinfo import MeterInfo, RegisterEntry
from contract.quantities import QUANTITIES
from gateway.mapmodel import RegisterMap


def meter_info(
    *,
    site: str,
    meter: str,
    gateway: str,
    unit: int,
    regmap: RegisterMap,
    channel: str | None = None,
    identifier: str | None = None,
    port: str | None = None,
) -> MeterInfo:
    """The metadata of a meter read with ``regmap`` (descriptions from the plant's file)."""
    entries = []
    for reg in regmap.registers:
        info = regmap.info.get(reg.name)
        entries.append(
            RegisterEntry(
                quantity=reg.name,
                unit=QUANTITIES[reg.name].unit,
                name=info.label if info else None,
                description=(info.description or None) if info else None,
                ai=info.ai if info else None,
            )
        )
    return MeterInfo(
        site=site,
        meter=meter,
        gateway=gateway,
        model=regmap.model,
        map=regmap.path.name if regmap.path is not None else None,
        unit=unit,
        channel=channel,
        identifier=identifier,
        port=port,
        registers=tuple(entries),
    )
