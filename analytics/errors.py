"""The analytics service's exceptions: one base for everything it raises."""

from __future__ import annotations


class AnalyticsError(Exception):
    """Base of every error raised by the analytics service."""


class DatabaseError(AnalyticsError):
    """The database refused or failed an operation; the driver error is chained."""


class ConfigError(AnalyticsError):
    """A missing or malformed setting; the message names the variable."""


class LlmError(AnalyticsError):
    """The language-model endpoint failed or answered something unusable."""


class PublishError(AnalyticsError):
    """The MQTT broker could not be reached or did not acknowledge in time."""
