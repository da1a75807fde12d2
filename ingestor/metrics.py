"""Counters of the running ingestor (pure).

Every committed message is counted once, as ``written``, ``duplicates``, ``rejected``,
``diagnostics`` or ``infos``: once nothing is pending, ``received`` = their sum (plus the messages of a
batch abandoned at stop, which the broker delivers again).

Each counter has one writer thread (``received`` the MQTT thread, the others the pipeline
thread), so plain integer updates are safe; readers take a snapshot for the status file.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any


@dataclass
class Counters:
    received: int = 0  # messages delivered by the broker (redeliveries included)
    written: int = 0  # readings inserted (new rows)
    duplicates: int = 0  # readings or diagnostics already stored (redelivery, replay): ignored
    rejected: int = 0  # messages refused (stored in ingest_rejects, or over its budget)
    rejects_unstored: int = 0  # refused messages over the per-reason budget: not stored
    diagnostics: int = 0  # gateways' Modbus diagnostics messages stored (new rows)
    infos: int = 0  # meters' info messages stored (contract/meterinfo.py)
    batches: int = 0  # committed transactions
    acked: int = 0  # messages acknowledged to the broker after their commit
    retries: int = 0  # failed batch attempts retried (database down or busy)
    pending: int = 0  # messages received and not yet committed
    lag_s: float = 0.0  # commit time minus the newest reading time of the last batch
    commit_ms: float = 0.0  # duration of the last batch transaction

    def snapshot(self) -> dict[str, Any]:
        return asdict(self)
