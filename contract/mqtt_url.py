"""``mqtt://user:pass@host:port`` / ``mqtts://…`` URLs (EMUSA_MQTT_URL), parsed once for
every service."""

from __future__ import annotations

from dataclasses import dataclass, field
from urllib.parse import unquote, urlsplit


@dataclass(frozen=True, slots=True)
class MqttEndpoint:
    host: str
    port: int
    tls: bool
    username: str | None = None
    password: str | None = field(default=None, repr=False)

    def client_id(self, fallback: str) -> str:
        """The login, when there is one, else ``fallback``. The shipped broker makes every
        login its client id (``use_username_as_clientid``): services use the same name, so
        their logs and the broker's agree, and one login holds one session."""
        return self.username or fallback

    def redacted(self) -> str:
        """The URL without its password, for logs and error messages."""
        user = f"{self.username}:***@" if self.username else ""
        return f"{'mqtts' if self.tls else 'mqtt'}://{user}{self.host}:{self.port}"


def parse(url: str, variable: str | None = "EMUSA_MQTT_URL") -> MqttEndpoint:
    """Parse ``url`` (TLS default port 8883, else 1883).

    ``ValueError`` says what is wrong, prefixed with ``variable`` when given; the message
    never contains the password.
    """

    def fail(why: str) -> ValueError:
        return ValueError(f"{variable}: {why}" if variable else why)

    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise fail(f"is not a valid URL: {exc}") from None
    if parts.scheme not in {"mqtt", "mqtts"}:
        raise fail("must start with mqtt:// or mqtts://")
    if not parts.hostname:
        raise fail("has no host (mqtt://user:pass@host:1883)")
    if parts.path not in {"", "/"} or parts.query:
        raise fail("takes no path or query")
    tls = parts.scheme == "mqtts"
    return MqttEndpoint(
        host=parts.hostname,
        port=port or (8883 if tls else 1883),
        tls=tls,
        username=unquote(parts.username) if parts.username else None,
        password=unquote(parts.password) if parts.password is not None else None,
    )
