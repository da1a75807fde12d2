"""Home Assistant MQTT discovery messages for a meter (pure; retained config topics).

Each quantity becomes a sensor whose state is the retained state topic of the contract
(`<root>/<site>/<meter>/state/<quantity>`) and whose availability follows the meter's
status topic (`online` / `unreachable`).
"""

from __future__ import annotations

import json
from collections.abc import Iterable

import contract
from contract.quantities import QUANTITIES, Group, Kind

# Home Assistant sensor device classes by quantity group.
_DEVICE_CLASS = {
    Group.VOLTAGE: "voltage",
    Group.CURRENT: "current",
    Group.ACTIVE_POWER: "power",
    Group.REACTIVE_POWER: "reactive_power",
    Group.APPARENT_POWER: "apparent_power",
    Group.POWER_FACTOR: "power_factor",
    Group.FREQUENCY: "frequency",
    Group.DEMAND: "power",
}


def discovery_messages(
    *,
    prefix: str,
    root: str,
    site: str,
    meter: str,
    model: str,
    quantities: Iterable[str],
    lang: str = "pt-BR",
) -> list[tuple[str, bytes]]:
    """(topic, retained payload) of each sensor's discovery config."""
    node = f"emusa_{site}_{meter}".replace("-", "_").replace(".", "_")
    device = {
        "identifiers": [node],
        "name": f"{site} {meter}",
        "model": model,
        "manufacturer": "EMUSA Energy",
    }
    out = []
    for name in quantities:
        q = QUANTITIES[name]
        config: dict[str, object] = {
            "name": q.label_pt if lang == "pt-BR" else q.label_en,
            "unique_id": f"{node}_{name}",
            "object_id": f"{node}_{name}",
            "state_topic": contract.state_topic(root, site, meter, name),
            "availability_topic": contract.meter_status_topic(root, site, meter),
            "payload_available": contract.STATUS_ONLINE,
            "payload_not_available": contract.STATUS_UNREACHABLE,
            "device": device,
        }
        if q.unit:
            config["unit_of_measurement"] = q.unit
        if q.kind is Kind.COUNTER:
            config["state_class"] = "total_increasing"
            if q.unit == "kWh":
                config["device_class"] = "energy"
            else:
                config["device_class"] = "reactive_energy"
        else:
            config["state_class"] = "measurement"
            if q.group in _DEVICE_CLASS:
                config["device_class"] = _DEVICE_CLASS[q.group]
        topic = f"{prefix}/sensor/{node}/{name}/config"
        out.append((topic, json.dumps(config, ensure_ascii=False, separators=(",", ":")).encode()))
    return out
