from __future__ import annotations

from datetime import UTC, date, datetime, time
from zoneinfo import ZoneInfo

import pytest

from analytics.reports import periods

pytestmark = pytest.mark.unit
TZ = ZoneInfo("America/Sao_Paulo")
FIRST = datetime(2026, 1, 1, tzinfo=UTC)


def test_fortnights() -> None:
    assert periods.fortnight_dates(date(2026, 11, 1)) == (date(2026, 11, 1), date(2026, 11, 16))
    assert periods.fortnight_dates(date(2026, 11, 15)) == (date(2026, 11, 1), date(2026, 11, 16))
    assert periods.fortnight_dates(date(2026, 11, 16)) == (date(2026, 11, 16), date(2026, 12, 1))
    assert periods.fortnight_dates(date(2026, 12, 31)) == (date(2026, 12, 16), date(2027, 1, 1))
    assert periods.fortnight_dates(date(2028, 2, 20)) == (date(2028, 2, 16), date(2028, 3, 1))


def test_day_period_is_local_midnight() -> None:
    a, b = periods.day_period(date(2026, 11, 10), TZ)
    assert a == datetime(2026, 11, 10, 3, tzinfo=UTC) and b == datetime(2026, 11, 11, 3, tzinfo=UTC)


def test_previous_period() -> None:
    start, end = periods.fortnight_period(date(2026, 11, 1), TZ)
    assert periods.previous_period(start, end, TZ) == periods.fortnight_period(
        date(2026, 10, 16), TZ
    )
    start, end = periods.fortnight_period(date(2026, 11, 16), TZ)
    assert periods.previous_period(start, end, TZ) == periods.fortnight_period(
        date(2026, 11, 1), TZ
    )
    odd = (datetime(2026, 11, 3, tzinfo=TZ), datetime(2026, 11, 10, tzinfo=TZ))
    assert periods.previous_period(*odd, TZ) == (datetime(2026, 10, 27, tzinfo=TZ), odd[0])


def _days(result: list[tuple[datetime, datetime]]) -> list[str]:
    return [a.astimezone(TZ).date().isoformat() for a, _ in result]


def test_due_days_wait_for_the_send_time_and_catch_up() -> None:
    at = time(7, 0)
    before = datetime(2026, 11, 16, 6, 59, tzinfo=TZ)
    after = datetime(2026, 11, 16, 7, 0, tzinfo=TZ)
    assert _days(periods.due_days(before, TZ, at, FIRST, 0)) == ["2026-11-14"]
    assert _days(periods.due_days(after, TZ, at, FIRST, 0)) == ["2026-11-15"]
    assert _days(periods.due_days(after, TZ, at, FIRST, 2)) == [
        "2026-11-13",
        "2026-11-14",
        "2026-11-15",
    ]
    # never before the first data, nothing without data
    first = datetime(2026, 11, 14, 15, tzinfo=TZ)
    assert _days(periods.due_days(after, TZ, at, first, 7)) == ["2026-11-14", "2026-11-15"]
    assert periods.due_days(after, TZ, at, None, 7) == []


def test_due_fortnights_on_the_1st_and_16th() -> None:
    at = time(7, 0)
    on_16th = datetime(2026, 11, 16, 7, 30, tzinfo=TZ)
    assert _days(periods.due_fortnights(on_16th, TZ, at, FIRST, 0)) == ["2026-11-01"]
    assert _days(periods.due_fortnights(on_16th, TZ, at, FIRST, 20)) == ["2026-10-16", "2026-11-01"]
    on_1st = datetime(2026, 12, 1, 8, 0, tzinfo=TZ)
    assert _days(periods.due_fortnights(on_1st, TZ, at, FIRST, 0)) == ["2026-11-16"]
    early = datetime(2026, 12, 1, 6, 0, tzinfo=TZ)
    assert _days(periods.due_fortnights(early, TZ, at, FIRST, 0)) == ["2026-11-01"]
    # a fortnight ending before the first data is not due
    late_start = datetime(2026, 11, 20, tzinfo=TZ)
    assert periods.due_fortnights(on_1st, TZ, at, late_start, 30) == [
        periods.fortnight_period(date(2026, 11, 16), TZ)
    ]


def test_a_run_crossing_local_midnight_still_has_the_day_before_with_one_day_of_catch_up() -> None:
    """The e2e set-up (history of one day, send at 00:00, ``catch_up_days: 1``)."""
    first = datetime(2026, 11, 15, tzinfo=TZ)  # the history day, from its local midnight
    before = datetime(2026, 11, 16, 23, 59, 30, tzinfo=TZ)  # when the history was written
    after = datetime(2026, 11, 17, 0, 0, 30, tzinfo=TZ)  # the worker's first look
    assert _days(periods.due_days(before, TZ, time(0), first, 1)) == ["2026-11-15"]
    assert _days(periods.due_days(after, TZ, time(0), first, 1)) == ["2026-11-15", "2026-11-16"]
    assert _days(periods.due_days(after, TZ, time(0), first, 0)) == ["2026-11-16"]
