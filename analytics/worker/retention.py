"""The ``retention`` job: drops the Modbus diagnostics history older than 90 days.

Apache build: ``emusa_drop_old_diagnostics()`` runs ``drop_chunks`` (migration 0011).
Community build: its retention policies do it, and the call returns 0.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from analytics.worker.context import Context
from contract import sqlfiles

log = logging.getLogger(__name__)

RETENTION_EVERY = timedelta(hours=6)


def drop_old_diagnostics(ctx: Context, now: datetime) -> int:
    """Drop the Modbus diagnostics history older than 90 days; returns the chunks dropped."""
    del now
    query = sqlfiles.beside(__file__)["drop_old_diagnostics"]
    with ctx.connection() as conn:
        row = conn.execute(query).fetchone()
    dropped = int(row["dropped"]) if row else 0
    if dropped:
        log.info("dropped %d chunks of Modbus diagnostics older than 90 days", dropped)
    return dropped
