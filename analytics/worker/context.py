"""The state one worker process keeps between job runs: its settings, the detection
limits and fitted models, its database sessions (opened on the first job) and the MQTT
connection (opened on the first publish)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime

from analytics import db
from analytics.config import Settings
from analytics.detection import crosscheck, rules, seasonal
from analytics.worker.publisher import Publisher


@dataclass
class Context:
    settings: Settings
    limits: rules.Limits = field(default_factory=rules.Limits)
    model_params: seasonal.ModelParams = field(default_factory=seasonal.ModelParams)
    models: dict[tuple[str, int], seasonal.MeterModel] = field(default_factory=dict)
    publisher: Publisher | None = None
    rollups_fresh_at: datetime | None = None  # when refresh_rollups last ran in this process
    pool: db.Pool | None = field(default=None, repr=False)

    @property
    def crosscheck_limits(self) -> crosscheck.CrossCheckLimits:
        s = self.settings
        return crosscheck.CrossCheckLimits(
            rel_tol=s.crosscheck_tolerance_pct / 100, floor_kwh=s.crosscheck_floor_kwh
        )

    @property
    def conninfo(self) -> str:
        return self.settings.database_url

    @contextmanager
    def connection(self) -> Iterator[db.Conn]:
        """A session of this worker's pool (autocommit, dict rows; see :mod:`analytics.db`)."""
        if self.pool is None:
            self.pool = db.open_pool(self.conninfo)
        with db.borrow(self.pool) as conn:
            yield conn

    def close(self) -> None:
        if self.publisher is not None:
            self.publisher.close()
            self.publisher = None
        if self.pool is not None:
            self.pool.close()
            self.pool = None


# a job: ``factory(ctx)`` returns its ``run(now)``
JobFactory = Callable[[Context], Callable[[datetime], object]]
