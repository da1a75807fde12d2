"""``mqtt://user:pass@host:port`` / ``mqtts://…`` URLs (EMUSA_MQTT_URL), parsed once."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import unquote, urlsplit


@dataclass(frozen=True, slots=True)
class MqttEndpoint:
    host: str
    port: int
    tls: bool
    username: str | None
    password: str | None

    def redacted(self) -> str:
        """The URL without its password, for logs and error messages."""
        user = f"{self.username}:***@" if self.username else ""
        return f"{'mqtts' if self.tls else 'mqtt'}://{user}{self.host}:{self.port}"


def parse(url: str, variable: str = "EMUSA_MQTT_URL") -> MqttEndpoint:
    """Parse ``url``; ``ValueError`` naming ``variable`` when it is not an MQTT URL."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise ValueError(f"{variable}: {exc}") from None
    if parts.scheme not in {"mqtt", "mqtts"} or not parts.hostname:
        raise ValueError(
            f"{variable}: {url.rsplit('@', 1)[-1]!r} is not mqtt://[user:pass@]host[:port] or mqtts://…"
        )
    tls = parts.scheme == "mqtts"
    return MqttEndpoint(
        host=parts.hostname,
        port=port or (8883 if tls else 1883),
        tls=tls,
        username=unquote(parts.username) if parts.username else None,
        password=unquote(parts.password) if parts.password else None,
    )
