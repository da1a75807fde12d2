"""Migration 0002 on the Community build: continuous aggregates and their policies."""

from __future__ import annotations

from .columns import agg_select
from .grains import FROZEN_REGISTRY, GRAINS, header


def rollups_timescale() -> str:
    out = [
        header(registry=FROZEN_REGISTRY),
        "-- 0002 rollups, TimescaleDB Community build (SHOW timescaledb.license = 'timescale'):\n"
        "-- continuous aggregates in schema rollup, real-time (materialized_only = false) so\n"
        "-- the latest minutes are visible; refresh, compression and retention policies.\n"
        "-- Created WITH NO DATA (allowed inside the migration's transaction); the refresh\n"
        "-- policies materialize them. Public views over them are in 0003_views.sql.\n",
        "CREATE SCHEMA rollup;\n",
    ]
    for g in GRAINS:
        out.append(
            f"CREATE MATERIALIZED VIEW rollup.agg_{g.name}\n"
            "WITH (timescaledb.continuous, timescaledb.materialized_only = false) AS\n"
            f"{agg_select(g)}\nWITH NO DATA;\n"
            f"SELECT add_continuous_aggregate_policy('rollup.agg_{g.name}',\n"
            f"    start_offset => INTERVAL '{g.start_offset}',\n"
            f"    end_offset => INTERVAL '{g.end_offset}',\n"
            f"    schedule_interval => INTERVAL '{g.schedule}');\n"
        )
    out.append(
        "-- Raw readings: compress after 7 days (segment by meter), drop after 400 days.\n"
        "ALTER TABLE readings SET (\n"
        "    timescaledb.compress,\n"
        "    timescaledb.compress_segmentby = 'meter_id',\n"
        "    timescaledb.compress_orderby = 'time DESC');\n"
        "SELECT add_compression_policy('readings', compress_after => INTERVAL '7 days');\n"
        "SELECT add_retention_policy('readings', drop_after => INTERVAL '400 days');\n\n"
        "-- One-minute rollups: compressed after 30 days, kept two years. Coarser ones are\n"
        "-- small and kept for good. compress_after is past every refresh window.\n"
        "ALTER MATERIALIZED VIEW rollup.agg_1m SET (timescaledb.compress = true);\n"
        "SELECT add_compression_policy('rollup.agg_1m', compress_after => INTERVAL '30 days');\n"
        "SELECT add_retention_policy('rollup.agg_1m', drop_after => INTERVAL '730 days');\n"
    )
    return "\n".join(out)
