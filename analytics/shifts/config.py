"""A site's production shifts as a YAML file, checked (one complete version of one site)::

    site: fab
    valid_from: 2026-12-01      # optional; first production date (default: always)
    shifts:
      - {name: A, days: [working], start: "06:00", end: "14:00"}
      - {name: B, days: [working], start: "14:00", end: "22:00"}
      - {name: C, days: [working], start: "22:00", end: "06:00"}   # crosses midnight
      - {name: fim de semana, days: [saturday, sunday, holiday], start: "06:00", end: "06:00"}

Times are local, on a quarter hour; the tiling of 24 hours is the database's check
(:mod:`analytics.shifts.store`). The example: ``shifts.example.yaml`` beside this file.
"""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import Field, ValidationError, field_validator

from analytics.errors import ConfigError
from contract.settings import Strict

DayType = Literal["working", "saturday", "sunday", "holiday"]
_HHMM = re.compile(r"([01][0-9]|2[0-4]):([0-5][0-9])")  # fullmatch: "$" allows a "\n"


def _hhmm(value: object, *, allow_24: bool) -> str:
    """A local time ``HH:MM`` on a quarter hour. PyYAML reads an unquoted ``06:00`` as
    the base-60 integer 360 (minutes): that is taken back to ``06:00``."""
    if isinstance(value, int) and not isinstance(value, bool):
        value = f"{value // 60:02d}:{value % 60:02d}"
    m = _HHMM.fullmatch(value) if isinstance(value, str) else None
    if m is None or (int(m[1]) == 24 and (not allow_24 or m[2] != "00")):
        raise ValueError(f"{value!r} is not a time HH:MM")
    if int(m[2]) % 15:
        raise ValueError(f"{value!r} is not on a quarter hour (shifts align to 15-min demand)")
    return str(value)


class Shift(Strict):
    name: str = Field(min_length=1, max_length=40, pattern=r"^\S(.*\S)?$")
    days: list[DayType] = Field(min_length=1)
    start: str
    end: str

    @field_validator("start", mode="before")
    @classmethod
    def _start(cls, v: object) -> str:
        return _hhmm(v, allow_24=False)

    @field_validator("end", mode="before")
    @classmethod
    def _end(cls, v: object) -> str:
        return _hhmm(v, allow_24=True)


class ShiftConfig(Strict):
    site: str = Field(min_length=1)
    valid_from: date = date(2000, 1, 1)
    shifts: list[Shift] = Field(min_length=1)

    @field_validator("shifts")
    @classmethod
    def _unique(cls, v: list[Shift]) -> list[Shift]:
        names = [s.name for s in v]
        if dupes := sorted({n for n in names if names.count(n) > 1}):
            raise ValueError(f"shift names repeated: {', '.join(dupes)}")
        return v


def load(path: Path) -> ShiftConfig:
    """The configuration in ``path``; ConfigError naming the file and the bad field."""
    try:
        raw: Any = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigError(f"{path}: {exc}") from exc
    try:
        return ShiftConfig.model_validate(raw)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or '(file)'}: {e['msg']}" for e in exc.errors()
        )
        raise ConfigError(f"{path}: {problems}") from None
