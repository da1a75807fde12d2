"""The ``detect`` job: rules, the statistical model and the counter cross-check over the
data since the site's ``detect`` watermark (minus a lookback so that events crossing the
boundary merge); one worker per site at a time (advisory lock); events written with
their alerts in the outbox, in one transaction, chunk by chunk."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from typing import Any

import pandas as pd  # type: ignore[import-untyped]

from analytics.db import Conn
from analytics.detection import crosscheck, extremes, rules, seasonal, store
from analytics.detection import events as ev
from analytics.detection.payload import event_payload
from analytics.detection.texts import describe
from analytics.worker import outbox
from analytics.worker import store as state
from analytics.worker.context import Context
from analytics.worker.rollups import refresh_rollups

log = logging.getLogger(__name__)

LOOKBACK = timedelta(hours=2)
CHUNK = timedelta(days=1)
MODEL_JOB = "model_fit"  # analytics_job_runs rows: the model's state at each fit


def _floor(t: datetime, step: timedelta) -> datetime:
    epoch = datetime(2000, 1, 1, tzinfo=UTC)
    return epoch + ((t - epoch) // step) * step


def _rule_input(
    conn: Conn, site: rules.SiteInfo, start: datetime, end: datetime
) -> rules.RuleInput:
    params = {"site": site.site_id, "start": start, "end": end}
    inp = rules.RuleInput(
        site=site,
        meters=state.meters(conn, site.site_id),
        start=start,
        end=end,
        minute=store.frame(conn, "minute_rows_extremes", params),
        hourly=store.frame(conn, "hourly_rows", params),
        demand=store.frame(conn, "demand_rows", params),
        last_before=store.last_before(conn, site.site_id, start),
    )
    inp.raw = store.raw_voltage(conn, extremes.raw_windows(inp))  # the short events' seconds
    return inp


def _refit(ctx: Context, conn: Conn, inp: rules.RuleInput, stale: list[int]) -> None:
    """Refit the stale meters' models; log and record which day groups still warm up."""
    site = inp.site
    train_start = inp.start - ctx.settings.train_window
    params = {"site": site.site_id, "start": train_start, "end": inp.start}
    holidays = store.off_days(conn, site.site_id, train_start, inp.end)
    events = store.training_events(conn, site.site_id, train_start, inp.start)
    train = seasonal.without_events(
        seasonal.features(
            store.frame(conn, "minute_rows", params), inp.meters, site.timezone,
            ctx.model_params.min_current_a, holidays,
        ),
        events,
    )  # fmt: skip
    statuses = {}
    for mid in stale:
        fitted = seasonal.fit(train, mid, inp.start, ctx.model_params)
        ctx.models[(site.site_id, mid)] = fitted
        status = statuses[inp.meters[mid].name] = fitted.status()
        if status["warming_up"]:
            log.info(
                "meter %s: not enough history for the model on %s yet (days %s, %d needed);"
                " those minutes are not scored",
                inp.meters[mid].name, ", ".join(status["warming_up"]), status["days"],
                status["min_days"], extra={"meter": mid, "action": "fit"},
            )  # fmt: skip
    end = inp.start + ctx.settings.refit_every
    if state.claim_period(
        conn, MODEL_JOB, site.site_id, start=inp.start, end=end, worker=ctx.settings.worker
    ):
        state.finish_period(conn, MODEL_JOB, site.site_id, inp.start, {"meters": statuses})


def _model_episodes(ctx: Context, conn: Conn, inp: rules.RuleInput) -> list[ev.Episode]:
    if not ctx.settings.model_enabled or inp.minute.empty:
        return []
    site = inp.site
    stale = [
        mid for mid in inp.meters
        if (m := ctx.models.get((site.site_id, mid))) is None
        or m.fitted_at < inp.start - ctx.settings.refit_every
    ]  # fmt: skip
    if stale:
        _refit(ctx, conn, inp, stale)
    holidays = store.off_days(conn, site.site_id, inp.start, inp.end)
    feats = seasonal.features(
        inp.minute, inp.meters, site.timezone, ctx.model_params.min_current_a, holidays
    )
    out: list[ev.Episode] = []
    for mid in inp.meters:
        fitted = ctx.models.get((site.site_id, mid))
        rows = feats[feats["meter_id"] == mid]
        if fitted is None or rows.empty:
            continue
        last = pd.Timestamp(rows["bucket"].max()).to_pydatetime()
        out += seasonal.episodes(
            site.site_id, fitted, rows, seasonal.score(fitted, rows), last_bucket=last
        )
    return out


def _apply(conn: Conn, inp: rules.RuleInput, changes: list[ev.Change], lang: str) -> dict[str, int]:
    counts = {"opened": 0, "updated": 0, "closed": 0}
    for ch in changes:
        ep = ch.episode
        meter = inp.meters.get(ep.meter_id) if ep.meter_id is not None else None
        details = {**ep.details, "last_seen": ch.last_seen.isoformat(), "badness": ep.badness}
        if ch.close_only:
            pt = en = None
            details = {"last_seen": ch.last_seen.isoformat()}
        else:
            pt, en = describe(
                ep.kind, meter.name if meter else None, ep.measured, ep.limit, ep.details
            )
        params = {
            "site": ep.site_id, "meter_id": ep.meter_id, "kind": ep.kind, "detector": ep.detector,
            "severity": ep.severity, "started_at": ch.started_at, "ended_at": ch.ended_at,
            "quantity": ep.quantity, "measured": ep.measured, "limit": ep.limit,
            "message_pt": pt, "message_en": en, "details": details,
        }  # fmt: skip
        if ch.anomaly_id is None:
            row = store.insert_event(conn, params)
            anomaly_id, opened = int(row["anomaly_id"]), bool(row["inserted"])
        else:
            anomaly_id, opened = ch.anomaly_id, False
            store.update_event(conn, {**params, "anomaly_id": anomaly_id})
        counts["opened" if opened else "updated"] += 1
        transitions = (["opened"] if opened else []) + (
            ["closed"] if ch.ended_at is not None and ch.closed else []
        )
        for transition in transitions:
            payload = event_payload(store.event_row(conn, anomaly_id), transition, lang)
            outbox.add(conn, ep.site_id, "alerts", transition, payload, anomaly_id=anomaly_id)
            counts["closed"] += transition == "closed"
    return counts


def detect_site(ctx: Context, site: rules.SiteInfo, now: datetime) -> dict[str, int] | None:
    """Detect over everything since the watermark (in chunks); None when another worker holds it."""
    end = _floor(now - ctx.settings.settle, timedelta(minutes=1))
    totals = {"opened": 0, "updated": 0, "closed": 0, "chunks": 0}
    with ctx.connection() as conn:
        while True:
            with conn.transaction():
                if not state.try_lock(conn, "detect", site.site_id):
                    return None
                mark = state.watermark(conn, "detect", site.site_id)
                if mark is not None and mark >= end:
                    return totals
                first = state.first_data(conn, site.site_id, end - ctx.settings.catch_up)
                if first is None:
                    return totals
                start = max(mark or first, end - ctx.settings.catch_up)
                chunk_end = min(end, start + CHUNK)
                window_start = _floor(start - LOOKBACK, timedelta(hours=1))
                inp = _rule_input(conn, site, window_start, chunk_end)
                found = rules.evaluate(inp, ctx.limits)
                episodes = found + seasonal.unexplained(_model_episodes(ctx, conn, inp), found)
                episodes += crosscheck.explained(
                    crosscheck.detect(conn, site, window_start, chunk_end, ctx.crosscheck_limits),
                    found,
                )
                stored = store.open_events(conn, site.site_id, window_start - timedelta(hours=1))
                keys = {e.key for e in stored}
                changes = ev.merge(
                    episodes, stored, ctx.limits.gaps, dict.fromkeys(keys, window_start)
                )
                counts = _apply(conn, inp, changes, ctx.settings.lang)
                state.set_watermark(conn, "detect", site.site_id, chunk_end)
            for k, v in counts.items():
                totals[k] += v
            totals["chunks"] += 1
            log.info(
                "detection %s..%s: %s", window_start.isoformat(), chunk_end.isoformat(), counts,
                extra={"site": site.site_id, "action": "detect"},
            )  # fmt: skip
            if chunk_end >= end:
                return totals


def detect(ctx: Context, now: datetime) -> dict[str, Any]:
    # A worker's rollups refreshed before the newest minute to judge ended lack part of
    # it (and the readings written late into it): refresh them first (short settle only)
    end = _floor(now - ctx.settings.settle, timedelta(minutes=1))
    if ctx.rollups_fresh_at is not None and ctx.rollups_fresh_at < end:
        refresh_rollups(ctx, now)
    with ctx.connection() as conn:
        all_sites = state.sites(conn, ctx.settings.site)
    return {s.site_id: detect_site(ctx, s, now) for s in all_sites}
