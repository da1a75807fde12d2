"""The report and alert deliveries as scheduler jobs of ``emusa-analytics run``.

Both functions are idempotent and keep their state in the database (reports once per
period, alerts once per anomaly with cooldowns), so the scheduler simply calls them on
every period: reports every 5 minutes (they are due once a day or a fortnight, at the
configured local time, and caught up after downtime), alerts every minute.
"""

from __future__ import annotations

from datetime import timedelta

from analytics.delivery.alerts import deliver_alerts
from analytics.delivery.config import DeliveryConfig
from analytics.reports.delivery import deliver_due_reports
from analytics.worker.scheduler import Job

REPORTS_EVERY = timedelta(minutes=5)
ALERTS_EVERY = timedelta(minutes=1)


def delivery_jobs(dsn: str, config: DeliveryConfig) -> list[Job]:
    return [
        Job("reports", REPORTS_EVERY, lambda now: deliver_due_reports(dsn, now, config)),
        Job("alerts", ALERTS_EVERY, lambda now: deliver_alerts(dsn, now, config)),
    ]
