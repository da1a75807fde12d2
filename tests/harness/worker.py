"""The analytics worker's contexts a test makes, closed when the test ends.

A context's database session lives in a pool with worker threads; one left to the
garbage collector may be collected on one of those threads, which cannot join itself
(an unraisable error). ``tests/conftest.py`` closes every context made here after each
test."""

from __future__ import annotations

from analytics.config import Settings
from analytics.worker.context import Context

_open: list[Context] = []


def worker_context(settings: Settings) -> Context:
    """A worker context, closed at the end of the test (closing it earlier is fine)."""
    ctx = Context(settings)
    _open.append(ctx)
    return ctx


def close_worker_contexts() -> None:
    while _open:
        _open.pop().close()
