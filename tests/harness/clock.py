"""Test clocks: the session's chosen "now", and a monotonic clock moved by hand.

No test may depend on the wall clock. A test that needs "now" (recent data, "yesterday",
a worker's scheduler) takes ``session_now()`` as its base instant, derives its data and
its expectations from it, and hands it to the services it starts (``emusa-analytics run
--clock-start``). By default it is the wall clock at the start of the session (printed in
pytest's header); ``EMUSA_TEST_NOW=2026-03-31T13:59:00-03:00`` replays a run at any
instant, which is how a test is shown not to depend on the hour, minute or day.
"""

from __future__ import annotations

import functools
import os
from datetime import UTC, datetime

TEST_NOW = "EMUSA_TEST_NOW"


@functools.cache
def session_now() -> datetime:
    """``$EMUSA_TEST_NOW`` (ISO 8601 with an offset), else the wall clock at first call."""
    text = os.environ.get(TEST_NOW, "").strip()
    if not text:
        return datetime.now(UTC).replace(microsecond=0)
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(f"{TEST_NOW}: not an ISO 8601 instant: {text!r}") from None
    if value.tzinfo is None:
        raise ValueError(f"{TEST_NOW}: needs a UTC offset, as in 2026-03-31T13:59:00-03:00")
    return value.astimezone(UTC)


class FakeClock:
    """A monotonic clock the test moves by hand (``clock.t += 1.5``)."""

    def __init__(self, start: float = 1000.0) -> None:
        self.t = start

    def __call__(self) -> float:
        return self.t
