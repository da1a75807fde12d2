"""The jobs of ``emusa-analytics run``, in the order one scheduler tick runs them.

Every job is idempotent and keeps its progress in the database, so the scheduler may run
it any number of times, after any downtime, from any number of workers:

* ``refresh_rollups`` — the time ranges the ingestor logged (late data of any age; on
  Community only readings older than its refresh policies reach), then, on the Apache
  build, a trailing window (Community: the policies and real-time aggregation)
  (:mod:`analytics.worker.rollups`);
* ``detect`` — rules, the statistical model and the counter cross-check
  (:mod:`analytics.detection.job`);
* ``summarize`` — the 6-hour summaries, exactly once (:mod:`analytics.summaries.job`);
* ``publish`` — drains the outbox to MQTT (:mod:`analytics.worker.outbox`);
* ``retention`` — drops the Modbus diagnostics history older than 90 days
  (:mod:`analytics.worker.retention`);
* ``demand_control`` — projects the running 15-minute demand interval and alerts
  (:mod:`analytics.demand.job`, every 20 s).

A job is a name, its period (from the settings) and a factory: ``factory(ctx)`` returns
``run(now)``. The report and alert deliveries are added by ``__main__`` from the
delivery configuration (:mod:`analytics.delivery.jobs`).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import NamedTuple

from analytics.config import Settings
from analytics.demand import job as demand
from analytics.detection.job import detect
from analytics.summaries.job import summarize
from analytics.worker.context import Context, JobFactory
from analytics.worker.outbox import publish
from analytics.worker.retention import RETENTION_EVERY, drop_old_diagnostics
from analytics.worker.rollups import refresh_rollups
from analytics.worker.scheduler import Job


class Registration(NamedTuple):
    name: str
    every: Callable[[Settings], timedelta]
    factory: JobFactory


def _each(job: Callable[[Context, datetime], object]) -> JobFactory:
    return lambda ctx: lambda now: job(ctx, now)


JOBS: tuple[Registration, ...] = (
    Registration("refresh_rollups", lambda s: s.refresh_every, _each(refresh_rollups)),
    Registration("detect", lambda s: s.detect_every, _each(detect)),
    Registration("summarize", lambda s: s.summarize_every, _each(summarize)),
    Registration("publish", lambda s: s.publish_every, _each(publish)),
    Registration("retention", lambda _s: RETENTION_EVERY, _each(drop_old_diagnostics)),
    Registration(demand.JOB, lambda _s: demand.every(), demand.factory),
)


def scheduled(ctx: Context) -> list[Job]:
    """The scheduler's jobs of this worker."""
    return [Job(r.name, r.every(ctx.settings), r.factory(ctx)) for r in JOBS]
