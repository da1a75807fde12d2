"""The analytics jobs and their registry.

Every job is idempotent and keeps its progress in the database, so the scheduler may run
it any number of times, after any downtime, from any number of workers:

* ``refresh_rollups`` — the time ranges the ingestor logged (late data of any age; on
  Community only readings older than its refresh policies reach), then, on the Apache
  build, a trailing window (Community: the policies and real-time aggregation).
* ``detect`` — rules and the statistical model over the data since the site's
  ``detect`` watermark (minus a lookback so that events crossing the boundary merge);
  one worker per site at a time (advisory lock); events written with their alerts in
  the outbox, in one transaction.
* ``summarize`` — one summary per complete 6-hour window (00/06/12/18 local), claimed in
  ``analytics_job_runs`` in the transaction that writes it: exactly once.
* ``publish`` — drains the outbox to MQTT.
* ``retention`` — drops the Modbus diagnostics history older than 90 days (Apache build;
  on Community its retention policies do).

Other issues add jobs with :func:`register` (for example the PDF reports), and
period-based ones reuse :func:`run_periods` to get the same exactly-once behaviour.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pandas as pd  # type: ignore[import-untyped]

from analytics import (
    crosscheck,
    extremes,
    llm,
    model,
    rollups,
    rules,
    store,
    summary,
    summary_figures,
)
from analytics import events as ev
from analytics.config import Settings
from analytics.errors import AnalyticsError, LlmError, PublishError
from analytics.messages import describe
from analytics.publish import Publisher, encode, topic
from analytics.scheduler import Job, complete_windows

log = logging.getLogger(__name__)

LOOKBACK = timedelta(hours=2)
CHUNK = timedelta(days=1)
TRAILING_REFRESH = timedelta(minutes=30)
SUMMARY_JOB = "summary_6h"
RETENTION_EVERY = timedelta(hours=6)


@dataclass
class Context:
    settings: Settings
    limits: rules.Limits = field(default_factory=rules.Limits)
    model_params: model.ModelParams = field(default_factory=model.ModelParams)
    models: dict[tuple[str, int], model.MeterModel] = field(default_factory=dict)
    publisher: Publisher | None = None
    rollups_fresh_at: datetime | None = None  # when refresh_rollups last ran in this process

    @property
    def crosscheck_limits(self) -> crosscheck.CrossCheckLimits:
        s = self.settings
        return crosscheck.CrossCheckLimits(
            rel_tol=s.crosscheck_tolerance_pct / 100, floor_kwh=s.crosscheck_floor_kwh
        )

    @property
    def conninfo(self) -> str:
        return self.settings.database_url

    def close(self) -> None:
        if self.publisher is not None:
            self.publisher.close()
            self.publisher = None


JobFactory = Callable[[Context], Callable[[datetime], object]]
_REGISTRY: dict[str, tuple[Callable[[Settings], timedelta], JobFactory]] = {}


def register(name: str, every: Callable[[Settings], timedelta], factory: JobFactory) -> None:
    """Add a job (run in registration order); ``factory(ctx)`` returns ``run(now)``."""
    _REGISTRY[name] = (every, factory)


def scheduled(ctx: Context) -> list[Job]:
    return [
        Job(name, every(ctx.settings), factory(ctx)) for name, (every, factory) in _REGISTRY.items()
    ]


# --- rollups --------------------------------------------------------------------------


def refresh_rollups(ctx: Context, now: datetime) -> int:
    done = rollups.refresh_pending(ctx.conninfo)
    rollups.refresh_recent(ctx.conninfo, now - TRAILING_REFRESH, now)
    ctx.rollups_fresh_at = now
    return done


def drop_old_diagnostics(ctx: Context, now: datetime) -> int:
    """Drop the Modbus diagnostics history older than 90 days; returns the chunks dropped.

    Apache build: ``emusa_drop_old_diagnostics()`` runs ``drop_chunks`` (migration 0011).
    Community build: its retention policies do it, and the call returns 0.
    """
    with store.connect(ctx.conninfo) as conn:
        row = conn.execute("SELECT emusa_drop_old_diagnostics() AS dropped").fetchone()
    dropped = int(row["dropped"]) if row else 0
    if dropped:
        log.info("dropped %d chunks of Modbus diagnostics older than 90 days", dropped)
    return dropped


# --- detection ------------------------------------------------------------------------


def _floor(t: datetime, step: timedelta) -> datetime:
    epoch = datetime(2000, 1, 1, tzinfo=UTC)
    return epoch + ((t - epoch) // step) * step


def _rule_input(
    conn: store.Conn, site: rules.SiteInfo, start: datetime, end: datetime
) -> rules.RuleInput:
    params = {"site": site.site_id, "start": start, "end": end}
    inp = rules.RuleInput(
        site=site,
        meters=store.meters(conn, site.site_id),
        start=start,
        end=end,
        minute=store.frame(conn, "minute_rows_extremes", params),
        hourly=store.frame(conn, "hourly_rows", params),
        demand=store.frame(conn, "demand_rows", params),
        last_before=store.last_before(conn, site.site_id, start),
    )
    inp.raw = store.raw_voltage(conn, extremes.raw_windows(inp))  # the short events' seconds
    return inp


MODEL_JOB = "model_fit"  # analytics_job_runs rows: the model's state at each fit


def _off_days(conn: store.Conn, site: str, start: datetime, end: datetime) -> list[date]:
    """National and site holidays between ``start`` and ``end`` (the model's day groups)."""
    params = {"site": site, "y0": start.year - 1, "y1": end.year + 1}
    return [r["day"] for r in store.execute(conn, "off_days", params)]


def _refit(ctx: Context, conn: store.Conn, inp: rules.RuleInput, stale: list[int]) -> None:
    """Refit the stale meters' models; log and record which day groups still warm up."""
    site = inp.site
    train_start = inp.start - ctx.settings.train_window
    params = {"site": site.site_id, "start": train_start, "end": inp.start}
    holidays = _off_days(conn, site.site_id, train_start, inp.end)
    events = [
        (int(r["meter_id"]), r["started_at"], r["ended_at"])
        for r in store.execute(conn, "training_events", params)
    ]
    train = model.without_events(
        model.features(
            store.frame(conn, "minute_rows", params), inp.meters, site.timezone,
            ctx.model_params.min_current_a, holidays,
        ),
        events,
    )  # fmt: skip
    statuses = {}
    for mid in stale:
        fitted = model.fit(train, mid, inp.start, ctx.model_params)
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
    if store.claim_period(
        conn, MODEL_JOB, site.site_id, start=inp.start, end=end, worker=ctx.settings.worker
    ):
        store.finish_period(conn, MODEL_JOB, site.site_id, inp.start, {"meters": statuses})


def _model_episodes(ctx: Context, conn: store.Conn, inp: rules.RuleInput) -> list[ev.Episode]:
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
    holidays = _off_days(conn, site.site_id, inp.start, inp.end)
    feats = model.features(
        inp.minute, inp.meters, site.timezone, ctx.model_params.min_current_a, holidays
    )
    out: list[ev.Episode] = []
    for mid in inp.meters:
        fitted = ctx.models.get((site.site_id, mid))
        rows = feats[feats["meter_id"] == mid]
        if fitted is None or rows.empty:
            continue
        last = pd.Timestamp(rows["bucket"].max()).to_pydatetime()
        out += model.episodes(
            site.site_id, fitted, rows, model.score(fitted, rows), last_bucket=last
        )
    return out


def _event_payload(row: dict[str, Any], event: str, lang: str) -> dict[str, Any]:
    details = dict(row["details"] or {})
    return {
        "v": 1,
        "type": "anomaly",
        "event": event,
        "id": row["anomaly_id"],
        "site": row["site_id"],
        "meter": row["meter"],
        "kind": row["kind"],
        "detector": row["detector"],
        "severity": row["severity"],
        "started_at": row["started_at"],
        "ended_at": row["ended_at"],
        "quantity": row["quantity"],
        "measured": row["measured"],
        "limit": row["limit_value"],
        "message": {"pt-BR": row["message_pt"], "en": row["message_en"]},
        "text": row["message_pt"] if lang == "pt-BR" else row["message_en"],
        "drivers": details.get("drivers"),
    }


def _apply(
    conn: store.Conn, inp: rules.RuleInput, changes: list[ev.Change], lang: str
) -> dict[str, int]:
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
            row = store.execute(conn, "insert_event", params)[0]
            anomaly_id, opened = int(row["anomaly_id"]), bool(row["inserted"])
        else:
            anomaly_id, opened = ch.anomaly_id, False
            store.execute(conn, "update_event", {**params, "anomaly_id": anomaly_id})
        counts["opened" if opened else "updated"] += 1
        transitions = (["opened"] if opened else []) + (
            ["closed"] if ch.ended_at is not None and ch.closed else []
        )
        for transition in transitions:
            payload_row = store.execute(conn, "event_payload", {"anomaly_id": anomaly_id})[0]
            store.outbox_add(
                conn, ep.site_id, "alerts", transition, _event_payload(payload_row, transition, lang),
                anomaly_id=anomaly_id,
            )  # fmt: skip
            counts["closed"] += transition == "closed"
    return counts


def detect_site(ctx: Context, site: rules.SiteInfo, now: datetime) -> dict[str, int] | None:
    """Detect over everything since the watermark (in chunks); None when another worker holds it."""
    end = _floor(now - ctx.settings.settle, timedelta(minutes=1))
    totals = {"opened": 0, "updated": 0, "closed": 0, "chunks": 0}
    with store.connect(ctx.conninfo) as conn:
        while True:
            with conn.transaction():
                if not store.try_lock(conn, "detect", site.site_id):
                    return None
                mark = store.watermark(conn, "detect", site.site_id)
                if mark is not None and mark >= end:
                    return totals
                first = store.first_data(conn, site.site_id)
                if first is None:
                    return totals
                start = max(mark or first, end - ctx.settings.catch_up)
                chunk_end = min(end, start + CHUNK)
                window_start = _floor(start - LOOKBACK, timedelta(hours=1))
                inp = _rule_input(conn, site, window_start, chunk_end)
                found = rules.evaluate(inp, ctx.limits)
                episodes = found + model.unexplained(_model_episodes(ctx, conn, inp), found)
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
                store.set_watermark(conn, "detect", site.site_id, chunk_end)
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
    with store.connect(ctx.conninfo) as conn:
        all_sites = store.sites(conn, ctx.settings.site)
    return {s.site_id: detect_site(ctx, s, now) for s in all_sites}


# --- summaries ------------------------------------------------------------------------


def write_summary(
    ctx: Context, conn: store.Conn, site: rules.SiteInfo, start: datetime, end: datetime
) -> dict[str, Any]:
    """Build, optionally rewrite, store and queue the summary of one window (in a transaction)."""
    metrics = summary_figures.summary_metrics(conn, site, start, end)
    texts = {lang: summary.render(metrics, lang) for lang in ("pt-BR", "en")}
    source = "deterministic"
    if ctx.settings.llm is not None and metrics.get("energy_kwh") is not None:
        try:
            rewritten = {
                lang: llm.rewrite(ctx.settings.llm, text, lang, summary.key_numbers(metrics, lang))
                for lang, text in texts.items()
            }
        except LlmError as exc:
            log.warning(
                "LLM rewrite refused, keeping the deterministic text: %s",
                exc,
                extra={"site": site.site_id, "action": "llm"},
            )
        else:
            texts, source = rewritten, "llm"
    row = store.execute(
        conn, "insert_summary",
        {"site": site.site_id, "start": start, "end": end, "text_pt": texts["pt-BR"],
         "text_en": texts["en"], "source": source, "metrics": metrics},
    )  # fmt: skip
    if not row:
        return {"summary_id": None}
    summary_id = int(row[0]["summary_id"])
    payload = {
        "v": 1, "type": "summary", "id": summary_id, "site": site.site_id,
        "period_start": start, "period_end": end, "source": source,
        "text": {"pt-BR": texts["pt-BR"], "en": texts["en"]},
        "text_default": texts[ctx.settings.lang], "metrics": metrics,
    }  # fmt: skip
    store.outbox_add(conn, site.site_id, "summaries", "summary", payload, summary_id=summary_id)
    return {"summary_id": summary_id, "source": source}


Producer = Callable[[store.Conn, rules.SiteInfo, datetime, datetime], dict[str, Any]]


def run_periods(
    ctx: Context, job: str, now: datetime, produce: Producer, *, hours: int = 6,
    ready: Callable[[store.Conn, rules.SiteInfo, datetime], bool] | None = None,
) -> list[tuple[str, datetime]]:  # fmt: skip
    """Produce every complete, not yet done window of every site, each exactly once.

    The period is claimed in ``analytics_job_runs`` in the transaction that writes the
    output: a failure rolls both back (retried next time); a second worker blocks on the
    claim until the first commits, then skips. ``ready(conn, site, end)`` may hold a
    window back (for example until detection has covered it).
    """
    done: list[tuple[str, datetime]] = []
    with store.connect(ctx.conninfo) as conn:
        for site in store.sites(conn, ctx.settings.site):
            first = store.first_data(conn, site.site_id)
            if first is None:
                continue
            since = max(first, now - ctx.settings.catch_up)
            for start, end in complete_windows(
                since, now, site.timezone, hours=hours, settle=ctx.settings.settle
            ):
                if ready is not None and not ready(conn, site, end):
                    break
                if store.period_done(conn, job, site.site_id, start):
                    continue
                with conn.transaction():
                    if not store.claim_period(
                        conn, job, site.site_id, start=start, end=end, worker=ctx.settings.worker
                    ):
                        continue
                    details = produce(conn, site, start, end)
                    store.finish_period(conn, job, site.site_id, start, details)
                done.append((site.site_id, start))
                log.info(
                    "%s %s %s done",
                    job,
                    site.site_id,
                    start.isoformat(),
                    extra={"site": site.site_id, "action": job},
                )
    return done


def summarize(ctx: Context, now: datetime) -> list[tuple[str, datetime]]:
    def ready(conn: store.Conn, site: rules.SiteInfo, end: datetime) -> bool:
        mark = store.watermark(conn, "detect", site.site_id)
        return mark is not None and mark >= end

    def produce(
        conn: store.Conn, site: rules.SiteInfo, start: datetime, end: datetime
    ) -> dict[str, Any]:
        return write_summary(ctx, conn, site, start, end)

    return run_periods(ctx, SUMMARY_JOB, now, produce, ready=ready)


# --- publishing -----------------------------------------------------------------------


def publish(ctx: Context, now: datetime, limit: int = 200) -> int:
    """Send unpublished outbox messages in order; returns how many the broker acknowledged."""
    del now
    if ctx.settings.mqtt_url is None:
        return 0
    if ctx.publisher is None:
        ctx.publisher = Publisher(ctx.settings.mqtt_url)
    sent = 0
    with store.connect(ctx.conninfo) as conn, conn.transaction():
        for row in store.execute(conn, "outbox_pending", {"limit": limit}):
            try:
                ctx.publisher.publish(
                    topic(ctx.settings.topic_root, row["site_id"], row["channel"]),
                    encode(row["payload"]),
                )
            except PublishError as exc:
                store.execute(
                    conn, "outbox_failed", {"message_id": row["message_id"], "error": str(exc)}
                )
                log.warning("publish deferred: %s", exc, extra={"action": "publish"})
                break
            store.execute(conn, "outbox_done", {"message_id": row["message_id"]})
            sent += 1
    return sent


def run_once(ctx: Context, now: datetime) -> dict[str, object]:
    """Every registered job once, in order (what one scheduler tick does when all are due)."""
    results: dict[str, object] = {}
    for job in scheduled(ctx):
        try:
            results[job.name] = job.run(now)
        except AnalyticsError as exc:
            results[job.name] = exc
    return results


register(
    "refresh_rollups", lambda s: s.refresh_every, lambda ctx: lambda now: refresh_rollups(ctx, now)
)
register("detect", lambda s: s.detect_every, lambda ctx: lambda now: detect(ctx, now))
register("summarize", lambda s: s.summarize_every, lambda ctx: lambda now: summarize(ctx, now))
register("publish", lambda s: s.publish_every, lambda ctx: lambda now: publish(ctx, now))
register(
    "retention", lambda s: RETENTION_EVERY, lambda ctx: lambda now: drop_old_diagnostics(ctx, now)
)

# the demand controller registers itself (analytics/demand_job.py, every 20 s)
from analytics import demand_job  # noqa: E402, F401
