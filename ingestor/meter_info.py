"""Store a meter's info message (contract/meterinfo.py) in ``meters`` and ``meter_registers``
(migration 0019), inside the writer's batch transaction.

The newest message wins: its registers are upserted (a row changes only when its words
change) and the registers it no longer lists are dropped; the meter's columns change only
when something differs, so the retained message received at every reconnect writes
nothing. The queries are the writer's named queries (ingestor/queries.sql).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import psycopg
from psycopg import sql

from contract.meterinfo import MeterInfo

Conn = psycopg.Connection[tuple[Any, ...]]


def store(
    conn: Conn, q: Mapping[str, sql.Composed | sql.SQL], info: MeterInfo, meter_id: int
) -> bool:
    """Store ``info`` of the meter ``meter_id``; True when anything changed."""
    rows = [
        {
            "meter_id": meter_id,
            "quantity": r.quantity,
            "position": i,
            "name": r.name,
            "description": r.description,
            "unit": r.unit,
            "ai": r.ai,
        }
        for i, r in enumerate(info.registers)
    ]
    changed = 0
    with conn.cursor() as cur:
        for row in rows:
            cur.execute(q["upsert_meter_register"], row)
            changed += max(cur.rowcount, 0)
        quantities = [r.quantity for r in info.registers]
        cur.execute(q["drop_meter_registers"], {"meter_id": meter_id, "quantities": quantities})
        changed += max(cur.rowcount, 0)
        cur.execute(
            q["update_meter_info"],
            {
                "meter_id": meter_id,
                "model": info.model,
                "gateway": info.gateway,
                "map": info.map,
                "unit": info.unit,
                "channel": info.channel,
                "identifier": info.identifier,
                "port": info.port,
                "registers_changed": changed > 0,
            },
        )
        changed += max(cur.rowcount, 0)
    return changed > 0
