"""Aggregate columns of the internal rollups: from the raw readings, and (Apache build)
from the minute rollup."""

from __future__ import annotations

from contract.quantities import Quantity, counters, gauges

from .grains import Grain


def agg_columns() -> list[tuple[str, str]]:
    """(column, aggregate expression over readings) of an internal rollup."""
    cols: list[tuple[str, str]] = [("samples", "count(*)")]
    for q in gauges():
        cols += [
            (f"{q.name}_avg", f"avg({q.name})"),
            (f"{q.name}_min", f"min({q.name})"),
            (f"{q.name}_max", f"max({q.name})"),
        ]
    return cols + counter_columns(list(counters()))


def counter_columns(qs: list[Quantity]) -> list[tuple[str, str]]:
    """(column, aggregate over readings) of the counters ``qs`` in an internal rollup."""
    cols: list[tuple[str, str]] = []
    for q in qs:
        # first/last skip rows where the counter is NULL (dropped as implausible):
        # a NULL ordering value is ignored by TimescaleDB's first()/last().
        when = f"CASE WHEN {q.name} IS NOT NULL THEN time END"
        cols += [
            (f"{q.name}_first", f"first({q.name}, {when})"),
            (f"{q.name}_last", f"last({q.name}, {when})"),
            (f"{q.name}_min", f"min({q.name})"),
            (f"{q.name}_max", f"max({q.name})"),
        ]
    return cols


def agg_select(grain: Grain, where: str = "") -> str:
    lines = [f"    {expr} AS {col}" for col, expr in agg_columns()]
    body = ",\n".join(["    meter_id", f"    {grain.bucket_expr()} AS bucket", *lines])
    return f"SELECT\n{body}\nFROM readings\n{where}GROUP BY meter_id, bucket"


def rollup_select(grain: Grain, source: Grain) -> str:
    """SELECT aggregating the ``source`` rollup's rows in [lo, hi) into ``grain``'s buckets
    (the coarser grains of the Apache build; plpgsql variables lo, hi)."""
    lines = [f"    {expr} AS {col}" for col, expr in from_minutes_columns()]
    body = ",\n".join(["    meter_id", f"    {grain.bucket_expr('bucket')} AS b", *lines])
    return (
        f"SELECT\n{body}\nFROM rollup.agg_{source.name}\n"
        "WHERE bucket >= lo AND bucket < hi\nGROUP BY meter_id, b"
    )


def from_minutes_columns() -> list[tuple[str, str]]:
    """(column, aggregate over rollup.agg_1m) giving a coarser rollup from minute rows.

    Averages are weighted by each minute's sample count: exact when a quantity is present
    in all or none of a minute's readings (the gateway publishes the same set each poll).
    """
    cols: list[tuple[str, str]] = [("samples", "sum(samples)")]
    for q in gauges():
        n = q.name
        cols += [
            (
                f"{n}_avg",
                f"sum({n}_avg * samples) FILTER (WHERE {n}_avg IS NOT NULL)"
                f" / nullif(sum(samples) FILTER (WHERE {n}_avg IS NOT NULL), 0)",
            ),
            (f"{n}_min", f"min({n}_min)"),
            (f"{n}_max", f"max({n}_max)"),
        ]
    for q in counters():
        n = q.name
        when = f"CASE WHEN {n}_last IS NOT NULL THEN bucket END"
        cols += [
            (f"{n}_first", f"first({n}_first, {when})"),
            (f"{n}_last", f"last({n}_last, {when})"),
            (f"{n}_min", f"min({n}_min)"),
            (f"{n}_max", f"max({n}_max)"),
        ]
    return cols
