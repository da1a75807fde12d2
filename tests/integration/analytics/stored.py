"""What the analytics jobs stored: anomalies (with the meter's name) and outbox messages."""

from __future__ import annotations

from typing import Any

import psycopg
from psycopg.rows import dict_row


def anomalies(db: str) -> list[dict[str, Any]]:
    with psycopg.connect(db, row_factory=dict_row) as conn:
        return conn.execute(
            "SELECT a.*, m.name AS meter FROM anomalies a LEFT JOIN meters m USING (meter_id)"
            " ORDER BY a.site_id, a.started_at"
        ).fetchall()


def outbox(db: str) -> list[dict[str, Any]]:
    with psycopg.connect(db, row_factory=dict_row) as conn:
        return conn.execute("SELECT * FROM analytics_outbox ORDER BY message_id").fetchall()
