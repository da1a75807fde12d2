"""Generate migration 0024 (issue 17): bounded previous-bucket lookups on the Community build.

    python scripts/gen_migration_0024.py apache    > sql/migrations/0024_probe_previous.apache.sql
    python scripts/gen_migration_0024.py timescale > sql/migrations/0024_probe_previous.timescale.sql

On the Community build the views over the continuous aggregates still read a whole
aggregate for any range: readings_15m, _1h and _1d joined each bucket to the previous one
with ``p.bucket = a.bucket - width`` (0016, kept by 0017), which no time range reaches,
and readings_1m's LATERAL probes (0017) ran for every row even when no energy column was
asked for. A probe into an aggregate is cheap only when the aggregate has few chunks: its
chunk exclusion runs again for every probe (measured on a year: ~60 us a probe over 37
chunks of 10 days, ~4 us over one chunk). So, on that build:

* each energy column is a scalar subquery probing the previous bucket (LIMIT 1: the
  materialized row, the real-time part only on a miss), so a query pays for the energy
  columns it reads, per row it reads, and nothing else; the probes sit in a subquery
  that PostgreSQL does not merge into the query (a volatile column), so a column named
  twice is still probed once;
* the aggregates' new chunks span 90 days (minutes) and 365 days (coarser grains), as
  the Apache build's daily table; chunks made before stay as they are.

demand_15m (both builds) reads the energy delta once (coalesce instead of a CASE naming it
twice): the same values. Developer tool like gen_migration_0023.py; the output is frozen.
"""

from __future__ import annotations

import sys

from migration_sql import main
from migration_sql.added_0016 import ADDED_0016
from migration_sql.grains import GRAINS, Grain, header
from migration_sql.views import site_pf

from contract.quantities import counters, gauges

HEADER = header("gen_migration_0024.py")

#: chunk interval of each continuous aggregate's new chunks (Community build)
COMMUNITY_CHUNK = {"1m": "90 days", "15m": "365 days", "1h": "365 days", "1d": "365 days"}

INTRO_DEMAND = """-- demand_15m names each energy delta once (coalesce, not a CASE reading it twice):
-- same values; on the Community build every mention of a delta is a probe.
"""

INTRO_APACHE = """-- 0024 Apache-only build: the rollup tables store the previous bucket's counters
-- (0017), so the rollup views are unchanged here (the Community build's file probes the
-- previous bucket per row); demand_15m and emusa_shift_energy() change on both builds.
"""

INTRO_TIMESCALE = """-- 0024 Community build: bounded previous-bucket lookups in every readings_<grain>
-- (issue 17). readings_15m/_1h/_1d joined each bucket to the previous one with
-- p.bucket = a.bucket - width (0016): no time range reaches that side, so a day of
-- readings_15m read the year's whole aggregate, twice for site_demand_15m. readings_1m's
-- LATERAL probes (0017) ran for every row, even when no energy column was read.
-- Now each energy column is a scalar subquery probing the previous bucket (LIMIT 1 stops at
-- the materialized row; the real-time part is read only on a miss): a query pays per row
-- for the energy columns it reads, nothing for the others, whatever the history kept.
-- The probes sit in a subquery PostgreSQL keeps as one (its volatile column, fence), so
-- a column the query names twice (site_demand_15m: demand_kw and e_imp_kwh_delta) is
-- still probed once per row; the query's range and meter still reach the aggregate.
-- A probe re-runs chunk exclusion over every chunk of the aggregate (about 60 us at 37
-- chunks of 10 days, 4 us at one), so the aggregates' new chunks span 90 days (minutes)
-- and 365 days (coarser); chunks made before keep their 10 days.
-- Same columns, same values; site totals, demand_15m and the bi views follow.
"""


def demand_view() -> str:
    return (
        "CREATE OR REPLACE VIEW demand_15m AS\nSELECT\n"
        "    meter_id, bucket, samples,\n"
        "    coalesce(e_imp_kwh_delta * 4, p_total_avg) AS demand_kw,\n"
        "    coalesce(e_imp_kvarh_delta * 4, q_total_avg) AS demand_kvar,\n"
        "    p_total_avg, p_total_max, q_total_avg, s_total_avg, pf_total_avg,\n"
        "    e_imp_kwh_delta, e_exp_kwh_delta, e_imp_kvarh_delta, e_exp_kvarh_delta\n"
        "FROM readings_15m;\n"
    )


INTRO_SHIFTS = """-- emusa_shift_energy() (0010) becomes PL/pgSQL, same signature and rows. As an SQL
-- function PostgreSQL inlined it into the calling query after TimescaleDB had looked at
-- that query, so the real-time aggregates inside it kept their watermark as a function
-- call: on the Community build every energy probe was planned over every raw chunk
-- (60-108 ms of planning at a year, 12 ms at a month, for the shifts panel). A PL/pgSQL
-- statement is planned on its own, with the range's values (force_custom_plan). It reads
-- the site's demand through emusa_site_demand_15m() (below), as the demand panels do.
"""

SHIFT_ENERGY = """CREATE OR REPLACE FUNCTION emusa_shift_energy(p_site text, p_from timestamptz, p_to timestamptz)
RETURNS TABLE (production_date date, shift text, starts_at timestamptz, ends_at timestamptz,
               energy_kwh double precision, max_demand_kw double precision,
               power_factor_avg double precision, intervals bigint, intervals_expected integer)
LANGUAGE plpgsql STABLE
SET plan_cache_mode = force_custom_plan
AS $$
#variable_conflict use_column
BEGIN
    RETURN QUERY
    WITH iv AS (
        SELECT i.production_date, i.shift,
               greatest(i.starts_at, p_from) AS a, least(i.ends_at, p_to) AS b
        FROM sites s
        CROSS JOIN LATERAL emusa_shift_intervals(
            s.site_id, (p_from AT TIME ZONE s.timezone)::date - 1, (p_to AT TIME ZONE s.timezone)::date) i
        WHERE s.site_id = p_site AND i.ends_at > p_from AND i.starts_at < p_to
    )
    SELECT iv.production_date, iv.shift, iv.a, iv.b,
           sum(d.e_imp_kwh_delta), max(d.demand_kw), avg(d.pf_total_avg),
           count(d.bucket) FILTER (WHERE d.meters_reporting >= (
               SELECT count(*) FROM meters m WHERE m.site_id = p_site AND m.include_in_site_total)),
           ceil(extract(epoch FROM iv.b - iv.a) / 900)::int
    FROM iv
    -- the 15-minute buckets of each shift clipped to the range (0010)
    LEFT JOIN LATERAL generate_series(
        date_bin('15 minutes', iv.a + interval '15 minutes' - interval '1 microsecond',
                 timestamptz '2000-01-01 00:00Z'),
        iv.b - interval '1 microsecond', interval '15 minutes') AS q (bucket) ON true
    LEFT JOIN (
        SELECT x.bucket, x.e_imp_kwh_delta, x.demand_kw, x.pf_total_avg, x.meters_reporting
        FROM emusa_site_demand_15m(p_site, p_from, p_to) x
        WHERE x.bucket < p_to
    ) d ON d.bucket = q.bucket
    GROUP BY iv.production_date, iv.shift, iv.a, iv.b
    ORDER BY iv.a;
END
$$;
"""


INTRO_DEMAND_FN = """-- Demand over a range for the dashboards (both builds): emusa_demand_15m(meters, from,
-- to) gives demand_15m's rows and emusa_site_demand_15m(site, from, to) site_demand_15m's
-- columns used by the demand panels, for from <= bucket <= to (Grafana's $__timeFilter).
-- They read the 15-minute rollup over the range and one bucket before it and take each
-- bucket's previous counter values with lag() (the adjacent bucket only, as the views):
-- no per-row lookup, so on the Community build a year of demand costs what its rows
-- cost (the views' probes cost 6-10 us a row there). The same values as the views.
"""

DEMAND_COUNTERS = ("e_imp_kwh", "e_exp_kwh", "e_imp_kvarh", "e_exp_kvarh")


def _lag_delta(n: str) -> str:
    return (
        f"emusa_counter_delta(CASE WHEN lag(a.bucket) OVER w = a.bucket - INTERVAL '15 minutes'\n"
        f"                                       THEN lag(a.{n}_last) OVER w END,\n"
        f"                                  a.{n}_first, a.{n}_last, a.{n}_min, a.{n}_max) AS {n}_delta"
    )


def demand_functions() -> str:
    deltas = ",\n               ".join(_lag_delta(n) for n in DEMAND_COUNTERS)
    out_deltas = ", ".join(f"r.{n}_delta" for n in DEMAND_COUNTERS)
    typed = ", ".join(f"{n}_delta double precision" for n in DEMAND_COUNTERS)
    return f"""CREATE FUNCTION emusa_demand_15m(p_meters integer[], p_from timestamptz, p_to timestamptz)
RETURNS TABLE (meter_id integer, bucket timestamptz, samples bigint,
               demand_kw double precision, demand_kvar double precision,
               p_total_avg double precision, p_total_max double precision,
               q_total_avg double precision, s_total_avg double precision,
               pf_total_avg double precision,
               {typed})
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, public
SET plan_cache_mode = force_custom_plan
AS $$
#variable_conflict use_column
BEGIN
    RETURN QUERY
    SELECT r.meter_id, r.bucket, r.samples,
           coalesce(r.e_imp_kwh_delta * 4, r.p_total_avg),
           coalesce(r.e_imp_kvarh_delta * 4, r.q_total_avg),
           r.p_total_avg, r.p_total_max, r.q_total_avg, r.s_total_avg, r.pf_total_avg,
           {out_deltas}
    FROM (
        SELECT a.meter_id, a.bucket, a.samples, a.p_total_avg, a.p_total_max, a.q_total_avg,
               a.s_total_avg, a.pf_total_avg,
               {deltas}
        FROM rollup.agg_15m a
        WHERE a.meter_id = ANY (p_meters)
          AND a.bucket >= p_from - INTERVAL '15 minutes' AND a.bucket <= p_to
        WINDOW w AS (PARTITION BY a.meter_id ORDER BY a.bucket)
    ) r
    WHERE r.bucket >= p_from;
END
$$;
COMMENT ON FUNCTION emusa_demand_15m(integer[], timestamptz, timestamptz) IS 'demand_15m''s rows of the given meters for from <= bucket <= to, read from the rollup over that range only (the previous bucket by lag()): what the dashboards read over long ranges.';

CREATE FUNCTION emusa_site_demand_15m(p_site text, p_from timestamptz, p_to timestamptz)
RETURNS TABLE (site_id text, bucket timestamptz, meters_reporting bigint,
               demand_kw double precision, demand_kvar double precision,
               e_imp_kwh_delta double precision, pf_total_avg double precision)
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, public
SET plan_cache_mode = force_custom_plan
AS $$
#variable_conflict use_column
BEGIN
    RETURN QUERY
    SELECT p_site, d.bucket, count(*), sum(d.demand_kw), sum(d.demand_kvar),
           sum(d.e_imp_kwh_delta),
           {site_pf("d")}
    FROM emusa_demand_15m(ARRAY(SELECT m.meter_id FROM meters m
                                WHERE m.site_id = p_site AND m.include_in_site_total),
                          p_from, p_to) d
    GROUP BY d.bucket;
END
$$;
COMMENT ON FUNCTION emusa_site_demand_15m(text, timestamptz, timestamptz) IS 'site_demand_15m''s demand, energy and power factor of a site for from <= bucket <= to, from emusa_demand_15m().';

REVOKE ALL ON FUNCTION emusa_demand_15m(integer[], timestamptz, timestamptz),
    emusa_site_demand_15m(text, timestamptz, timestamptz) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION emusa_demand_15m(integer[], timestamptz, timestamptz),
    emusa_site_demand_15m(text, timestamptz, timestamptz) TO emusa_analytics, emusa_grafana;
"""


def _probe(rel: str, alias: str, bucket: str, cols: list[str]) -> str:
    """One row (or none) of ``rel`` for meter a.meter_id at ``bucket``."""
    names = ", ".join(f"{alias}.{c}" for c in cols)
    return (
        f"(SELECT {names} FROM {rel} {alias}"
        f" WHERE {alias}.meter_id = a.meter_id AND {alias}.bucket = {bucket} LIMIT 1)"
    )


def _delta(prev: str, cur: str, n: str, agg: bool = False) -> str:
    """emusa_counter_delta of counter ``n``: ``prev`` is the previous bucket's last value,
    ``cur`` the alias of the bucket's own row (its values under max() when ``agg``). No
    argument is a subquery, so PostgreSQL inlines the function."""
    f = "max({}.{})" if agg else "{}.{}"
    own = ", ".join(f.format(cur, f"{n}_{c}") for c in ("first", "last", "min", "max"))
    return f"emusa_counter_delta({prev}, {own})"


def _columns(g: Grain) -> str:
    """The view's columns: each energy delta a scalar subquery (aggregated over a LIMIT 1
    probe, so it always yields one row: NULL where the probe found none)."""
    prev = g.previous("a.bucket")
    cols = ["a.meter_id", "a.bucket", "a.samples"]
    for q in gauges():
        cols += [f"a.{q.name}_avg", f"a.{q.name}_min", f"a.{q.name}_max"]
    own, ext = f"rollup.agg_{g.name}", f"rollup.agg_{g.name}_v16"
    for q in counters():
        n = q.name
        if n in ADDED_0016:  # from the 0016 aggregate: its own row (x) and the previous (px)
            x = _probe(ext, "x", "a.bucket", [f"{n}_{c}" for c in ("first", "last", "min", "max")])
            px = _probe(ext, "px", prev, [f"{n}_last"])
            cols.append(
                f"(SELECT {_delta(f'max(px.{n}_last)', 'x', n, agg=True)}\n"
                f"     FROM {x} x\n     LEFT JOIN {px} px ON true) AS {n}_delta"
            )
            cols.append(f"{_probe(ext, 'x', 'a.bucket', [f'{n}_last'])} AS {n}_last")
        else:
            p = _probe(own, "p", prev, [f"{n}_last"])
            cols.append(
                f"(SELECT {_delta(f'max(p.{n}_last)', 'a', n)}\n     FROM {p} p) AS {n}_delta"
            )
            cols.append(f"a.{n}_last")
    return ",\n    ".join(cols)


def _names() -> list[str]:
    """The columns of readings_<grain>, in order (0003, then 0016's counter)."""
    names = ["meter_id", "bucket", "samples"]
    for q in gauges():
        names += [f"{q.name}_{s}" for s in ("avg", "min", "max")]
    for q in counters():
        names += [f"{q.name}_delta", f"{q.name}_last"]
    return names


def readings_view(g: Grain) -> str:
    """The columns over a subquery that PostgreSQL keeps (a volatile column in it): each
    probe runs once per row however often the query names its column (demand_15m and
    site_demand_15m name the import delta twice: 155 -> 80-105 ms for 30 days of
    site_demand_15m), while the query's range still reaches the aggregate and the probe
    columns it does not read are dropped."""
    names = ",\n    ".join(f"r.{n}" for n in _names())
    body = _columns(g).replace("\n", "\n    ")
    return (
        f"CREATE OR REPLACE VIEW readings_{g.name} AS\nSELECT\n    {names}\n"
        f"FROM (\n    SELECT\n        {body},\n"
        f"        random() AS fence  -- volatile: PostgreSQL keeps this SELECT a subquery\n"
        f"    FROM rollup.agg_{g.name} a) r;\n"
    )


def both_builds() -> list[str]:
    """What 0024 changes alike on both builds."""
    return [
        INTRO_DEMAND + demand_view(),
        INTRO_DEMAND_FN + demand_functions(),
        INTRO_SHIFTS + SHIFT_ENERGY,
    ]


def apache() -> str:
    return "\n".join([HEADER, INTRO_APACHE, *both_builds()])


def timescale() -> str:
    chunks = "".join(
        f"SELECT set_chunk_time_interval('rollup.agg_{g.name}{v}',"
        f" INTERVAL '{COMMUNITY_CHUNK[g.name]}');\n"
        for g in GRAINS
        for v in ("", "_v16")
    )
    return "\n".join(
        [HEADER, INTRO_TIMESCALE, chunks] + [readings_view(g) for g in GRAINS] + both_builds()
    )


if __name__ == "__main__":
    raise SystemExit(main(sys.argv, {"apache": apache, "timescale": timescale}))
