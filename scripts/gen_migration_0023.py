"""Generate migration 0023 (issue 17): the Apache build's refresh writes by upsert.

    python scripts/gen_migration_0023.py apache    > sql/migrations/0023_refresh_upsert.apache.sql
    python scripts/gen_migration_0023.py timescale > sql/migrations/0023_refresh_upsert.timescale.sql

Refreshing one late reading cost more with a year of history than with a month (the
history benchmark's one unmet row, 1.59 x): rollup.refresh_buckets() deleted each grain's
window and rollup.link_previous() updated it, and PostgreSQL plans an UPDATE or DELETE on a
hypertable by opening every chunk of it (~60 us a chunk, 53 minute-rollup chunks a year)
before excluding all but one; an INSERT is routed to its chunk when it runs. Now every
write is an INSERT ... ON CONFLICT DO UPDATE; a DELETE runs only when a bucket of the
window lost all its source rows. The daily rollup is built from the 15-minute one (96 rows
a meter-day instead of 1,440 minutes: every UTC offset in use is a whole number of quarter
hours, so 15-minute buckets nest in local days). Each statement is planned with the
window's bounds: a generic plan (PL/pgSQL's choice after five calls on a kept session)
excludes chunks one by one as it runs. Same columns, same values.
Developer tool like gen_migration_0017.py; the output is frozen.
"""

from __future__ import annotations

import sys

from migration_sql import main
from migration_sql.apache import RANGE_CHECK, indent, window_bounds
from migration_sql.columns import agg_columns, agg_select, rollup_select
from migration_sql.grains import GRAINS, Grain, header

from contract.quantities import counters

HEADER = header("gen_migration_0023.py")

INTRO_APACHE = """-- 0023 Apache-only build: the rollup refresh writes by upsert (issue 17).
-- Refreshing one late reading cost more with a year of history than with a month:
-- rollup.refresh_buckets() deleted each grain's window before inserting it again and
-- rollup.link_previous() updated it, and PostgreSQL plans an UPDATE or DELETE on a
-- hypertable by opening every chunk (about 60 us a chunk; a year of minute rollups is 53
-- chunks) before excluding all but one, while an INSERT is routed to its chunk as it runs.
-- Now both write with INSERT ... ON CONFLICT DO UPDATE; a DELETE runs only for buckets of
-- the window whose source rows are all gone (readings deleted by hand), found by a read.
-- The daily rollup is aggregated from the 15-minute one (96 rows a meter-day, not 1,440
-- minutes; every UTC offset in use is a whole number of quarter hours, so 15-minute
-- buckets nest in local days; averages weighted by samples as in 0008).
-- Both functions plan each statement with the window's bounds (force_custom_plan): on a
-- kept session PL/pgSQL otherwise switches to a generic plan after five calls, and a
-- generic plan excludes chunks when it runs, one by one (again a cost per chunk).
-- Same functions, same signatures, same columns and values.
"""

INTRO_TIMESCALE = """-- 0023 Community build: the rollups themselves do not change. The Apache build's
-- rollup.refresh_buckets() and rollup.link_previous() now write by upsert
-- (0023_refresh_upsert.apache.sql); here continuous aggregates are refreshed by their
-- policies and, for late data, by the analytics worker. Both builds describe their
-- rollup schema in the catalog (\\dn+ rollup).
"""

SCHEMA_COMMENT = {
    "apache": "Internal rollups (Apache build): hypertables refreshed by rollup.refresh()"
    " and rollup.refresh_pending(), called by the analytics worker; read the"
    " readings_<grain> views, not these tables.",
    "timescale": "Internal rollups (Community build): continuous aggregates refreshed by"
    " their policies and, for late data, by the analytics worker"
    " (refresh_continuous_aggregate); read the readings_<grain> views, not these.",
}


def _schema_comment(build: str) -> str:
    return f"COMMENT ON SCHEMA rollup IS '{SCHEMA_COMMENT[build]}';\n"


SOURCE = {"15m": GRAINS[0], "1h": GRAINS[0], "1d": GRAINS[1]}  # coarser grain -> read from


def _upsert_tail(cols: list[str]) -> str:
    sets = ", ".join(f"{c} = EXCLUDED.{c}" for c in cols)
    return f"ON CONFLICT (meter_id, bucket) DO UPDATE SET {sets}"


def _select(g: Grain) -> tuple[str, str, str]:
    """(SELECT of the window's rows, source relation, its time column) of grain ``g``."""
    if g.name not in SOURCE:
        return agg_select(g, "WHERE time >= lo AND time < hi\n"), "readings", "time"
    src = SOURCE[g.name]
    return rollup_select(g, src), f"rollup.agg_{src.name}", "bucket"


def refresh_block(g: Grain) -> str:
    """One grain of rollup.refresh_buckets(): upsert the window, drop buckets left empty."""
    cols = [c for c, _ in agg_columns()]
    select, src, t = _select(g)
    table = f"rollup.agg_{g.name}"
    upsert = (
        f"WITH fresh AS (\n"
        f"    INSERT INTO {table} (meter_id, bucket, {', '.join(cols)})\n"
        f"{indent(select)}\n"
        f"    {_upsert_tail(cols)}\n"
        f"    RETURNING meter_id, bucket)\n"
        f"SELECT count(*) INTO gone FROM {table} a\n"
        f"WHERE a.bucket >= lo AND a.bucket < hi\n"
        f"  AND NOT EXISTS (SELECT 1 FROM fresh f"
        f" WHERE f.meter_id = a.meter_id AND f.bucket = a.bucket);\n"
        f"IF gone > 0 THEN  -- their source rows were deleted\n"
        f"    DELETE FROM {table} a\n"
        f"    WHERE a.bucket >= lo AND a.bucket < hi\n"
        f"      AND NOT EXISTS (SELECT 1 FROM {src} s WHERE s.meter_id = a.meter_id\n"
        f"                      AND s.{t} >= lo AND s.{t} < hi"
        f" AND {g.bucket_expr('s.' + t)} = a.bucket);\n"
        f"END IF;"
    )
    return window_bounds(g) + indent(upsert) + "\n"


def link_block(g: Grain) -> str:
    """One grain of rollup.link_previous(): the window's buckets and the one after it get
    the previous bucket's last counter values (NULL when that bucket is missing)."""
    names = [q.name for q in counters()]
    width = f"INTERVAL '{g.width}'"
    adjacent = f"p.prev_bucket = {g.previous('p.bucket')}"
    prev = ", ".join(f"{n}_prev" for n in names)
    values = ",\n           ".join(f"CASE WHEN {adjacent} THEN p.{n}_last END" for n in names)
    lags = ", ".join(f"lag({n}_last) OVER w AS {n}_last" for n in names)
    sets = ", ".join(f"{n}_prev = EXCLUDED.{n}_prev" for n in names)
    return window_bounds(g) + (
        f"    INSERT INTO rollup.agg_{g.name} (meter_id, bucket, samples, {prev})\n"
        f"    SELECT p.meter_id, p.bucket, p.samples,\n           {values}\n"
        f"    FROM (SELECT meter_id, bucket, samples, lag(bucket) OVER w AS prev_bucket, {lags}\n"
        f"          FROM rollup.agg_{g.name}\n"
        f"          WHERE bucket >= lo - 2 * {width} AND bucket <= hi\n"
        f"          WINDOW w AS (PARTITION BY meter_id ORDER BY bucket)) p\n"
        f"    WHERE p.bucket >= lo AND p.bucket <= hi\n"
        f"    ON CONFLICT (meter_id, bucket) DO UPDATE SET {sets};\n"
    )


def _function(name: str, declare: str, blocks: list[str], head: str = "") -> str:
    return (
        f"CREATE OR REPLACE FUNCTION rollup.{name}(p_from timestamptz, p_to timestamptz)"
        " RETURNS void\n"
        "LANGUAGE plpgsql SECURITY DEFINER\n"
        "SET search_path = pg_catalog, public\n"
        "SET jit = off\n"
        "SET plan_cache_mode = force_custom_plan\n"
        f"AS $$\nDECLARE\n{declare}BEGIN\n{head}" + "\n".join(blocks) + "END\n$$;\n"
    )


def apache() -> str:
    bounds = "    lo timestamptz;\n    hi timestamptz;\n"
    return "\n".join(
        [
            HEADER,
            INTRO_APACHE,
            "-- Re-aggregate every rollup over the buckets that touch [p_from, p_to]"
            " (as 0016, by upsert).\n"
            + _function(
                "refresh_buckets",
                bounds + "    gone bigint;\n",
                [refresh_block(g) for g in GRAINS],
                RANGE_CHECK,
            ),
            "-- The rebuilt buckets and the one after each window get the previous bucket's\n"
            "-- last counter values (as 0017, by upsert).\n"
            + _function("link_previous", bounds, [link_block(g) for g in GRAINS]),
            _schema_comment("apache"),
        ]
    )


def timescale() -> str:
    return "\n".join([HEADER, INTRO_TIMESCALE, _schema_comment("timescale")])


if __name__ == "__main__":
    raise SystemExit(main(sys.argv, {"apache": apache, "timescale": timescale}))
