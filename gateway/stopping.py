"""Stop the gateway cleanly on Ctrl-C, Ctrl-Break (Windows) and SIGTERM, on every OS.

asyncio's ``loop.add_signal_handler`` exists only on POSIX event loops: Windows' loops
raise NotImplementedError. There the handlers are installed with ``signal.signal``, and
they hand the stop over to the loop thread-safely. Either way the previous handlers are
put back on exit.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import Callable, Iterator
from types import FrameType

log = logging.getLogger(__name__)


def stop_signals() -> list[signal.Signals]:
    """SIGINT (Ctrl-C), SIGTERM, and SIGBREAK (Ctrl-Break) where the OS has it."""
    names = ("SIGINT", "SIGTERM", "SIGBREAK")
    return [getattr(signal, n) for n in names if hasattr(signal, n)]


@contextlib.contextmanager
def stop_on_signals(
    loop: asyncio.AbstractEventLoop,
    stop: asyncio.Event,
    signals: list[signal.Signals] | None = None,
) -> Iterator[str]:
    """Set ``stop`` when one of ``signals`` arrives; yields how ("loop" or "signal")."""
    sigs = stop_signals() if signals is None else signals
    installed: list[signal.Signals] = []
    try:
        for sig in sigs:
            loop.add_signal_handler(sig, stop.set)
            installed.append(sig)
    except NotImplementedError:  # Windows' event loops
        for sig in installed:
            loop.remove_signal_handler(sig)
        with _process_handlers(sigs, lambda: loop.call_soon_threadsafe(stop.set)):
            yield "signal"
        return
    try:
        yield "loop"
    finally:
        for sig in installed:
            with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
                loop.remove_signal_handler(sig)


@contextlib.contextmanager
def _process_handlers(
    sigs: list[signal.Signals], on_signal: Callable[[], object]
) -> Iterator[None]:
    def handler(signum: int, _frame: FrameType | None) -> None:
        log.info("stopping on %s", signal.Signals(signum).name, extra={"action": "stop"})
        on_signal()

    previous = {sig: signal.signal(sig, handler) for sig in sigs}
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)
