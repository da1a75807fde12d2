"""The state one worker process keeps between job runs: its settings, the detection
limits and fitted models, and the MQTT connection (opened on the first publish)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

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

    @property
    def crosscheck_limits(self) -> crosscheck.CrossCheckLimits:
        s = self.settings
        return crosscheck.CrossCheckLimits(
            rel_tol=s.crosscheck_tolerance_pct / 100, floor_kwh=s.crosscheck_floor_kwh
        )

    @property
    def conninfo(self) -> str:
        return self.settings.database_url

    def close(self) -> None:
        if self.publisher is not None:
            self.publisher.close()
            self.publisher = None


# a job: ``factory(ctx)`` returns its ``run(now)``
JobFactory = Callable[[Context], Callable[[datetime], object]]
