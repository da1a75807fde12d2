"""CPU time and peak memory of a running process, from ``/proc`` (Linux).

``VmHWM`` is the peak resident set size since the process started; read it while the
process is still alive (just before stopping it).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

_TICK = os.sysconf("SC_CLK_TCK")


@dataclass(frozen=True)
class ProcStats:
    pid: int
    cpu_s: float  # user + system
    peak_rss_mib: float  # VmHWM
    rss_mib: float  # VmRSS now


def read(pid: int) -> ProcStats:
    """Figures of ``pid`` now; raises ``OSError`` when it is gone."""
    stat = Path(f"/proc/{pid}/stat").read_text()
    fields = stat[stat.rindex(")") + 2 :].split()  # after "pid (comm) "
    utime, stime = int(fields[11]), int(fields[12])
    kb: dict[str, int] = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in {"VmHWM", "VmRSS"}:
            kb[key] = int(value.split()[0])
    return ProcStats(
        pid=pid,
        cpu_s=round((utime + stime) / _TICK, 2),
        peak_rss_mib=round(kb.get("VmHWM", 0) / 1024, 1),
        rss_mib=round(kb.get("VmRSS", 0) / 1024, 1),
    )
