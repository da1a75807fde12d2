"""The writer's named queries and row layout (no database needed)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from contract import Reading
from contract.quantities import QUANTITIES
from ingestor.writer import COLUMNS, COPY_TYPES, queries, reading_row

pytestmark = pytest.mark.unit


def test_every_named_query_is_loaded() -> None:
    assert set(queries()) == {
        "has_invalidations",
        "load_meters",
        "create_staging",
        "copy_staging",
        "copy_readings",
        "merge_staging",
        "insert_reading",
        "register_site",
        "register_meter",
        "find_meter",
        "insert_reject",
        "log_invalidation",
        "insert_meter_diagnostics",
        "insert_bus_diagnostics",
        "has_meter_info",
        "insert_meter_diagnostics_before_0019",
        "update_meter_info",
        "upsert_meter_register",
        "drop_meter_registers",
    }


def test_meter_diagnostics_insert_with_and_without_the_0019_columns() -> None:
    q = queries()
    new = q["insert_meter_diagnostics"].as_string(None)
    old = q["insert_meter_diagnostics_before_0019"].as_string(None)
    assert "seconds_since_good_read, channel, port, identifier)" in new
    assert "%(channel)s, %(port)s, %(identifier)s)" in new
    assert "channel" not in old and "{" not in old and "{" not in new


def test_column_lists_follow_the_quantity_registry() -> None:
    assert ("time", "meter_id", "seq", *QUANTITIES) == COLUMNS
    assert len(COPY_TYPES) == len(COLUMNS)
    merge = queries()["merge_staging"].as_string(None)
    quoted = ", ".join(f'"{c}"' for c in COLUMNS)
    assert merge.count(quoted) == 2
    assert merge.endswith("ON CONFLICT DO NOTHING")
    insert = queries()["insert_reading"].as_string(None)
    assert insert.count("%s") == len(COLUMNS)


def test_header_comments_are_not_part_of_the_statements() -> None:
    for name, query in queries().items():
        text = query.as_string(None)
        assert "--" not in text, name
        assert not text.endswith(";"), name


def test_reading_row_puts_each_value_in_its_column() -> None:
    ts = datetime(2026, 11, 25, 12, tzinfo=UTC)
    row = reading_row(Reading("plant", "m1", ts, 9, {"freq": 60.0, "p_total": -3.5}), 42)
    assert len(row) == len(COLUMNS)
    by_column = dict(zip(COLUMNS, row, strict=True))
    assert (by_column["time"], by_column["meter_id"], by_column["seq"]) == (ts, 42, 9)
    assert (by_column["freq"], by_column["p_total"]) == (60.0, -3.5)
    assert sum(v is None for v in row) == len(COLUMNS) - 5
