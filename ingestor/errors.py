"""The ingestor's exceptions: one base, so callers can catch everything we raise."""

from __future__ import annotations


class IngestorError(Exception):
    """Base of every error raised by the ingestor."""


class ConfigError(IngestorError):
    """A setting (environment variable or flag) is missing or malformed; names it."""


class DatabaseError(IngestorError):
    """The database refused or failed an operation; the driver error is chained."""


class MigrationError(IngestorError):
    """The migration files or the recorded migration history are inconsistent."""


class DatabaseUnavailable(DatabaseError):  # noqa: N818 - a state, not a mistake
    """The database cannot be reached or is busy for now; the same batch is retried."""


class BatchError(DatabaseError):
    """The database refused a batch for what it contains; its messages are isolated."""


class LegacySourceError(IngestorError):
    """``import-legacy``: the old app's database, table or columns cannot be used; names which."""
