"""The outbox: alerts and summaries are written to ``analytics_outbox`` in the
transaction that produces them, and the ``publish`` job sends them to MQTT in order
(:mod:`analytics.worker.publisher`), marking each one published only once the broker
acknowledged it."""

from __future__ import annotations

import json
import logging
from datetime import datetime
from typing import Any, LiteralString

from psycopg.types.json import Jsonb

from analytics import db
from analytics.db import Conn
from analytics.errors import PublishError
from analytics.worker.context import Context
from analytics.worker.publisher import Publisher, encode, topic
from contract import format_ts, sqlfiles

log = logging.getLogger(__name__)


def _q(name: str) -> LiteralString:
    """A query of ``worker/queries.sql`` (our own file, never a value)."""
    return sqlfiles.beside(__file__)[name]


def _json(value: object) -> str:
    """Instants as in the MQTT contract (RFC 3339 UTC, milliseconds, Z)."""
    if isinstance(value, datetime):
        return format_ts(value)
    return str(value)


def add(
    conn: Conn, site: str, channel: str, event: str, payload: dict[str, Any],
    *, anomaly_id: int | None = None, summary_id: int | None = None,
) -> None:  # fmt: skip
    """Queue a message for ``<root>/<site>/<channel>`` (once per anomaly/summary and event)."""
    conn.execute(
        _q("outbox_add"),
        {
            "site": site, "channel": channel, "event": event, "anomaly_id": anomaly_id,
            "summary_id": summary_id, "payload": Jsonb(json.loads(json.dumps(payload, default=_json))),
        },
    )  # fmt: skip


def publish(ctx: Context, now: datetime, limit: int = 200) -> int:
    """Send unpublished outbox messages in order; returns how many the broker acknowledged."""
    del now
    if ctx.settings.mqtt_url is None:
        return 0
    if ctx.publisher is None:
        ctx.publisher = Publisher(ctx.settings.mqtt_url)
    sent = 0
    with ctx.connection() as conn, conn.transaction():
        for row in db.execute(conn, _q("outbox_pending"), {"limit": limit}):
            try:
                ctx.publisher.publish(
                    topic(ctx.settings.topic_root, row["site_id"], row["channel"]),
                    encode(row["payload"]),
                )
            except PublishError as exc:
                db.execute(
                    conn, _q("outbox_failed"), {"message_id": row["message_id"], "error": str(exc)}
                )
                log.warning("publish deferred: %s", exc, extra={"action": "publish"})
                break
            db.execute(conn, _q("outbox_done"), {"message_id": row["message_id"]})
            sent += 1
    return sent
