"""What the three services agree on, below all of them (docs/architecture.md).

The gateway, the ingestor and the analytics worker import this package; it imports none
of them, and nothing here opens a network or database connection. Its modules:

- ``contract.messages`` (re-exported here): MQTT topics and the reading payload, v1;
- ``contract.quantities``: the canonical quantity registry (names, units, labels);
- ``contract.aliases``: the plant's register names -> canonical quantities;
- ``contract.diagnostics``: the Modbus diagnostics payload;
- ``contract.meterinfo``: the meter metadata payload (``<root>/<site>/<meter>/info``);
- ``contract.mqtt_url``: ``EMUSA_MQTT_URL`` parsed;
- ``contract.settings``: environment settings, the strict config base, shared validators;
- ``contract.sqlfiles``: the one loader of named SQL queries (``-- name:`` files);
- ``contract.datafiles``: the one reader of JSON/YAML data files (maps, aliases);
- ``contract.logs``: the services' logging setup;
- ``contract.errors``: ``ContractError``, the package's one exception base.
"""

from contract.errors import ContractError
from contract.messages import (
    DEFAULT_ROOT,
    MAX_PAYLOAD_BYTES,
    STATUS_OFFLINE,
    STATUS_ONLINE,
    STATUS_UNREACHABLE,
    VERSION,
    Reading,
    alerts_topic,
    bus_diagnostics_topic,
    check_name,
    check_root,
    decode,
    decode_object,
    demand_projection_topic,
    diagnostics_subscriptions,
    encode,
    format_ts,
    gateway_status_topic,
    load_object,
    meter_diagnostics_topic,
    meter_info_subscription,
    meter_info_topic,
    meter_status_topic,
    parse_diagnostics_topic,
    parse_meter_info_topic,
    parse_reading_topic,
    parse_ts,
    reading_subscription,
    reading_topic,
    state_topic,
    summaries_topic,
)

__all__ = [
    "DEFAULT_ROOT",
    "MAX_PAYLOAD_BYTES",
    "STATUS_OFFLINE",
    "STATUS_ONLINE",
    "STATUS_UNREACHABLE",
    "VERSION",
    "ContractError",
    "Reading",
    "alerts_topic",
    "bus_diagnostics_topic",
    "check_name",
    "check_root",
    "decode",
    "decode_object",
    "demand_projection_topic",
    "diagnostics_subscriptions",
    "encode",
    "format_ts",
    "gateway_status_topic",
    "load_object",
    "meter_diagnostics_topic",
    "meter_info_subscription",
    "meter_info_topic",
    "meter_status_topic",
    "parse_diagnostics_topic",
    "parse_meter_info_topic",
    "parse_reading_topic",
    "parse_ts",
    "reading_subscription",
    "reading_topic",
    "state_topic",
    "summaries_topic",
]
