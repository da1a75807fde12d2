"""The ``summarize`` job: one summary per complete 6-hour window (00/06/12/18 local),
once detection has covered it, claimed in ``analytics_job_runs`` in the transaction that
writes it (exactly once), queued to ``<root>/<site>/summaries`` through the outbox."""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from analytics import db
from analytics.db import Conn
from analytics.detection.rulebase import SiteInfo
from analytics.errors import LlmError
from analytics.summaries import figures, llm, text
from analytics.worker import outbox
from analytics.worker import store as state
from analytics.worker.context import Context
from analytics.worker.periods import run_periods
from contract import sqlfiles

log = logging.getLogger(__name__)

SUMMARY_JOB = "summary_6h"


def write_summary(
    ctx: Context, conn: Conn, site: SiteInfo, start: datetime, end: datetime
) -> dict[str, Any]:
    """Build, optionally rewrite, store and queue the summary of one window (in a transaction)."""
    metrics = figures.summary_metrics(conn, site, start, end)
    texts = {lang: text.render(metrics, lang) for lang in ("pt-BR", "en")}
    source = "deterministic"
    if ctx.settings.llm is not None and metrics.get("energy_kwh") is not None:
        try:
            rewritten = {
                lang: llm.rewrite(ctx.settings.llm, txt, lang, text.key_numbers(metrics, lang))
                for lang, txt in texts.items()
            }
        except LlmError as exc:
            log.warning(
                "LLM rewrite refused, keeping the deterministic text: %s",
                exc,
                extra={"site": site.site_id, "action": "llm"},
            )
        else:
            texts, source = rewritten, "llm"
    row = db.execute(
        conn, sqlfiles.beside(__file__)["insert_summary"],
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
    outbox.add(conn, site.site_id, "summaries", "summary", payload, summary_id=summary_id)
    return {"summary_id": summary_id, "source": source}


def summarize(ctx: Context, now: datetime) -> list[tuple[str, datetime]]:
    def ready(conn: Conn, site: SiteInfo, end: datetime) -> bool:
        mark = state.watermark(conn, "detect", site.site_id)
        return mark is not None and mark >= end

    def produce(conn: Conn, site: SiteInfo, start: datetime, end: datetime) -> dict[str, Any]:
        return write_summary(ctx, conn, site, start, end)

    return run_periods(ctx, SUMMARY_JOB, now, produce, ready=ready)
