"""The analytics worker's jobs in a process of their own, for its peak memory.

    python -m tests.benchmarks.history_worker DSN END_ISO

Runs what the worker does over a plant's history (the trailing rollup refresh, a
detection cycle with its models fitted, one 6-hour summary, the demand projection, the
daily and fortnightly reports) and prints ``{"peak_rss_mib": ...}`` (the process's
maximum resident set size) as its last line. Used by history_measures.worker_memory.
"""

from __future__ import annotations

import json
import resource
import sys
from datetime import datetime

from tests.benchmarks import history_measures as hm
from tests.integration.grafana.dataset import Dataset, Shape


def main(argv: list[str]) -> int:
    dsn, end = argv[1], datetime.fromisoformat(argv[2])
    d = Dataset(dsn, Shape(int(end.timestamp()), []), hm.meter_ids(dsn), 0)
    hm.worker_jobs(d)
    hm.reports(d)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"peak_rss_mib": round(peak, 1)}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv))
