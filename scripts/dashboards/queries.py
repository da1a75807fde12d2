"""The SQL builders the dashboards share, and the constants behind them.

Relation switch for long ranges (every time series panel): the panel query is a
``UNION ALL`` of three branches, each gated by a condition on the dashboard range only
(``$__timeTo() - $__timeFrom()``). PostgreSQL plans such a condition as a one-time
filter, so only one branch runs:

* range <= 2 h: raw ``readings`` (1 s resolution, at most 7,200 rows per meter);
* range <= 3 days: ``readings_1m`` (at most 4,320 rows per meter);
* longer: ``readings_1h`` (720 rows per meter for 30 days, 8,760 for a year).

Each branch is grouped by ``$__timeGroupAlias(..., $__interval)``, so Grafana's own
resolution still applies on top. The range decides rather than ``$__interval`` alone,
because ``$__interval`` depends on the panel width: a narrow panel over two days
would otherwise read raw seconds.
"""

from __future__ import annotations

RAW_MAX = "2 hours"
M1_MAX = "3 days"
LIVE_WINDOW = "5 minutes"  # a meter silent for longer shows no live value
RANGE = "($__timeTo()::timestamptz - $__timeFrom()::timestamptz)"


def meter_filter(alias: str, *, site_total: bool = False) -> str:
    """Restrict a branch to the selected meters (or to the meters of the site total).

    ``= ANY (ARRAY(...))``, not ``IN (SELECT ...)``: the semi-join form, in a branch that
    the range switch turns off (a constant false), made the planner expand every chunk of
    ``readings`` (13-19 ms of planning per panel at a year of history against 0.03 ms;
    make bench-history, issue 17). Same rows: meter ids are never NULL."""
    return f"{alias}.meter_id = ANY ({meter_ids(site_total=site_total)})"


def meter_ids(*, site_total: bool = False) -> str:
    """The ids of the selected meters (or of the site total's) as an SQL integer array."""
    which = "include_in_site_total" if site_total else "name IN ($meter)"
    return f"ARRAY(SELECT meter_id FROM meters WHERE site_id = '$site' AND {which})"


def switched(columns: dict[str, tuple[str, str]], *, site_total: bool = False) -> str:
    """A time series over the dashboard range, from raw, 1 min or 1 h data by range.

    ``columns`` maps the output name to (raw expression, rollup expression) over alias
    ``r``. Per meter: ``time, metric (meter name), <columns>``; with ``site_total``:
    ``time, metric ('Total do site'), <columns>`` summed over the site's meters.
    """
    names = list(columns)
    inner = [f"c{i}" for i in range(len(names))]

    def branch(relation: str, tcol: str, use_rollup: bool, cond: str) -> str:
        exprs = ", ".join(
            f"{columns[n][1] if use_rollup else columns[n][0]} AS {c}"
            for n, c in zip(names, inner, strict=True)
        )
        return (
            f"  SELECT r.{tcol} AS t, r.meter_id, {exprs}\n"
            f"  FROM {relation} r\n"
            f"  WHERE $__timeFilter(r.{tcol}) AND {cond}\n"
            f"    AND {meter_filter('r', site_total=site_total)}"
        )

    union = "\n  UNION ALL\n".join(
        [
            branch("readings", "time", False, f"{RANGE} <= interval '{RAW_MAX}'"),
            branch(
                "readings_1m",
                "bucket",
                True,
                f"{RANGE} > interval '{RAW_MAX}' AND {RANGE} <= interval '{M1_MAX}'",
            ),
            branch("readings_1h", "bucket", True, f"{RANGE} > interval '{M1_MAX}'"),
        ]
    )
    if site_total:
        # A bucket where a meter of the total did not report is left out (a gap, not a
        # drop): it must hold as many meters as the fullest bucket of the range. Below 5 s
        # buckets a poll can land in the next bucket, so every bucket counts there.
        per_meter = ", ".join(f"avg(x.{c}) AS {c}" for c in inner)
        outer = ", ".join(f'sum(y.{c}) AS "{n}"' for n, c in zip(names, inner, strict=True))
        cols = ", ".join(f'z."{n}"' for n in names)
        return gaps_as_nulls(
            f"SELECT z.time, z.metric, {cols}\nFROM (\n"
            f"SELECT y.time, 'Total do site' AS metric, {outer},\n"
            "       count(*) AS meters, max(count(*)) OVER () AS meters_max\nFROM (\n"
            f"SELECT $__timeGroupAlias(x.t, $__interval), x.meter_id, {per_meter}\nFROM (\n"
            f"{union}\n) x\nGROUP BY 1, 2\n) y\nGROUP BY 1\n) z\n"
            "WHERE z.meters = z.meters_max OR $__interval_ms < 5000",
            names,
        )
    outs = ", ".join(f'avg(x.{c}) AS "{n}"' for n, c in zip(names, inner, strict=True))
    return gaps_as_nulls(
        f"SELECT $__timeGroupAlias(x.t, $__interval), m.name AS metric, {outs}\nFROM (\n"
        f"{union}\n) x\nJOIN meters m ON m.meter_id = x.meter_id\nGROUP BY 1, 2",
        names,
    )


def gaps_as_nulls(grouped: str, names: list[str], *, metric: bool = True) -> str:
    """``grouped`` (``time, [metric,] <names>``) plus one all-NULL row per gap of a series.

    A gap is a step between consecutive points of a series (a metric, or the whole
    result with ``metric=False``) longer than 1.5 times its median step (the resolution
    it is drawn at: raw poll interval, rollup or $__interval, whichever is coarser). The
    NULL row sits one median step after the last point before the gap, so the panel
    (spanNulls off) breaks the line there instead of drawing it across the outage.
    Nothing is filled in: no value inside a gap.
    """
    cols = ", ".join(f'g."{n}"' for n in names)
    nulls = ", ".join(f'NULL AS "{n}"' for n in names)
    key, part = ("g.metric, ", "PARTITION BY g.metric ") if metric else ("", "")
    skey, group, on = (
        ("s.metric, ", " GROUP BY s.metric", "st.metric = s.metric") if metric else ("", "", "true")
    )
    return (
        f"WITH g AS (\n{grouped}\n),\n"
        f"s AS (\n  SELECT g.time, {key}"
        f"lead(g.time) OVER ({part}ORDER BY g.time) - g.time AS dt\n  FROM g\n),\n"
        f"st AS (\n  SELECT {skey}percentile_cont(0.5) WITHIN GROUP (ORDER BY s.dt) AS step\n"
        f"  FROM s{group}\n)\n"
        f"SELECT g.time, {key}{cols} FROM g\n"
        "UNION ALL\n"
        f"SELECT s.time + st.step, {skey}{nulls}\n"
        f"FROM s JOIN st ON {on}\nWHERE s.dt > 1.5 * st.step\n"
        "ORDER BY 1"
    )


def q(name: str) -> tuple[str, str]:
    """A gauge quantity: raw column, rollup average."""
    return (f"r.{name}", f"r.{name}_avg")


def mean3(a: str, b: str, c: str) -> tuple[str, str]:
    return (f"(r.{a} + r.{b} + r.{c}) / 3", f"(r.{a}_avg + r.{b}_avg + r.{c}_avg) / 3")


def unbalance(suffix: str) -> str:
    """PRODIST Modulo 8 voltage unbalance FD (%) from the three line-line voltages."""
    a, b, c = (f"r.v_l12{suffix}", f"r.v_l23{suffix}", f"r.v_l31{suffix}")
    beta = f"(({a}^4 + {b}^4 + {c}^4) / nullif(({a}^2 + {b}^2 + {c}^2)^2, 0))"
    root = f"sqrt(greatest(3 - 6 * {beta}, 0))"
    return f"100 * sqrt(greatest((1 - {root}) / (1 + {root}), 0))"


def latest(expr: str, *, site_total: bool = False, aggregate: str = "") -> str:
    """The latest raw reading of each selected meter (within LIVE_WINDOW of the range end).

    Per meter: ``meter, value`` rows. With ``site_total``: one row ``value`` from
    ``aggregate`` over the meters of the site total.
    """
    where = (
        "m.site_id = '$site' AND m.include_in_site_total"
        if site_total
        else "m.site_id = '$site' AND m.name IN ($meter)"
    )
    lateral = (
        "CROSS JOIN LATERAL (\n"
        "  SELECT r.* FROM readings r\n"
        "  WHERE r.meter_id = m.meter_id AND r.time <= $__timeTo()\n"
        f"    AND r.time > $__timeTo()::timestamptz - interval '{LIVE_WINDOW}'\n"
        "  ORDER BY r.time DESC LIMIT 1\n) r\n"
    )
    if site_total:
        return f"SELECT {aggregate} AS value\nFROM meters m\n{lateral}WHERE {where}"
    return f"SELECT m.name AS meter, {expr} AS value\nFROM meters m\n{lateral}WHERE {where}\nORDER BY m.name"


# A local day is at most 25 hours long (a DST change): this constant bound beside the
# LATERAL midnight lets the planner drop every older chunk of ``readings`` at plan time
# (with the midnight alone it keeps all of them: 366 chunks at a year of history).
_TODAY = "r.time <= $__timeTo() AND r.time > $__timeTo()::timestamptz - interval '25 hours'"


def energy_today(*, site_total: bool = False) -> str:
    """Imported kWh since the site's local midnight: last minus first counter of today."""
    where = (
        "m.site_id = '$site' AND m.include_in_site_total"
        if site_total
        else "m.site_id = '$site' AND m.name IN ($meter)"
    )
    body = (
        "FROM meters m\nJOIN sites s ON s.site_id = m.site_id\n"
        "CROSS JOIN LATERAL (SELECT (date_trunc('day', $__timeTo()::timestamptz AT TIME ZONE s.timezone)"
        " AT TIME ZONE s.timezone) AS midnight) d\n"
        "CROSS JOIN LATERAL (\n  SELECT r.e_imp_kwh FROM readings r\n"
        f"  WHERE r.meter_id = m.meter_id AND r.time >= d.midnight AND {_TODAY}\n"
        "  ORDER BY r.time LIMIT 1\n) f\n"
        "CROSS JOIN LATERAL (\n  SELECT r.e_imp_kwh FROM readings r\n"
        f"  WHERE r.meter_id = m.meter_id AND r.time >= d.midnight AND {_TODAY}\n"
        "  ORDER BY r.time DESC LIMIT 1\n) l\n"
        f"WHERE {where}"
    )
    if site_total:
        return f"SELECT sum(greatest(l.e_imp_kwh - f.e_imp_kwh, 0)) AS value\n{body}"
    return (
        f"SELECT m.name AS meter, greatest(l.e_imp_kwh - f.e_imp_kwh, 0) AS value\n{body}\n"
        "ORDER BY m.name"
    )


# Site demand per 15-minute bucket with its tariff period and the contracted demand that
# applies (ponta demand on tarifa azul), as the CTE ``c`` of the demand panels. The
# period comes from the schema's set-based calendar, emusa_tariff_period_local()
# (migration 0021; a test compares it with emusa_tariff_period() bucket by bucket):
# PostgreSQL inlines it, so the buckets join one calendar row per site and look their
# period up in its arrays, where emusa_tariff_period() would cost ~0.2 ms per bucket
# (0.6 s for the 2,880 buckets of 30 days). An inlined expression is repeated wherever
# the query reads it; the OFFSET 0 subquery computes it once per bucket, however often
# the panel reads c.period and c.contracted_kw.
# The site's demand comes from emusa_site_demand_15m() (migration 0024): the rows of
# site_demand_15m for the range, read with lag() over the range's 15-minute rollup rows
# (on the Community build the view looks each bucket's previous one up: 6-10 us a row,
# ~1 s for a year of two meters' demand).
def tariff_cte(since: str | None = None) -> str:
    """The CTEs ``s`` and ``c`` over the dashboard range, or over [since, $__timeTo()].

    ``since`` (an SQL timestamptz expression) bounds ``c`` to recent buckets for a panel
    that needs only those, so its cost does not grow with the dashboard range.
    """
    start = "$__timeFrom()::timestamptz" if since is None else since
    return f"""WITH s AS (
  SELECT site_id, timezone, tariff_modality, contracted_demand_kw, contracted_demand_ponta_kw, demand_tolerance
  FROM sites WHERE site_id = '$site'
),
c AS (
  SELECT b.site_id, b.bucket, b.demand_kw, b.e_imp_kwh_delta, b.lt, b.timezone, b.demand_tolerance, b.period,
         CASE WHEN b.tariff_modality = 'azul' AND b.period = 'ponta'
              THEN b.contracted_demand_ponta_kw ELSE b.contracted_demand_kw END AS contracted_kw
  FROM (
    SELECT d.site_id, d.bucket, d.demand_kw, d.e_imp_kwh_delta, l.lt, t.period, s.timezone, s.demand_tolerance,
           s.tariff_modality, s.contracted_demand_kw, s.contracted_demand_ponta_kw
    FROM emusa_site_demand_15m('$site', {start}, $__timeTo()::timestamptz) d
    JOIN s ON s.site_id = d.site_id
    CROSS JOIN LATERAL (SELECT d.bucket AT TIME ZONE s.timezone AS lt) l
    CROSS JOIN LATERAL emusa_tariff_period_local(s.site_id, l.lt) t
    OFFSET 0
  ) b
)"""


TARIFF_CTE = tariff_cte()

ANOMALY_WHERE = (
    "a.site_id = '$site' AND a.started_at <= $__timeTo()"
    " AND coalesce(a.ended_at, 'infinity') >= $__timeFrom()"
    " AND (a.meter_id IS NULL OR a.meter_id IN"
    " (SELECT meter_id FROM meters WHERE site_id = '$site' AND name IN ($meter)))"
)
