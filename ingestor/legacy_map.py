"""The old Dash app's ``leituras`` table mapped onto canonical quantities (pure module).

The old app stored what its Modbus reader returned for each measurement of the plant's
register file, one column per measurement name (``tensao_ll_l1``, ``energia_kwh_b``...).
Those names go through the same alias table as the plant's register file
(``contract/_aliases_kron03.yaml``): the alias names the canonical quantity and the
scale into its unit, so an imported value is exactly what the gateway would publish for
the same register. A column without an alias is not imported and the summary says so.

Each row becomes a contract v1 reading document (``seq`` = the row's ``id``), which the
ingestor validates exactly as a live reading (``ingestor.validate.validate_document``).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Final, Protocol

from contract import VERSION

#: The old app's value columns (db.py of the Dash app), in its table order.
LEGACY_COLUMNS: Final = (
    "tensao_l1",
    "tensao_l2",
    "tensao_l3",
    "tensao_ll_l1",
    "tensao_ll_l2",
    "tensao_ll_l3",
    "tensao_ll_avg",
    "corrente_l1",
    "corrente_l2",
    "corrente_l3",
    "potencia_kw_inst",
    "energia_kwh_a",
    "energia_kwh_b",
    "frequencia",
    "fp_avg",
)
#: Key columns every page is read by.
KEY_COLUMNS: Final = ("id", "ts")
#: Columns the old app computed from others: not a measurement, never imported.
DERIVED: Final = frozenset({"tensao_ll_avg"})
#: Why a column is not imported (codes the summary words in pt-BR or English).
SKIP_DERIVED: Final = "derived"
SKIP_NO_ALIAS: Final = "no_alias"


class _Alias(Protocol):
    @property
    def quantity(self) -> str: ...
    @property
    def scale(self) -> float: ...


@dataclass(frozen=True, slots=True)
class ColumnMap:
    column: str
    quantity: str
    scale: float


@dataclass(frozen=True, slots=True)
class ColumnPlan:
    """Which columns are imported into which quantity, and why the others are not."""

    columns: tuple[ColumnMap, ...]
    skipped: Mapping[str, str]  # column -> SKIP_DERIVED or SKIP_NO_ALIAS


def map_columns(aliases: Mapping[str, _Alias]) -> ColumnPlan:
    """The old app's columns through the alias table of the plant's register file.

    Hook for quantities the registry gains later (``energia_kwh_b`` needed a canonical
    quantity of its own): a column is imported as soon as the alias table names it, and
    until then the summary lists it as skipped with the reason.
    """
    maps: list[ColumnMap] = []
    skipped: dict[str, str] = {}
    for column in LEGACY_COLUMNS:
        if column in DERIVED:
            skipped[column] = SKIP_DERIVED
        elif column in aliases:
            alias = aliases[column]
            maps.append(ColumnMap(column, alias.quantity, alias.scale))
        else:
            skipped[column] = SKIP_NO_ALIAS
    return ColumnPlan(tuple(maps), skipped)


def document(
    row: Sequence[Any], site: str, meter: str, columns: Sequence[ColumnMap]
) -> dict[str, Any]:
    """The contract v1 reading document of one row ``(id, ts, *values)``; NULLs are absent."""
    values = {
        m.quantity: value if m.scale == 1.0 else value * m.scale
        for m, value in zip(columns, row[2:], strict=True)
        if value is not None
    }
    ts: datetime = row[1]
    return {
        "v": VERSION,
        "ts": ts.isoformat(),
        "site": site,
        "meter": meter,
        "seq": row[0],
        "values": values,
    }


@dataclass
class Tally:
    """What happened to every source row: ``read`` = imported + the four other counts."""

    read: int = 0
    imported: int = 0  # stored (with --dry-run: would be stored)
    duplicates_in_source: int = 0  # a row with the instant of an earlier row of the table
    already_stored: int = 0  # this meter already has a reading at that instant
    rejected: Counter[str] = field(default_factory=Counter)  # reason -> rows
    rejects_known: int = 0  # rejected rows already in ingest_rejects from an earlier run
    first: datetime | None = None  # first and last instant imported
    last: datetime | None = None

    @property
    def duplicates(self) -> int:
        return self.duplicates_in_source + self.already_stored

    def stored_range(self, first: datetime, last: datetime) -> None:
        self.first = first if self.first is None else min(self.first, first)
        self.last = last if self.last is None else max(self.last, last)
