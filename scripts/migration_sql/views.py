"""Migration 0003: the public rollup views (both builds), demand and site totals."""

from __future__ import annotations

from contract.quantities import counters, gauges

from .bi import BI_STATIC, bi_readings
from .grains import FROZEN_REGISTRY, GRAINS, ROLLUP_TZ, Grain, header


def public_rollup_view(
    g: Grain, create: str = "CREATE VIEW", ext: tuple[str, ...] = (), ext_rel: str = ""
) -> str:
    """``readings_<grain>``; counters named in ``ext`` come from ``ext_rel`` (aliases x, px)."""
    cols = ["a.meter_id", "a.bucket", "a.samples"]
    for q in gauges():
        cols += [f"a.{q.name}_avg", f"a.{q.name}_min", f"a.{q.name}_max"]
    for q in counters():
        n = q.name
        a, p = ("x", "px") if n in ext else ("a", "p")
        cols.append(
            f"emusa_counter_delta({p}.{n}_last, {a}.{n}_first, {a}.{n}_last, {a}.{n}_min,"
            f" {a}.{n}_max) AS {n}_delta"
        )
        cols.append(f"{a}.{n}_last")
    body = ",\n    ".join(cols)
    joins = ""
    if ext:
        joins = (
            f"LEFT JOIN {ext_rel} x\n    ON x.meter_id = a.meter_id AND x.bucket = a.bucket\n"
            f"LEFT JOIN {ext_rel} px\n"
            f"    ON px.meter_id = a.meter_id AND px.bucket = {g.previous('a.bucket')}\n"
        )
    return (
        f"{create} readings_{g.name} AS\nSELECT\n    {body}\n"
        f"FROM rollup.agg_{g.name} a\n"
        f"LEFT JOIN rollup.agg_{g.name} p\n"
        f"    ON p.meter_id = a.meter_id AND p.bucket = {g.previous('a.bucket')}\n"
        f"{joins}".rstrip("\n")
        + ";\n"
        f"COMMENT ON VIEW readings_{g.name} IS 'Per-meter rollup, {g.width} buckets"
        + (f" aligned to local midnight ({ROLLUP_TZ})" if g.local else "")
        + ": avg/min/max of each quantity, energy per bucket from counter deltas.';\n"
    )


SITE_SUMS = ("p_total_avg", "q_total_avg", "s_total_avg")


def site_pf(alias: str) -> str:
    """The site's power factor from the sums of its meters' average P and Q."""
    return (
        f"sum({alias}.p_total_avg) / nullif(sqrt(sum({alias}.p_total_avg) ^ 2"
        f" + sum({alias}.q_total_avg) ^ 2), 0)"
    )


def site_view(
    name: str,
    source: str,
    extra: tuple[str, ...] = (),
    create: str = "CREATE VIEW",
    appended: tuple[str, ...] = (),
) -> str:
    """A site-total view; counters in ``appended`` (added later) go after pf_total_avg."""
    sums = [f"sum(r.{c}) AS {c}" for c in (*SITE_SUMS, *extra)]
    sums += [
        f"sum(r.{q.name}_delta) AS {q.name}_delta" for q in counters() if q.name not in appended
    ]
    body = ",\n    ".join(
        [
            "m.site_id",
            "r.bucket",
            "count(*) AS meters_reporting",
            *sums,
            f"{site_pf('r')} AS pf_total_avg",
            *(f"sum(r.{n}_delta) AS {n}_delta" for n in appended),
        ]
    )
    return (
        f"{create} {name} AS\nSELECT\n    {body}\nFROM {source} r\n"
        "JOIN meters m ON m.meter_id = r.meter_id\n"
        "WHERE m.include_in_site_total\nGROUP BY m.site_id, r.bucket;\n"
        f"COMMENT ON VIEW {name} IS 'Site total: the sum of the meters counted in the site "
        "total (meters.include_in_site_total); meters_reporting tells how many had data.';\n"
    )


def views() -> str:
    out = [
        header(registry=FROZEN_REGISTRY),
        "-- 0003 public rollup views (identical for both TimescaleDB builds), site totals and\n"
        "-- the documented `bi` schema read by Power BI.\n",
    ]
    out += [public_rollup_view(g) for g in GRAINS]
    out.append(
        "CREATE VIEW demand_15m AS\nSELECT\n"
        "    meter_id, bucket, samples,\n"
        "    CASE WHEN e_imp_kwh_delta IS NOT NULL THEN e_imp_kwh_delta * 4"
        " ELSE p_total_avg END AS demand_kw,\n"
        "    CASE WHEN e_imp_kvarh_delta IS NOT NULL THEN e_imp_kvarh_delta * 4"
        " ELSE q_total_avg END AS demand_kvar,\n"
        "    p_total_avg, p_total_max, q_total_avg, s_total_avg, pf_total_avg,\n"
        "    e_imp_kwh_delta, e_exp_kwh_delta, e_imp_kvarh_delta, e_exp_kvarh_delta\n"
        "FROM readings_15m;\n"
        "COMMENT ON VIEW demand_15m IS 'Demand per meter and 15-minute interval (the Brazilian "
        "billing interval): energy imported in the interval x 4, or the average kW when the "
        "meter has no energy counter.';\n"
    )
    out.append(site_view("site_readings_1m", "readings_1m"))
    out.append(site_view("site_demand_15m", "demand_15m", ("demand_kw", "demand_kvar")))
    out.append(site_view("site_readings_1h", "readings_1h"))
    out.append(site_view("site_readings_1d", "readings_1d"))
    out.append(BI_STATIC.format(readings=bi_readings()))
    return "\n".join(out)
