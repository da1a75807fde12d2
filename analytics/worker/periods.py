"""Period jobs done exactly once: every complete, not yet done window of every site.

The period is claimed in ``analytics_job_runs`` in the transaction that writes the
output: a failure rolls both back (retried next time); a second worker blocks on the
claim until the first commits, then skips. The 6-hour summaries use it
(:mod:`analytics.summaries.job`).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime
from typing import Any

from analytics.db import Conn
from analytics.detection.rulebase import SiteInfo
from analytics.worker import store
from analytics.worker.context import Context
from analytics.worker.scheduler import complete_windows

log = logging.getLogger(__name__)

Producer = Callable[[Conn, SiteInfo, datetime, datetime], dict[str, Any]]


def run_periods(
    ctx: Context, job: str, now: datetime, produce: Producer, *, hours: int = 6,
    ready: Callable[[Conn, SiteInfo, datetime], bool] | None = None,
) -> list[tuple[str, datetime]]:  # fmt: skip
    """Produce every complete, not yet done window of every site, each exactly once;
    ``ready(conn, site, end)`` may hold a window back (for example until detection has
    covered it). Returns the (site, window start) produced."""
    done: list[tuple[str, datetime]] = []
    with ctx.connection() as conn:
        for site in store.sites(conn, ctx.settings.site):
            since = store.first_data(conn, site.site_id, now - ctx.settings.catch_up)
            if since is None:
                continue
            for start, end in complete_windows(
                since, now, site.timezone, hours=hours, settle=ctx.settings.settle
            ):
                if ready is not None and not ready(conn, site, end):
                    break
                if store.period_done(conn, job, site.site_id, start):
                    continue
                with conn.transaction():
                    if not store.claim_period(
                        conn, job, site.site_id, start=start, end=end, worker=ctx.settings.worker
                    ):
                        continue
                    details = produce(conn, site, start, end)
                    store.finish_period(conn, job, site.site_id, start, details)
                done.append((site.site_id, start))
                log.info(
                    "%s %s %s done",
                    job,
                    site.site_id,
                    start.isoformat(),
                    extra={"site": site.site_id, "action": job},
                )
    return done
