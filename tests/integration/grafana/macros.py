"""Grafana's SQL macros and template variables, expanded as Grafana 11 does for PostgreSQL.

Grafana cannot run on these machines, so the tests expand each panel query here and run
it against a real database. What is reproduced (Grafana's ``pkg/tsdb/grafana-postgresql-
datasource/macros.go`` behaviour, TimescaleDB option on):

* ``$__timeFilter(col)`` -> ``col BETWEEN '<from>' AND '<to>'`` (RFC 3339, UTC);
* ``$__timeFrom()`` / ``$__timeTo()`` -> ``'<from>'`` / ``'<to>'``;
* ``$__timeGroup(col, interval)`` -> ``time_bucket('<N>s', col)``; ``$__timeGroupAlias``
  adds `` AS "time"``;
* ``$__interval`` -> the rounded interval (``2s``, ``1m``, ``1h``...), from the range over
  the panel's data points, never finer than the datasource's ``timeInterval`` (1 s);
  ``$__interval_ms`` -> milliseconds;
* ``$var`` / ``${var}`` / ``${var:csv}`` / ``${var:singlequote}`` / ``${var:raw}``: a
  multi-value (or All) variable becomes ``'a','b'`` as Grafana's SQL data sources quote
  it; a single value stays raw (the query writes the quotes, ``'$site'``).

Anything left that looks like a macro or a variable is an error, so a typo in a panel
fails the test instead of reaching PostgreSQL as text.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

# Grafana's rangeutil.roundInterval thresholds (milliseconds -> rounded interval).
_ROUND: list[tuple[float, int]] = [
    (15, 10),
    (35, 20),
    (75, 50),
    (150, 100),
    (350, 200),
    (750, 500),
    (1_500, 1_000),
    (3_500, 2_000),
    (7_500, 5_000),
    (12_500, 10_000),
    (17_500, 15_000),
    (25_000, 20_000),
    (45_000, 30_000),
    (90_000, 60_000),
    (210_000, 120_000),
    (450_000, 300_000),
    (750_000, 600_000),
    (1_050_000, 900_000),
    (1_500_000, 1_200_000),
    (2_700_000, 1_800_000),
    (5_400_000, 3_600_000),
    (9_000_000, 7_200_000),
    (16_200_000, 10_800_000),
    (32_400_000, 21_600_000),
    (86_400_000, 43_200_000),
    (604_800_000, 86_400_000),
    (1_814_400_000, 604_800_000),
    (3_628_800_000, 2_592_000_000),
]


def round_interval(ms: float) -> int:
    for limit, value in _ROUND:
        if ms < limit:
            return value
    return 31_536_000_000


def format_interval(ms: int) -> str:
    for unit, size in (("d", 86_400_000), ("h", 3_600_000), ("m", 60_000), ("s", 1_000)):
        if ms >= size and ms % size == 0:
            return f"{ms // size}{unit}"
    return f"{ms}ms"


def parse_interval(text: str) -> int:
    """Seconds of a Grafana interval such as ``5m``, ``'1h'``, ``30s``, ``1d``."""
    m = re.fullmatch(r"'?(\d+)(ms|s|m|h|d|w)'?", text.strip())
    if not m:
        raise ValueError(f"interval {text!r} not understood")
    n, unit = int(m.group(1)), m.group(2)
    if unit == "ms":
        return max(1, n // 1000)
    return n * {"s": 1, "m": 60, "h": 3600, "d": 86_400, "w": 604_800}[unit]


@dataclass(frozen=True)
class Context:
    """A panel evaluation: the dashboard range, the panel resolution, the variables."""

    time_from: datetime
    time_to: datetime
    variables: Mapping[str, str | Sequence[str]]
    max_data_points: int = 1000
    min_interval_ms: int = 1000  # the datasource's timeInterval (1 s)

    @property
    def interval_ms(self) -> int:
        span_ms = (self.time_to - self.time_from).total_seconds() * 1000
        return max(self.min_interval_ms, round_interval(span_ms / self.max_data_points))


def _ts(d: datetime) -> str:
    """RFC 3339 in UTC, to the second, as Grafana writes it (an aware time in any zone is
    converted; a naive one is taken as UTC)."""
    utc = d.astimezone(UTC) if d.tzinfo is not None else d
    return "'" + utc.strftime("%Y-%m-%dT%H:%M:%SZ") + "'"


def _args(text: str) -> list[str]:
    return [a.strip() for a in text.split(",")] if text.strip() else []


def _variable(value: str | Sequence[str], fmt: str | None) -> str:
    values = [value] if isinstance(value, str) else list(value)
    if fmt is None and isinstance(value, str):
        return value.replace("'", "''")  # a single-value variable: escaped, not quoted
    if fmt in ("raw", "csv"):
        return ",".join(values)
    if fmt in (None, "singlequote", "sqlstring"):
        return ",".join("'" + v.replace("'", "''") + "'" for v in values)
    raise ValueError(f"variable format {fmt!r} not supported")


def expand(sql: str, ctx: Context) -> str:
    """The SQL Grafana would send for ``sql`` in ``ctx``."""
    interval_ms = ctx.interval_ms
    interval = format_interval(interval_ms)
    # Variables first (Grafana interpolates template variables before the macro engine).
    sql = sql.replace("$__interval_ms", str(interval_ms)).replace("$__interval", interval)

    def var(m: re.Match[str]) -> str:
        name = m.group("name") or m.group("bare")
        if name.startswith("__"):
            return m.group(0)  # a macro: handled below
        if name not in ctx.variables:
            raise KeyError(f"variable ${name} is not defined")
        return _variable(ctx.variables[name], m.group("fmt"))

    sql = re.sub(r"\$\{(?P<name>\w+)(?::(?P<fmt>\w+))?\}|\$(?P<bare>\w+)(?!\()", var, sql)

    def macro(m: re.Match[str]) -> str:
        name, args = m.group(1), _args(m.group(2))
        if name == "timeFilter":
            return f"{args[0]} BETWEEN {_ts(ctx.time_from)} AND {_ts(ctx.time_to)}"
        if name == "timeFrom":
            return _ts(ctx.time_from)
        if name == "timeTo":
            return _ts(ctx.time_to)
        if name in ("timeGroup", "timeGroupAlias"):
            seconds = parse_interval(args[1])
            out = f"time_bucket('{seconds}s', {args[0]})"
            return out + ' AS "time"' if name == "timeGroupAlias" else out
        raise ValueError(f"macro $__{name} not supported by these tests")

    sql = re.sub(r"\$__(\w+)\(([^()]*)\)", macro, sql)
    if leftover := re.search(r"\$\w+|\$\{|\[\[", sql):
        raise ValueError(f"unexpanded {leftover.group(0)!r} in: {sql[:200]}")
    return sql
