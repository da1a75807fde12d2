"""The demand controller as a job of ``emusa-analytics run`` (every 20 s by default).

Per site, under an advisory lock (one worker at a time), in one transaction:

1. closes the controller's events whose interval has ended: the interval's final demand
   is computed from the same data, ``details.outcome`` is ``avoided`` (ended at or under
   the limit) or ``exceeded``, and a ``closed`` message goes to the outbox;
2. projects the running interval from the raw readings (:mod:`analytics.demand.control`);
3. when the projection is trusted and above the limit, opens the interval's event (kind
   ``demand_projection``, site level, ``started_at``/``ended_at`` = the interval, one per
   interval and site by the ``anomalies`` key) with an ``opened`` message in the outbox;
   later runs of the same interval update its figures (worst projection in ``measured``).

Events are written ended (at the interval end) so that detection, which closes the open
events its rules no longer see, leaves them alone. The alert then takes the existing
path: the outbox to ``<root>/<site>/alerts`` (flushed right away), and e-mail / webhook
by the ``alerts`` job with its cooldown per (site, kind). Every run also publishes the
projection, retained, on ``<root>/<site>/demand/projection``.

Settings (environment): ``EMUSA_DEMAND_EVERY`` (seconds, default 20),
``EMUSA_DEMAND_MIN_ELAPSED`` (seconds into the interval before any alert, default 180),
``EMUSA_DEMAND_SEVERITY`` (``critical``; alerts go by e-mail/webhook only for the
severities in ``alerts.severities``). Named queries in ``demand/queries.sql``; the events
are written with detection's queries (:mod:`analytics.detection.store`).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from typing import Any, LiteralString

import contract
from analytics.db import Conn
from analytics.demand import control as dc
from analytics.detection import store as events
from analytics.detection.payload import event_payload
from analytics.detection.rulebase import SiteInfo
from analytics.errors import ConfigError, PublishError
from analytics.worker import outbox
from analytics.worker import store as state
from analytics.worker.context import Context
from analytics.worker.publisher import Publisher, encode
from contract import sqlfiles

log = logging.getLogger(__name__)

JOB = "demand_control"
SETTLE = timedelta(seconds=30)  # late readings of an ended interval, before its outcome
CLOSE_LOOKBACK = timedelta(days=1)
DEFAULT_EVERY = timedelta(seconds=20)
ENV_EVERY = "EMUSA_DEMAND_EVERY"
ENV_MIN_ELAPSED = "EMUSA_DEMAND_MIN_ELAPSED"
ENV_SEVERITY = "EMUSA_DEMAND_SEVERITY"


def _q(name: str) -> LiteralString:
    """A query of ``demand/queries.sql`` (our own file, never a value)."""
    return sqlfiles.beside(__file__)[name]


def _seconds(env: Mapping[str, str], var: str, default: timedelta) -> timedelta:
    raw = env.get(var)
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ConfigError(f"{var}: not a number of seconds: {raw!r}") from None
    if value < 0:
        raise ConfigError(f"{var}: must be >= 0 seconds: {raw!r}")
    return timedelta(seconds=value)


def every(env: Mapping[str, str] | None = None) -> timedelta:
    env = os.environ if env is None else env
    value = _seconds(env, ENV_EVERY, DEFAULT_EVERY)
    if value <= timedelta(0):
        raise ConfigError(f"{ENV_EVERY}: must be > 0 seconds")
    return value


def params_from_env(env: Mapping[str, str] | None = None) -> dc.DemandParams:
    """The controller's parameters; ConfigError naming the variable when malformed."""
    env = os.environ if env is None else env
    defaults = dc.DemandParams()
    min_elapsed = _seconds(env, ENV_MIN_ELAPSED, defaults.min_elapsed)
    severity = env.get(ENV_SEVERITY) or defaults.severity
    try:
        return dc.DemandParams(min_elapsed=min_elapsed, severity=severity)
    except ValueError as exc:
        var = ENV_SEVERITY if "severity" in str(exc) else ENV_MIN_ELAPSED
        raise ConfigError(f"{var}: {exc}") from exc


# --- reading -------------------------------------------------------------------------


def meter_windows(conn: Conn, site: str, start: datetime, until: datetime) -> list[dc.MeterWindow]:
    """The meters of the site total with their readings in [start, until)."""
    rows = conn.execute(_q("meters"), {"site": site, "start": start, "until": until})
    return [
        dc.MeterWindow(
            int(r["meter_id"]),
            r["name"],
            r["times"] or (),
            [float(v) for v in r["kw"] or ()],
            None if r["counter_kwh"] is None else float(r["counter_kwh"]),
            r["counter_from"],
            r["counter_to"],
        )
        for r in rows.fetchall()
    ]


def site_limit(conn: Conn, site: str, start: datetime) -> dc.Limit:
    row = conn.execute(_q("limit"), {"site": site, "start": start}).fetchone()
    if row is None:
        raise ConfigError(f"site {site!r} is not in the database")
    contracted = row["contracted_kw"]
    return dc.Limit(
        row["period"], None if contracted is None else float(contracted),
        float(row["demand_tolerance"]),
    )  # fmt: skip


def project_site(
    conn: Conn,
    site: str,
    at: datetime,
    params: dc.DemandParams,
    window_start: datetime | None = None,
) -> dc.Projection:
    """The projection of the interval holding ``at`` (or starting at ``window_start``)."""
    start, end = dc.window_of(at if window_start is None else window_start)
    meters = meter_windows(conn, site, start, min(at, end))
    return dc.project(
        site, meters, at, site_limit(conn, site, start), params, window_start=window_start
    )


# --- events --------------------------------------------------------------------------


def _queue(conn: Conn, ctx: Context, anomaly_id: int, event: str, p: dc.Projection) -> None:
    row = events.event_row(conn, anomaly_id)
    payload = event_payload(row, event, ctx.settings.lang)  # the one alert payload
    payload["demand"] = dict(row["details"] or {})
    outbox.add(conn, p.site_id, "alerts", event, payload, anomaly_id=anomaly_id)


def _event_params(
    p: dc.Projection, site: SiteInfo, params: dc.DemandParams, measured: float | None
) -> dict[str, Any]:
    pt, en = dc.messages(p, site.timezone)
    return {
        "site": p.site_id, "meter_id": None, "kind": dc.KIND, "detector": "rule",
        "severity": params.severity, "started_at": p.window_start, "ended_at": p.window_end,
        "quantity": "demand_kw", "measured": measured, "limit": p.limit_kw,
        "message_pt": pt, "message_en": en,
    }  # fmt: skip


def raise_or_update(
    conn: Conn, ctx: Context, site: SiteInfo, p: dc.Projection, params: dc.DemandParams
) -> str | None:
    """Open the interval's event on a trusted excess, or update the one already open.
    Returns ``opened``, ``updated`` or None."""
    found = conn.execute(
        _q("event"), {"site": p.site_id, "kind": dc.KIND, "start": p.window_start}
    ).fetchone()
    latest = dc.details(p)
    if found is None:
        if not p.alert:
            return None
        figures = {**latest, "raised_at": latest["at"], "raised_projected_kw": latest["projected_kw"],
                   "raised_shed_kw": latest["shed_kw"]}  # fmt: skip
        args = {**_event_params(p, site, params, p.projected_kw), "details": figures}
        row = events.insert_event(conn, args)
        if not row["inserted"]:  # another worker raised it first
            return None
        _queue(conn, ctx, int(row["anomaly_id"]), "opened", p)
        log.warning(
            "demand projected %.1f kW above the %.1f kW limit: shed %.1f kW",
            p.projected_kw, p.limit_kw, p.shed_kw,
            extra={"site": p.site_id, "action": JOB},
        )  # fmt: skip
        return "opened"
    if (found["details"] or {}).get("outcome") is not None:
        return None
    worst = max(float(found["measured"] or 0.0), p.projected_kw or 0.0)
    args = {**_event_params(p, site, params, worst), "anomaly_id": int(found["anomaly_id"])}
    if not p.alert:  # keep the alert's text; record the latest figures
        args["message_pt"] = args["message_en"] = None
    events.update_event(conn, {**args, "details": latest})
    return "updated"


def close_ended(
    conn: Conn, ctx: Context, site: SiteInfo, now: datetime, params: dc.DemandParams
) -> int:
    """Record the outcome of the controller's events whose interval has ended."""
    rows = conn.execute(
        _q("ended_events"),
        {"site": site.site_id, "kind": dc.KIND, "now": now - SETTLE, "since": now - CLOSE_LOOKBACK},
    ).fetchall()
    for r in rows:
        final = project_site(conn, site.site_id, r["ended_at"], params, r["started_at"])
        outcome = "exceeded" if final.exceeds else "avoided"
        details = {
            "outcome": outcome,
            "final_kw": None if final.projected_kw is None else round(final.projected_kw, 3),
            "final_energy_kwh": None if final.energy_kwh is None else round(final.energy_kwh, 4),
        }
        events.update_event(
            conn,
            {**_event_params(final, site, params, None), "measured": r["measured"],
             "anomaly_id": int(r["anomaly_id"]), "message_pt": None, "message_en": None,
             "limit": None, "details": details},
        )  # fmt: skip
        _queue(conn, ctx, int(r["anomaly_id"]), "closed", final)
        log.info(
            "demand interval %s ended %s (%s kW)", r["started_at"].isoformat(), outcome,
            details["final_kw"], extra={"site": site.site_id, "action": JOB},
        )  # fmt: skip
    return len(rows)


def describe(p: dc.Projection) -> str:
    """One line for the command line: the interval, its projection and what to do."""

    def kw(v: float | None) -> str:
        return "-" if v is None else f"{v:.1f} kW"

    head = (
        f"{p.site_id} {p.window_start.isoformat()}..{p.window_end.time().isoformat()}"
        f" {p.period} [{p.status}]"
    )
    if p.projected_kw is None:
        return f"{head}: no readings in the interval"
    what = f"shed {kw(p.shed_kw)}" if p.exceeds else f"headroom {kw(p.headroom_kw)}"
    return (
        f"{head}: energy {p.energy_kwh:.2f} kWh, current {kw(p.current_kw)},"
        f" projected {kw(p.projected_kw)}, limit {kw(p.limit_kw)}; {what}"
        + ("; ALERT" if p.alert else "")
    )


# --- the job -------------------------------------------------------------------------


def _publish_live(ctx: Context, p: dc.Projection) -> bool:
    if ctx.settings.mqtt_url is None:
        return False
    if ctx.publisher is None:
        ctx.publisher = Publisher(ctx.settings.mqtt_url)
    try:
        ctx.publisher.publish(
            contract.demand_projection_topic(ctx.settings.topic_root, p.site_id),
            encode(dc.live_payload(p)),
            retain=True,
        )
    except PublishError as exc:
        log.warning("projection not published: %s", exc, extra={"site": p.site_id, "action": JOB})
        return False
    return True


def run(ctx: Context, now: datetime, params: dc.DemandParams) -> dict[str, dc.Projection]:
    """Close ended intervals, project the running one and alert, for every site."""
    out: dict[str, dc.Projection] = {}
    opened = 0
    with ctx.connection() as conn:
        for site in state.sites(conn, ctx.settings.site):
            with conn.transaction():
                if not state.try_lock(conn, JOB, site.site_id):
                    continue
                closed = close_ended(conn, ctx, site, now, params)
                p = project_site(conn, site.site_id, now, params)
                change = raise_or_update(conn, ctx, site, p, params)
            opened += closed + (change == "opened")
            out[site.site_id] = p
    for p in out.values():
        _publish_live(ctx, p)
    if opened:
        outbox.publish(ctx, now)  # the alert goes out now, not at the next publish tick
    return out


def factory(ctx: Context) -> Callable[[datetime], object]:
    """The job's ``run(now)`` for the registry, with the parameters of the environment."""
    params = params_from_env()
    return lambda now: run(ctx, now, params)
