"""Gateway configuration: one YAML file, validated by typed models that reject unknown keys.

Secrets come from the environment: ``EMUSA_MQTT_URL`` overrides ``mqtt.url`` (and carries
the user and password), ``EMUSA_SITE`` overrides ``site``, ``EMUSA_TOPIC_ROOT`` overrides
``mqtt.topic_root``. Errors name the file and the key path, for example
``gateway.yaml: buses.0.meters.1.unit: Input should be less than or equal to 255``.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Literal

import yaml
from pydantic import Field, ValidationError, field_validator, model_validator

from contract import DEFAULT_ROOT, check_name
from contract.settings import MqttUrl, Strict, TopicRoot
from gateway.errors import ConfigError, GatewayError
from gateway.plantfile import channel_meter_name
from gateway.registers import load_map


def _name(kind: str, value: str) -> str:
    try:
        return check_name(kind, value)
    except ValueError as exc:
        raise ValueError(str(exc)) from None


class MeterConfig(Strict):
    name: str
    model: str | None = Field(default=None, description="a shipped register map, e.g. kron_konect")
    map_file: Path | None = Field(default=None, description="a register map file of your own")
    unit: int = Field(default=1, ge=0, le=255, description="Modbus unit (slave) id")
    enabled: bool = True
    order: Literal["ABCD", "CDAB", "BADC", "DCBA"] | None = Field(
        default=None, description="byte/word order for every register of the map (override)"
    )

    @field_validator("name")
    @classmethod
    def _check_name(cls, v: str) -> str:
        return _name("meter name", v)

    @model_validator(mode="after")
    def _one_map(self) -> MeterConfig:
        if (self.model is None) == (self.map_file is None):
            raise ValueError("give exactly one of 'model' (a shipped map) or 'map_file'")
        return self


class _BusBase(Strict):
    name: str
    timeout: float = Field(default=1.0, gt=0, le=30, description="seconds to wait for an answer")
    retries: int = Field(default=1, ge=0, le=5, description="extra attempts per request")
    inter_frame_delay: float = Field(
        default=0.0, ge=0, le=1, description="seconds of silence between requests on this bus"
    )
    meters: list[MeterConfig] = Field(min_length=1)
    map_file: Path | None = Field(
        default=None,
        description="the plant's register file (registers_kron03_real.json): each channel it"
        " lists becomes a meter of this bus, its settings the line's defaults",
    )
    order: Literal["ABCD", "CDAB", "BADC", "DCBA"] | None = Field(
        default=None, description="with map_file: byte/word order for the whole file (override)"
    )

    @field_validator("name")
    @classmethod
    def _check_name(cls, v: str) -> str:
        return _name("bus name", v)

    @model_validator(mode="after")
    def _unique(self) -> _BusBase:
        units = [m.unit for m in self.meters]
        dup = {u for u in units if units.count(u) > 1}
        if dup:
            raise ValueError(f"unit ids used twice on bus {self.name}: {sorted(dup)}")
        return self


class TcpBusConfig(_BusBase):
    type: Literal["tcp"]
    host: str
    port: int = Field(default=502, ge=1, le=65535)


class RtuBusConfig(_BusBase):
    type: Literal["rtu"]
    port: str = Field(description="serial device, e.g. /dev/ttyUSB0, COM3, or 'auto'")
    baudrate: int = Field(default=9600, ge=1200, le=921600)
    parity: Literal["N", "E", "O"] = "N"
    stopbits: Literal[1, 2] = 2
    bytesize: Literal[7, 8] = 8
    inter_frame_delay: float = Field(default=0.005, ge=0, le=1)


BusConfig = Annotated[TcpBusConfig | RtuBusConfig, Field(discriminator="type")]


class TlsConfig(Strict):
    ca_file: Path | None = None
    cert_file: Path | None = None
    key_file: Path | None = None
    insecure: bool = Field(default=False, description="skip host name checks (testing only)")


class MqttConfig(Strict):
    url: MqttUrl = "mqtt://localhost:1883"
    topic_root: TopicRoot = DEFAULT_ROOT
    client_id: str | None = Field(
        default=None,
        description="default: the login of the MQTT URL, else emusa-gateway-<site>-<gateway_id>",
    )
    keepalive: int = Field(default=30, ge=5, le=3600)
    state_topics: bool = Field(default=True, description="retained <meter>/state/<quantity>")
    state_interval: float | None = Field(
        default=None,
        ge=1,
        le=3600,
        description="seconds: publish a meter's state topics at most this often, changed"
        " values only (default: every reading, all values)",
    )
    homeassistant_discovery: bool = False
    homeassistant_prefix: TopicRoot = "homeassistant"
    tls: TlsConfig | None = None

    @model_validator(mode="after")
    def _interval_needs_topics(self) -> MqttConfig:
        if self.state_interval is not None and not self.state_topics:
            raise ValueError("state_interval is set but state_topics is false (drop one)")
        return self


class QueueConfig(Strict):
    path: Path | None = Field(
        default=None,
        description="SQLite file; relative to the config file's folder; default: the data"
        " folder (EMUSA_GATEWAY_DATA_DIR, else the per-user one, see gateway/paths.py)",
    )
    max_messages: int = Field(default=1_000_000, ge=100, description="oldest dropped beyond this")


class DiagnosticsConfig(Strict):
    enabled: bool = Field(default=True, description="publish retained Modbus diagnostics")
    interval: float = Field(
        default=15.0, ge=1, le=3600, description="seconds between diagnostics messages"
    )


class GatewayConfig(Strict):
    site: str
    gateway_id: str = "gw1"
    poll_interval: float = Field(default=1.0, gt=0, le=3600, description="seconds between polls")
    mqtt: MqttConfig = MqttConfig()
    queue: QueueConfig = QueueConfig()
    diagnostics: DiagnosticsConfig = DiagnosticsConfig()
    buses: list[BusConfig] = Field(min_length=1)

    @field_validator("site", "gateway_id")
    @classmethod
    def _check_names(cls, v: str) -> str:
        return _name("site/gateway id", v)

    @model_validator(mode="after")
    def _unique_names(self) -> GatewayConfig:
        for kind, names in (
            ("bus", [b.name for b in self.buses]),
            ("meter", [m.name for b in self.buses for m in b.meters]),
        ):
            dup = sorted({n for n in names if names.count(n) > 1})
            if dup:
                raise ValueError(f"{kind} names used twice: {dup}")
        return self


ENV_OVERRIDES = {
    "EMUSA_MQTT_URL": ("mqtt", "url"),
    "EMUSA_SITE": ("site",),
    "EMUSA_TOPIC_ROOT": ("mqtt", "topic_root"),
}


def _apply_env(doc: dict[str, object], env: Mapping[str, str]) -> None:
    for var, path in ENV_OVERRIDES.items():
        value = env.get(var)
        if not value:
            continue
        node = doc
        for key in path[:-1]:
            child = node.setdefault(key, {})
            if not isinstance(child, dict):
                raise ConfigError(f"{'.'.join(path[:-1])} must be a mapping to apply {var}")
            node = child
        node[path[-1]] = value


_LINE_KEYS = ("baudrate", "bytesize", "parity", "stopbits")


def _expand_plant_files(doc: dict[str, object], path: Path) -> None:
    """A bus with ``map_file`` (the plant's register file) gets one meter per channel of the
    file (named after the channel) and the file's serial settings where it sets none."""
    buses = doc.get("buses")
    for i, bus in enumerate(buses if isinstance(buses, list) else []):
        if not isinstance(bus, dict) or bus.get("map_file") is None:
            continue
        where = f"{path.name}: buses.{bus.get('name', i)}"
        if "meters" in bus:
            raise ConfigError(f"{where}: give either meters or map_file (its channels), not both")
        file = Path(str(bus["map_file"]))
        file = (file if file.is_absolute() else path.parent / file).resolve()
        try:
            regmap = load_map(file)
        except GatewayError as exc:
            raise ConfigError(f"{where}.map_file: {exc}") from exc
        units = [c.unit for c in regmap.channels]
        if not units and regmap.serial is not None:
            units = list(regmap.serial.scan_units[:1])
        names = [channel_meter_name(c.name) for c in regmap.channels] or [file.stem]
        meter: dict[str, object] = {"map_file": str(file)}
        if bus.get("order") is not None:
            meter["order"] = bus["order"]
        bus["meters"] = [{"name": n, "unit": u, **meter} for n, u in zip(names, units, strict=True)]
        if regmap.serial is not None:
            bus.setdefault("timeout", regmap.serial.timeout)
            if bus.get("type") == "rtu":
                for key in _LINE_KEYS:
                    bus.setdefault(key, getattr(regmap.serial, key))


def load(path: Path, env: Mapping[str, str] | None = None) -> GatewayConfig:
    """Read and validate the YAML file at ``path``; ``ConfigError`` names file and key."""
    env = os.environ if env is None else env
    try:
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror}") from exc
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {exc}") from exc
    if not isinstance(doc, dict):
        raise ConfigError(f"{path}: the top level must be a mapping (site, mqtt, buses, …)")
    _apply_env(doc, env)
    _expand_plant_files(doc, path)
    try:
        config = GatewayConfig.model_validate(doc)
    except ValidationError as exc:
        lines = [
            f"{path.name}: {'.'.join(str(p) for p in err['loc']) or '(top)'}: {err['msg']}"
            for err in exc.errors()
        ]
        raise ConfigError("\n".join(lines)) from None
    base = path.parent
    for bus in config.buses:
        for meter in bus.meters:
            if (
                meter.map_file is not None
                and not (base / meter.map_file).exists()
                and not meter.map_file.exists()
            ):
                raise ConfigError(
                    f"{path.name}: buses.{bus.name}.meters.{meter.name}.map_file: {meter.map_file} not found"
                )
    return config
