"""Progress of a long job: a tqdm bar (rate, ETA) on a terminal, plain log lines otherwise.

A bar redrawn with carriage returns is noise in a log file or a container's output, so
when the stream is not a TTY the same figures go to the log every ``interval`` seconds
(and once at the end), measured with an injectable clock.
"""

from __future__ import annotations

import logging
import shutil
import sys
import time
from collections.abc import Callable
from typing import Protocol, TextIO

from tqdm import tqdm

from ingestor.legacy_text import count, duration, t

log = logging.getLogger(__name__)


class Progress(Protocol):
    def update(self, n: int) -> None: ...
    def close(self) -> None: ...


class LogProgress:
    """One ``import: 12.000 of 48.000 rows (25%), 9.870 rows/s, ~0:04 left`` line a while."""

    def __init__(
        self,
        total: int,
        lang: str,
        *,
        interval: float = 10.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._total = total
        self._lang = lang
        self._interval = interval
        self._clock = clock
        self._start = clock()
        self._next = self._start + interval
        self.done = 0

    def update(self, n: int) -> None:
        self.done += n
        now = self._clock()
        if now >= self._next:
            self._next = now + self._interval
            self._emit(now)

    def close(self) -> None:
        self._emit(self._clock())

    def line(self, now: float) -> str:
        elapsed = max(now - self._start, 1e-9)
        rate = self.done / elapsed
        left = max(self._total - self.done, 0)
        eta = duration(left / rate) if rate > 0 else "?"
        pct = f"{100 * self.done / self._total:.0f}%" if self._total else "100%"
        return t(
            "progress_line",
            self._lang,
            done=count(self.done, self._lang),
            total=count(self._total, self._lang),
            pct=pct,
            rate=count(rate, self._lang),
            eta=eta,
        )

    def _emit(self, now: float) -> None:
        log.info("%s", self.line(now), extra={"action": "import_progress", "rows": self.done})


class BarProgress:
    """tqdm's bar: count, percentage, rate and ETA, redrawn in place on the terminal."""

    def __init__(self, total: int, label: str, unit: str, stream: TextIO) -> None:
        self._bar = tqdm(
            total=total,
            desc=label,
            unit=f" {unit}",
            unit_scale=True,
            file=stream,
            ncols=shutil.get_terminal_size().columns or 100,  # 0 on a pty never sized
            smoothing=0.1,
            mininterval=0.5,
        )

    def update(self, n: int) -> None:
        self._bar.update(n)

    def close(self) -> None:
        self._bar.close()


def progress(
    total: int,
    *,
    label: str,
    lang: str,
    stream: TextIO | None = None,
    interval: float = 10.0,
    clock: Callable[[], float] = time.monotonic,
) -> Progress:
    """A bar when ``stream`` (default stderr) is a terminal, log lines otherwise."""
    stream = sys.stderr if stream is None else stream
    if stream.isatty():
        return BarProgress(total, label, t("rows", lang), stream)
    return LogProgress(total, lang, interval=interval, clock=clock)
