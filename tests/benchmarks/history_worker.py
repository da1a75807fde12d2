"""The analytics worker's jobs in a process of their own, for its peak memory.

    python -m tests.benchmarks.history_worker DSN END_ISO

Runs what the worker does over a plant's history (the trailing rollup refresh, a
detection cycle with its models fitted, one 6-hour summary, the demand projection, the
daily and fortnightly reports) and prints ``{"peak_rss_mib": ...}`` (the process's
peak resident set size, ``VmHWM``) as its last line. Used by history_measures.worker_memory.
Not ``getrusage``'s ``ru_maxrss``: Linux carries it across exec, so a process started by a
large one (the benchmark's pytest, ~1.9 GB after building a year of data) reports its
parent's size.
"""

from __future__ import annotations

import json
import os
import sys
from datetime import datetime

from tests.benchmarks import history_measures as hm
from tests.benchmarks import procstats
from tests.integration.grafana.dataset import Dataset, Shape


def main(argv: list[str]) -> int:
    dsn, end = argv[1], datetime.fromisoformat(argv[2])
    d = Dataset(dsn, Shape(int(end.timestamp()), []), hm.meter_ids(dsn), 0)
    hm.worker_jobs(d)
    hm.reports(d)
    print(json.dumps({"peak_rss_mib": procstats.read(os.getpid()).peak_rss_mib}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv))
