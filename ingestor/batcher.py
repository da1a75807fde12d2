"""Size- and age-bounded batching (pure: the clock is passed in).

A batch is cut when it holds ``max_rows`` items or when its oldest item is ``max_age``
seconds old, whichever comes first.
"""

from __future__ import annotations

from typing import Generic, TypeVar

T = TypeVar("T")


class Batcher(Generic[T]):
    def __init__(self, max_rows: int, max_age: float) -> None:
        if max_rows < 1 or max_age <= 0:
            raise ValueError("max_rows must be >= 1 and max_age > 0")
        self.max_rows = max_rows
        self.max_age = max_age
        self._items: list[T] = []
        self._opened = 0.0

    def __len__(self) -> int:
        return len(self._items)

    def add(self, item: T, now: float) -> bool:
        """Add an item; True when the batch is now full and should be taken."""
        if not self._items:
            self._opened = now
        self._items.append(item)
        return len(self._items) >= self.max_rows

    def due(self, now: float) -> bool:
        """True when the batch is non-empty and full or old enough."""
        return bool(self._items) and (
            len(self._items) >= self.max_rows or now - self._opened >= self.max_age
        )

    def wait_time(self, now: float) -> float | None:
        """Seconds until the batch is due by age (0 if due); None when empty."""
        if not self._items:
            return None
        return max(0.0, self._opened + self.max_age - now)

    def take(self) -> list[T]:
        items, self._items = self._items, []
        return items
