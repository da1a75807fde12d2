"""Apache-only build: rollup hypertables refreshed by rollup.refresh() (migration 0002),
coarser grains refreshed from the minute rollup (0008); the refresh blocks 0016 reuses."""

from __future__ import annotations

from .columns import agg_columns, agg_select, rollup_select
from .grains import FROZEN_REGISTRY, GRAINS, Grain, header


def indent(text: str, n: int = 4) -> str:
    """``text`` with every non-empty line indented by ``n`` spaces."""
    return "\n".join((" " * n + line) if line else line for line in text.splitlines())


def window_bounds(g: Grain) -> str:
    """plpgsql assignments of lo, hi: the buckets of grain ``g`` touching [p_from, p_to]."""
    return (
        f"    lo := {g.bucket_expr('p_from')};\n"
        f"    hi := {g.bucket_expr('p_to')} + INTERVAL '{g.width}';\n"
    )


# Start of rollup.refresh() and its successors: the range is checked, refreshes serialised.
RANGE_CHECK = (
    "    IF p_from IS NULL OR p_to IS NULL OR p_to < p_from THEN\n"
    "        RAISE EXCEPTION 'rollup.refresh: invalid range [%, %]', p_from, p_to\n"
    "            USING ERRCODE = 'invalid_parameter_value';\n"
    "    END IF;\n"
    "    PERFORM pg_advisory_xact_lock(hashtext('emusa.rollup.refresh'));\n"
)


def window_delete_insert(g: Grain) -> str:
    """Start of one grain's refresh block: the bucket window, delete it, insert into it."""
    names = ", ".join(c for c, _ in agg_columns())
    return (
        window_bounds(g)
        + f"    DELETE FROM rollup.agg_{g.name} WHERE bucket >= lo AND bucket < hi;\n"
        f"    INSERT INTO rollup.agg_{g.name} (meter_id, bucket, {names})\n"
    )


def from_raw_block(g: Grain) -> str:
    """Refresh block re-aggregating one grain from the raw readings of the window."""
    select = agg_select(g, "WHERE time >= lo AND time < hi\n")
    return window_delete_insert(g) + indent(select) + ";\n"


def refresh_function(create: str, blocks: list[str]) -> str:
    """``rollup.refresh(p_from, p_to)``: checks the range, serialises refreshes, runs blocks."""
    return (
        f"{create} rollup.refresh(p_from timestamptz, p_to timestamptz)"
        + (" RETURNS void\n" if create == "CREATE FUNCTION" else "\nRETURNS void\n")
        + "LANGUAGE plpgsql SECURITY DEFINER\n"
        "SET search_path = pg_catalog, public\n"
        "AS $$\nDECLARE\n    lo timestamptz;\n    hi timestamptz;\nBEGIN\n"
        + RANGE_CHECK
        + "\n".join(blocks)
        + "END\n$$;\n"
    )


def from_minutes_block(g: Grain, minute: Grain) -> str:
    """Refresh block aggregating grain ``g`` from the minute rollup of the window."""
    return window_delete_insert(g) + indent(rollup_select(g, minute)) + ";\n"


def rollups_apache() -> str:
    cols = ",\n".join(
        f"    {c:<24} {'bigint NOT NULL' if c == 'samples' else 'double precision'}"
        for c, _ in agg_columns()
    )
    out = [
        header(registry=FROZEN_REGISTRY),
        "-- 0002 rollups, TimescaleDB Apache-only build (SHOW timescaledb.license = 'apache'):\n"
        "-- continuous aggregates are not available, so the same internal relations are\n"
        "-- hypertables refreshed incrementally by rollup.refresh(from, to) and\n"
        "-- rollup.refresh_pending() (called by the analytics scheduler). Refreshing a\n"
        "-- window re-aggregates only that window, as a continuous aggregate would;\n"
        "-- a plain materialized view would re-aggregate all history on every refresh.\n"
        "-- Public views over them, identical in both builds, are in 0003_views.sql.\n",
        "CREATE SCHEMA rollup;\n",
    ]
    for g in GRAINS:
        out.append(
            f"CREATE TABLE rollup.agg_{g.name} (\n"
            "    meter_id                 integer NOT NULL,\n"
            "    bucket                   timestamptz NOT NULL,\n"
            f"{cols},\n"
            "    PRIMARY KEY (meter_id, bucket)\n);\n"
            f"SELECT create_hypertable('rollup.agg_{g.name}', "
            f"by_range('bucket', INTERVAL '{g.chunk}'));\n"
        )
    out.append(
        "-- Time ranges written since the last refresh (the ingestor logs each batch's range).\n"
        "CREATE TABLE rollup.invalidations (\n"
        "    range_start timestamptz NOT NULL,\n"
        "    range_end   timestamptz NOT NULL CHECK (range_end >= range_start),\n"
        "    logged_at   timestamptz NOT NULL DEFAULT now()\n);\n"
    )
    out.append(
        "-- Re-aggregate every rollup over the buckets that touch [p_from, p_to].\n"
        + refresh_function("CREATE FUNCTION", [from_raw_block(g) for g in GRAINS])
    )
    out.append(
        "-- Refresh what was written since the last call; returns the number of ranges done.\n"
        "CREATE FUNCTION rollup.refresh_pending() RETURNS integer\n"
        "LANGUAGE plpgsql SECURITY DEFINER\n"
        "SET search_path = pg_catalog, public\n"
        "AS $$\nDECLARE\n    lo timestamptz;\n    hi timestamptz;\n    n  integer;\nBEGIN\n"
        "    PERFORM pg_advisory_xact_lock(hashtext('emusa.rollup.refresh'));\n"
        "    WITH done AS (DELETE FROM rollup.invalidations RETURNING range_start, range_end)\n"
        "    SELECT min(range_start), max(range_end), count(*) INTO lo, hi, n FROM done;\n"
        "    IF n > 0 THEN\n"
        "        PERFORM rollup.refresh(lo, hi);\n"
        "    END IF;\n"
        "    RETURN n;\nEND\n$$;\n"
        "REVOKE ALL ON FUNCTION rollup.refresh(timestamptz, timestamptz) FROM PUBLIC;\n"
        "REVOKE ALL ON FUNCTION rollup.refresh_pending() FROM PUBLIC;\n"
    )
    return "\n".join(out)


def refresh_from_minutes() -> str:
    """Apache build: rollup.refresh() aggregating 15 m / 1 h / 1 d from the minute rollup."""
    minute, coarser = GRAINS[0], GRAINS[1:]
    blocks = [from_raw_block(minute), *(from_minutes_block(g, minute) for g in coarser)]
    return "\n".join(
        [
            header(registry=FROZEN_REGISTRY),
            "-- 0008 Apache-only build: rollup.refresh() builds the 15-minute, hourly and daily\n"
            "-- rollups from the minute rollup instead of the raw readings. Refreshing the\n"
            "-- running day used to re-aggregate every raw reading of the day each minute\n"
            "-- (86,400 rows per meter by evening); now it reads at most 1,440 minute rows.\n"
            "-- Same columns, same results: averages are weighted by each minute's samples,\n"
            "-- min/max and counter first/last/min/max compose exactly.\n",
            refresh_function("CREATE OR REPLACE FUNCTION", blocks),
        ]
    )
