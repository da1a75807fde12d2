"""Which retained per-quantity state topics to publish, and when (pure, thread-safe).

Without an interval (the default) every reading's values are published, all of them,
as soon as the reading is taken. With ``mqtt.state_interval`` = N seconds a meter's
state topics are published at most once every N seconds, always with the latest
reading's values, and only the quantities whose value changed since they were last
published (the retained topic already holds the others). Values read inside the window
are not lost: the newest of them is published when the window closes, even if the
meter stops answering meanwhile (the publisher's pump calls ``due`` every 0.5 s).

After a (re)connect nothing is assumed about the broker's retained topics (it may have
restarted without persistence): the next publish of each meter sends every quantity.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping

State = tuple[str, str, str]  # (meter, quantity, payload)


def payload(value: float) -> str:
    """The text of a state topic: the shortest repr that reads back as the same float."""
    return repr(float(value))


class StateTopics:
    def __init__(self, interval: float | None) -> None:
        self.interval = interval
        self._lock = threading.Lock()
        self._pending: dict[str, dict[str, str]] = {}  # meter -> quantity -> payload
        self._sent: dict[tuple[str, str], str] = {}  # (meter, quantity) -> payload published
        self._next: dict[str, float] = {}  # meter -> earliest monotonic time of its next publish

    def update(self, meter: str, values: Mapping[str, float]) -> None:
        """Keep a reading's values as the meter's latest (merged with those not yet sent)."""
        fresh = {name: payload(v) for name, v in values.items()}
        with self._lock:
            self._pending.setdefault(meter, {}).update(fresh)

    def due(self, now: float, meter: str | None = None) -> list[State]:
        """What to publish now (of ``meter`` only, or of every meter whose window closed)."""
        with self._lock:
            meters = [meter] if meter is not None else list(self._pending)
            out: list[State] = []
            for m in meters:
                if m in self._pending and now >= self._next.get(m, now):
                    out.extend(self._take(m, now))
            return out

    def forget_sent(self) -> None:
        """The broker may have lost its retained topics: send every quantity next time."""
        with self._lock:
            self._sent.clear()
            self._next.clear()

    def _take(self, meter: str, now: float) -> list[State]:
        values = self._pending.pop(meter)
        if self.interval is None:
            return [(meter, q, p) for q, p in values.items()]
        out = [(meter, q, p) for q, p in values.items() if self._sent.get((meter, q)) != p]
        if out:
            self._sent.update({(meter, q): p for _, q, p in out})
            self._next[meter] = now + self.interval
        return out
