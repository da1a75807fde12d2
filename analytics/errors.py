"""The analytics service's exceptions: one base for everything it raises."""

from __future__ import annotations


class AnalyticsError(Exception):
    """Base of every error raised by the analytics service."""


class DatabaseError(AnalyticsError):
    """The database refused or failed an operation; the driver error is chained."""
