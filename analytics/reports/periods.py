"""Report periods in a site's local time: days, fortnights (1st-15th, 16th-end of month),
and which ones are due for delivery at a given instant. Pure module."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo


def local_midnight(d: date, tz: ZoneInfo) -> datetime:
    return datetime.combine(d, time(0), tzinfo=tz)


def day_period(d: date, tz: ZoneInfo) -> tuple[datetime, datetime]:
    """[local midnight of d, local midnight of the next day), as UTC instants."""
    return (
        local_midnight(d, tz).astimezone(UTC),
        local_midnight(d + timedelta(days=1), tz).astimezone(UTC),
    )


def fortnight_dates(d: date) -> tuple[date, date]:
    """The fortnight holding ``d``: [1st, 16th) or [16th, 1st of the next month)."""
    if d.day < 16:
        return d.replace(day=1), d.replace(day=16)
    nxt = date(d.year + (d.month == 12), d.month % 12 + 1, 1)
    return d.replace(day=16), nxt


def fortnight_period(d: date, tz: ZoneInfo) -> tuple[datetime, datetime]:
    a, b = fortnight_dates(d)
    return local_midnight(a, tz).astimezone(UTC), local_midnight(b, tz).astimezone(UTC)


def previous_period(start: datetime, end: datetime, tz: ZoneInfo) -> tuple[datetime, datetime]:
    """The fortnight before a calendar fortnight; else the same length just before."""
    local = start.astimezone(tz)
    a, b = fortnight_dates(local.date())
    if local == local_midnight(a, tz) and end.astimezone(tz) == local_midnight(b, tz):
        return fortnight_period(a - timedelta(days=1), tz)
    return start - (end - start), start


def due_days(
    now: datetime, tz: ZoneInfo, send_at: time, first: datetime | None, catch_up_days: int
) -> list[tuple[datetime, datetime]]:
    """Daily periods whose report is due at ``now``: day D is due from D+1 at ``send_at``
    (local); the latest due day and the ``catch_up_days`` before it, never a day before
    the first data."""
    if first is None:
        return []
    local_now = now.astimezone(tz)
    last = local_now.date() - timedelta(days=1)
    if local_now.time() < send_at:
        last -= timedelta(days=1)
    earliest = max(last - timedelta(days=catch_up_days), first.astimezone(tz).date())
    out = []
    d = earliest
    while d <= last:
        out.append(day_period(d, tz))
        d += timedelta(days=1)
    return out


def due_fortnights(
    now: datetime, tz: ZoneInfo, send_at: time, first: datetime | None, catch_up_days: int
) -> list[tuple[datetime, datetime]]:
    """Fortnights whose report is due: sent on the 1st and the 16th at ``send_at``; the
    latest complete one always, older ones ending within ``catch_up_days``."""
    if first is None:
        return []
    local_now = now.astimezone(tz)
    ref = local_now.date()
    if local_now.time() < send_at:
        ref -= timedelta(days=1)
    # the last fortnight that ended on or before ref
    cur_start, _ = fortnight_dates(ref)
    out: list[tuple[datetime, datetime]] = []
    start_d = cur_start
    while True:
        prev_start, prev_end = fortnight_dates(start_d - timedelta(days=1))
        period = fortnight_period(prev_start, tz)
        if period[1] <= first:
            break
        if out and prev_end < local_now.date() - timedelta(days=catch_up_days):
            break
        out.append(period)
        start_d = prev_start
    return sorted(out)
