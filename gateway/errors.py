"""The gateway's exceptions: one base, so callers can catch everything it raises."""

from __future__ import annotations


class GatewayError(Exception):
    """Base of every error raised by the gateway."""


class ConfigError(GatewayError):
    """The gateway configuration is invalid; the message names the file and the key."""


class RegisterMapError(GatewayError):
    """A register map file is invalid; the message names the file, the register and the rule."""


class MeterError(GatewayError):
    """A meter could not be read (timeout, Modbus exception, garbage); names the meter."""


class MeterTimeout(MeterError):  # noqa: N818 - reads as what happened
    """The meter did not answer in time (unplugged, wrong unit id, wrong port)."""


class QueueError(GatewayError):
    """The on-disk queue failed (disk full, corrupt file)."""
