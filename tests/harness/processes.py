"""EMUSA services as child processes for end-to-end tests: started, SIGKILLed, stopped.

``ServiceProcess`` runs one console command (``python -m gateway run``, ``python -m
analytics run``, ...) with its output in a log file, so a failing test can show the last
lines. ``SimulatorProcess`` is ``python -m gateway simulate`` and reads where it listens
(``tcp HOST:PORT``, ``pty /dev/pts/N``) from its output.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


class ServiceProcess:
    """``python -m <module> <args>`` as a child process; output appended to ``log``."""

    def __init__(
        self,
        name: str,
        module: str,
        args: Sequence[str],
        log: Path,
        env: Mapping[str, str] | None = None,
    ) -> None:
        self.name = name
        self.argv = [sys.executable, "-m", module, *args]
        self.log = log
        self.env = {**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})}
        self.proc: subprocess.Popen[bytes] | None = None
        self.starts = 0

    def start(self) -> None:
        self.log.parent.mkdir(parents=True, exist_ok=True)
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen(
                self.argv, cwd=REPO, env=self.env, stdout=out, stderr=subprocess.STDOUT
            )
        self.starts += 1

    @property
    def pid(self) -> int | None:
        return None if self.proc is None else self.proc.pid

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def kill(self) -> None:
        """SIGKILL, as a crash or the OOM killer would."""
        if self.proc is not None:
            self.proc.kill()
            self.proc.wait(timeout=10)
            self.proc = None

    def terminate(self, timeout: float = 30.0) -> int | None:
        """SIGTERM and wait; the exit status, or None when it had to be killed."""
        if self.proc is None:
            return None
        proc, self.proc = self.proc, None
        if proc.poll() is not None:
            return proc.returncode
        proc.terminate()
        try:
            return proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)
            return None

    def tail(self, chars: int = 3000) -> str:
        try:
            return self.log.read_text(errors="replace")[-chars:]
        except OSError:
            return ""


class SimulatorProcess(ServiceProcess):
    """``python -m gateway simulate ARGS``; ``start`` waits until it answers."""

    def __init__(self, name: str, args: Sequence[str], log: Path) -> None:
        super().__init__(name, "gateway", ["simulate", *args], log)
        self.tcp: tuple[str, int] | None = None
        self.pty: str | None = None

    def start(self, timeout: float = 30.0) -> None:
        offset = self.log.stat().st_size if self.log.exists() else 0
        super().start()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            text = self.log.read_text(errors="replace")[offset:]
            if "ready" in text:
                if m := re.search(r"^tcp (\S+):(\d+)$", text, re.M):
                    self.tcp = (m.group(1), int(m.group(2)))
                if m := re.search(r"^pty (\S+)$", text, re.M):
                    self.pty = m.group(1)
                return
            if not self.alive():
                break
            time.sleep(0.05)
        self.kill()
        raise RuntimeError(f"simulator {self.name} did not start:\n{self.tail()}")
