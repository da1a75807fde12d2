"""Generate migration 0017 (issue 17): bounded previous-bucket lookups in the rollup views.

    python scripts/gen_migration_0017.py apache    > sql/migrations/0017_bounded_previous.apache.sql
    python scripts/gen_migration_0017.py timescale > sql/migrations/0017_bounded_previous.timescale.sql

A bucket's energy needs the previous bucket's last counter value. The views joined each
bucket to the previous one with ``p.bucket = a.bucket - width``: the planner cannot carry a
query's time range through that expression, so the previous side was the whole rollup
(a year of minute rows hashed for one day's query). Same columns and values after:
* Apache build: the rollup tables store it (``<counter>_prev``), set by rollup.refresh()
  for the buckets it rebuilt and the one after them; the views read one row per bucket.
* Community build (continuous aggregates cannot look at another bucket): readings_1m
  reads the previous bucket with one index probe per row (LATERAL ... LIMIT 1), bounded by
  the rows asked for; coarser grains keep the join, faster there for month-long ranges.
Developer tool like gen_migration_sql.py (its package migration_sql has the grains and the
header); the output is frozen.
"""

from __future__ import annotations

import sys

from migration_sql import main
from migration_sql.added_0016 import ADDED_0016
from migration_sql.apache import indent, window_bounds  # in rollup.agg_<grain>_v16 (Community)
from migration_sql.grains import FROZEN_REGISTRY, GRAINS, Grain, header

from contract.quantities import Quantity, counters, gauges

HEADER_0017 = header("gen_migration_0017.py", FROZEN_REGISTRY)

INTRO = """-- 0017 {what}: bounded previous-bucket lookups (issue 17).
-- readings_<grain> computed each bucket's energy from the previous bucket's last counter
-- value, joined with p.bucket = a.bucket - width: no time range reaches that side, so a
-- day of readings_1m read a year of minute rows. {how}
-- Same columns, same values; site totals, demand_15m and the bi views follow.
"""
HOW_APACHE = """Now the rollup tables store
-- it (<counter>_prev): rollup.refresh() (renamed rollup.refresh_buckets(), wrapped) sets it
-- for the buckets it rebuilt and the bucket after them; existing rows are filled here."""
HOW_TIMESCALE = """Continuous aggregates cannot
-- look at another bucket, so the previous bucket (and the 0016 aggregate's own bucket) is
-- read by one index probe per row (LATERAL ... LIMIT 1, which stops at the materialized
-- row and reads the real-time part only on a miss): the cost follows the rows asked for,
-- not the history kept. Only readings_1m: a probe costs ~25 us
-- (TimescaleDB's runtime chunk exclusion per probe), so for the 15-minute, hourly and daily
-- rollups (a year of 15-minute rows is 35,040 per meter) the 0016 hash join stays faster
-- for month-long ranges (site_demand_15m over 30 days at a year: 0.4 s joined, 3.4 s
-- probed); those views are unchanged on this build (issue 17, docs/benchmarks.md)."""


def _prev_cols() -> list[str]:
    return [f"{q.name}_prev" for q in counters()]


def _columns(delta: dict[str, str], last: dict[str, str]) -> str:
    cols = ["a.meter_id", "a.bucket", "a.samples"]
    for q in gauges():
        cols += [f"a.{q.name}_avg", f"a.{q.name}_min", f"a.{q.name}_max"]
    for q in counters():
        n, s = q.name, last[q.name]
        cols.append(
            f"emusa_counter_delta({delta[n]}, {s}.{n}_first, {s}.{n}_last, {s}.{n}_min,"
            f" {s}.{n}_max) AS {n}_delta"
        )
        cols.append(f"{s}.{n}_last")
    return ",\n    ".join(cols)


def _view(g: Grain, body: str, source: str) -> str:
    return f"CREATE OR REPLACE VIEW readings_{g.name} AS\nSELECT\n    {body}\n{source};\n"


def _link(g: Grain, window: bool) -> str:
    """UPDATE setting every <counter>_prev of ``rollup.agg_<grain>``: one scan with lag(),
    kept where the row before is the adjacent bucket (else NULL). ``window``: only the
    buckets in [lo, hi] (plpgsql variables), reading from two buckets before lo."""
    qs: list[Quantity] = list(counters())
    lags = ", ".join(f"lag({q.name}_last) OVER w AS {q.name}_last" for q in qs)
    adjacent = f"p.prev_bucket = {g.previous('a.bucket')}"
    sets = ",\n    ".join(
        f"{q.name}_prev = CASE WHEN {adjacent} THEN p.{q.name}_last END" for q in qs
    )
    width = f"INTERVAL '{g.width}'"
    inner = f"\n      WHERE bucket >= lo - 2 * {width} AND bucket <= hi" if window else ""
    outer = "\n  AND a.bucket >= lo AND a.bucket <= hi" if window else ""
    return (
        f"UPDATE rollup.agg_{g.name} a SET\n    {sets}\n"
        f"FROM (SELECT meter_id, bucket, lag(bucket) OVER w AS prev_bucket, {lags}\n"
        f"      FROM rollup.agg_{g.name}{inner}\n"
        f"      WINDOW w AS (PARTITION BY meter_id ORDER BY bucket)) p\n"
        f"WHERE p.meter_id = a.meter_id AND p.bucket = a.bucket{outer};\n"
    )


def apache() -> str:
    out = [HEADER_0017, INTRO.format(what="Apache-only build", how=HOW_APACHE)]
    cols = ", ".join(f"ADD COLUMN {c} double precision" for c in _prev_cols())
    out += [f"ALTER TABLE rollup.agg_{g.name} {cols};\n" for g in GRAINS]
    out += [_link(g, window=False) for g in GRAINS]
    blocks = []
    for g in GRAINS:  # hi: the first bucket after the refreshed window (its previous changed)
        link = indent(_link(g, window=True))
        blocks.append(f"{window_bounds(g)}{link}\n")
    out.append(
        "-- The buckets rebuilt by rollup.refresh_buckets() (the former rollup.refresh()) and\n"
        "-- the one after each window get the previous bucket's last counter values.\n"
        "ALTER FUNCTION rollup.refresh(timestamptz, timestamptz) RENAME TO refresh_buckets;\n"
        "CREATE FUNCTION rollup.link_previous(p_from timestamptz, p_to timestamptz)"
        " RETURNS void\nLANGUAGE plpgsql SECURITY DEFINER\n"
        "SET search_path = pg_catalog, public\n"
        "AS $$\nDECLARE\n    lo timestamptz;\n    hi timestamptz;\nBEGIN\n"
        + "\n".join(blocks)
        + "END\n$$;\n"
        "CREATE FUNCTION rollup.refresh(p_from timestamptz, p_to timestamptz) RETURNS void\n"
        "LANGUAGE plpgsql SECURITY DEFINER\n"
        "SET search_path = pg_catalog, public\n"
        "AS $$\nBEGIN\n"
        "    PERFORM rollup.refresh_buckets(p_from, p_to);  -- checks the range, takes the lock\n"
        "    PERFORM rollup.link_previous(p_from, p_to);\n"
        "END\n$$;\n"
        "-- No JIT: over a long range it compiled the ~130-aggregate INSERT for minutes.\n"
        "ALTER FUNCTION rollup.refresh_buckets(timestamptz, timestamptz) SET jit = off;\n"
        "REVOKE ALL ON FUNCTION rollup.refresh_buckets(timestamptz, timestamptz),\n"
        "    rollup.link_previous(timestamptz, timestamptz),\n"
        "    rollup.refresh(timestamptz, timestamptz) FROM PUBLIC;\n"
        "REVOKE EXECUTE ON FUNCTION rollup.refresh_buckets(timestamptz, timestamptz)"
        " FROM emusa_analytics;\n"
        "GRANT EXECUTE ON FUNCTION rollup.refresh(timestamptz, timestamptz) TO emusa_analytics;\n"
    )
    for g in GRAINS:
        delta = {q.name: f"a.{q.name}_prev" for q in counters()}
        body = _columns(delta, {q.name: "a" for q in counters()})
        out.append(_view(g, body, f"FROM rollup.agg_{g.name} a"))
    return "\n".join(out)


def _lateral(alias: str, rel: str, bucket: str, cols: list[str]) -> str:
    """One index probe per row (LIMIT 1: the real-time part is read only on a miss)."""
    names = ", ".join(f"{alias}.{c}" for c in cols)
    return (
        f"LEFT JOIN LATERAL (\n"
        f"    SELECT {names} FROM {rel} {alias}\n"
        f"    WHERE {alias}.meter_id = a.meter_id AND {alias}.bucket = {bucket}\n"
        f"    LIMIT 1) {alias} ON true"
    )


def timescale() -> str:
    out = [HEADER_0017, INTRO.format(what="Community build", how=HOW_TIMESCALE)]
    base = [q.name for q in counters() if q.name not in ADDED_0016]
    for g in GRAINS[:1]:  # readings_1m only (see HOW_TIMESCALE)
        delta = {n: f"p.{n}_last" for n in base} | {n: f"px.{n}_last" for n in ADDED_0016}
        last = {n: "a" for n in base} | dict.fromkeys(ADDED_0016, "x")
        ext = f"rollup.agg_{g.name}_v16"
        ext_cols = [f"{n}_{c}" for n in ADDED_0016 for c in ("first", "last", "min", "max")]
        prev = g.previous("a.bucket")
        source = "\n".join([
            f"FROM rollup.agg_{g.name} a",
            _lateral("x", ext, "a.bucket", ext_cols),
            _lateral("p", f"rollup.agg_{g.name}", prev, [f"{n}_last" for n in base]),
            _lateral("px", ext, prev, [f"{n}_last" for n in ADDED_0016]),
        ])  # fmt: skip
        out.append(_view(g, _columns(delta, last), source))
    return "\n".join(out)


if __name__ == "__main__":
    raise SystemExit(main(sys.argv, {"apache": apache, "timescale": timescale}))
