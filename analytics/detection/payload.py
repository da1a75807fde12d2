"""The message of an event on ``<root>/<site>/alerts`` (docs/mqtt-contract.md): one
shape for the detection's events and the demand controller's, built from the stored
row (:func:`analytics.detection.store.event_row`)."""

from __future__ import annotations

from typing import Any


def event_payload(row: dict[str, Any], event: str, lang: str) -> dict[str, Any]:
    """The payload of ``event`` (``opened`` or ``closed``) of a stored event."""
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
