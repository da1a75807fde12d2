"""Two linked pseudo-terminals: a null-modem cable in software (POSIX only).

``PtyPair`` opens two pty pairs and relays bytes between their master sides in a thread,
like ``socat -d pty,raw,echo=0 pty,raw,echo=0``: whatever is written to ``a`` comes out of
``b`` and back. The simulator serves on ``a``; the gateway opens ``b`` exactly as a USB
RS-485 adapter. No baud-rate timing is emulated: bytes arrive as fast as the kernel moves
them. Used by ``emusa-gateway simulate --pty`` and the serial tests (no socat needed).
"""

from __future__ import annotations

import contextlib
import os
import select
import threading
import tty
from types import TracebackType


class PtyPair:
    def __init__(self) -> None:
        import pty  # noqa: PLC0415 - POSIX only, imported when used

        self._m1, self._s1 = pty.openpty()
        self._m2, self._s2 = pty.openpty()
        for fd in (self._s1, self._s2):
            tty.setraw(fd)
        self.a = os.ttyname(self._s1)
        self.b = os.ttyname(self._s2)
        self._stop_r, self._stop_w = os.pipe()
        self._thread = threading.Thread(target=self._relay, name="pty-relay", daemon=True)
        self._thread.start()

    def _relay(self) -> None:
        peer = {self._m1: self._m2, self._m2: self._m1}
        while True:
            ready, _, _ = select.select([self._m1, self._m2, self._stop_r], [], [], 1.0)
            if self._stop_r in ready:
                return
            for fd in ready:
                try:
                    data = os.read(fd, 4096)
                except OSError:  # the slave side was closed and reopened: nothing to relay
                    continue
                if data:
                    os.write(peer[fd], self.relayed(data, to_b=fd == self._m1))

    def relayed(self, data: bytes, *, to_b: bool) -> bytes:
        """What reaches the other end (``to_b``: from ``a`` to ``b``); tests override it."""
        return data

    def close(self) -> None:
        if self._thread.is_alive():
            os.write(self._stop_w, b"x")
            self._thread.join(timeout=5)
        for fd in (self._m1, self._s1, self._m2, self._s2, self._stop_r, self._stop_w):
            with contextlib.suppress(OSError):
                os.close(fd)

    def __enter__(self) -> PtyPair:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
