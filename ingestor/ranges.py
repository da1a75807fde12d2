"""The time ranges a batch of readings touched, for the rollups' refresh log.

A batch may hold readings far apart in time: a gateway replaying its queue beside live
ones, a meter with a wrong clock. Logging the batch as one range from its oldest to its
newest reading would make the rollups re-aggregate everything in between; instead the
readings are grouped into ranges, a new one wherever two consecutive times (sorted) are
more than ``gap`` apart.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta

RANGE_GAP = timedelta(hours=1)


def time_ranges(
    times: Iterable[datetime], gap: timedelta = RANGE_GAP
) -> list[tuple[datetime, datetime]]:
    """``[(first, last), ...]`` in time order; consecutive times at most ``gap`` apart share one."""
    ranges: list[tuple[datetime, datetime]] = []
    for t in sorted(times):
        if ranges and t - ranges[-1][1] <= gap:
            ranges[-1] = (ranges[-1][0], t)
        else:
            ranges.append((t, t))
    return ranges
