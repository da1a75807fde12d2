"""Migration 0016: quantities added to the registry after the first schema (the plant's
second energy channel), in readings, the rollups of each build and the views."""

from __future__ import annotations

from contract.quantities import QUANTITIES, gauges

from .apache import from_minutes_block, from_raw_block, refresh_function
from .bi import bi_readings
from .columns import counter_columns
from .grains import FROZEN_REGISTRY, GRAINS, header
from .views import public_rollup_view, site_view

# Quantities added to the registry after the first schema, by migration.
ADDED_0016 = ("e_b_kwh",)


def _check_added(names: tuple[str, ...]) -> None:
    """New quantities are counters at the end of the registry (readings' column order)."""
    if list(QUANTITIES)[-len(names) :] != list(names):
        raise SystemExit(f"{names} must be the last quantities of contract/quantities.py")
    if any(q.name in names for q in gauges()):
        raise SystemExit("only counters can be added by this generator")


def _added_common(names: tuple[str, ...], what: str) -> list[str]:
    _check_added(names)
    cols = ", ".join(f"ADD COLUMN {n} double precision" for n in names)
    return [
        header(registry=FROZEN_REGISTRY),
        f"-- 0016 {what}: the energy counter(s) {', '.join(names)} (the plant's second\n"
        "-- energy channel, energia_kwh_b in its register file) get a readings column, rollup\n"
        "-- columns (first/last/min/max -> <name>_delta, <name>_last in readings_<grain>), the\n"
        "-- site totals and bi.readings_1m. Views are replaced with the new columns appended,\n"
        "-- so views built on them keep working.\n",
        f"ALTER TABLE readings {cols};\n",
    ]


def _added_views(names: tuple[str, ...], ext_rel: str | None) -> list[str]:
    out = [
        public_rollup_view(
            g,
            "CREATE OR REPLACE VIEW",
            names if ext_rel else (),
            ext_rel.format(grain=g.name) if ext_rel else "",
        )
        for g in GRAINS
    ]
    for grain in ("1m", "1h", "1d"):
        out.append(
            site_view(
                f"site_readings_{grain}",
                f"readings_{grain}",
                create="CREATE OR REPLACE VIEW",
                appended=names,
            )
        )
    out.append(bi_readings("CREATE OR REPLACE VIEW"))
    return out


def added_apache(names: tuple[str, ...] = ADDED_0016) -> str:
    """Apache build: new columns in the rollup hypertables and rollup.refresh() with them."""
    out = _added_common(names, "Apache-only build")
    cols = ", ".join(
        f"ADD COLUMN {c} double precision"
        for c, _ in counter_columns([QUANTITIES[n] for n in names])
    )
    out += [f"ALTER TABLE rollup.agg_{g.name} {cols};\n" for g in GRAINS]
    minute, coarser = GRAINS[0], GRAINS[1:]
    blocks = [from_raw_block(minute), *(from_minutes_block(g, minute) for g in coarser)]
    out.append(
        "-- rollup.refresh() as in 0008 (coarser grains from the minute rollup), new columns in.\n"
        + refresh_function("CREATE OR REPLACE FUNCTION", blocks)
    )
    out += _added_views(names, None)
    return "\n".join(out)


def added_timescale(names: tuple[str, ...] = ADDED_0016) -> str:
    """Community build: a continuous aggregate per grain for the new counters (an existing
    continuous aggregate cannot gain columns), joined into the public views."""
    out = _added_common(names, "Community build")
    qs = [QUANTITIES[n] for n in names]
    for g in GRAINS:
        lines = [f"    {expr} AS {col}" for col, expr in counter_columns(qs)]
        body = ",\n".join(["    meter_id", f"    {g.bucket_expr()} AS bucket", *lines])
        out.append(
            f"CREATE MATERIALIZED VIEW rollup.agg_{g.name}_v16\n"
            "WITH (timescaledb.continuous, timescaledb.materialized_only = false) AS\n"
            f"SELECT\n{body}\nFROM readings\nGROUP BY meter_id, bucket\nWITH NO DATA;\n"
            f"SELECT add_continuous_aggregate_policy('rollup.agg_{g.name}_v16',\n"
            f"    start_offset => INTERVAL '{g.start_offset}',\n"
            f"    end_offset => INTERVAL '{g.end_offset}',\n"
            f"    schedule_interval => INTERVAL '{g.schedule}');\n"
        )
    out.append(
        "ALTER MATERIALIZED VIEW rollup.agg_1m_v16 SET (timescaledb.compress = true);\n"
        "SELECT add_compression_policy('rollup.agg_1m_v16', compress_after => INTERVAL '30 days');\n"
        "SELECT add_retention_policy('rollup.agg_1m_v16', drop_after => INTERVAL '730 days');\n"
        + "".join(
            f"GRANT SELECT ON rollup.agg_{g.name}_v16 TO emusa_analytics, emusa_grafana;\n"
            for g in GRAINS
        )
        + "-- Owned like the first aggregates (0014), so the analytics worker refreshes them\n"
        "-- (late data, backfills: rollup.refresh_windows finds rollup.agg_<grain>_*, 0015).\n"
        + "".join(
            f"ALTER MATERIALIZED VIEW rollup.agg_{g.name}_v16 OWNER TO emusa_rollup_owner;\n"
            for g in GRAINS
        )
    )
    out += _added_views(names, "rollup.agg_{grain}_v16")
    return "\n".join(out)
