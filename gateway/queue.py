"""Bounded on-disk FIFO of MQTT messages (SQLite), so no reading is lost while the broker
is away or the gateway restarts. Also keeps each meter's sequence number across restarts.

Every reading is stored here first and deleted only when the broker acknowledged it
(PUBACK), so the queue holds exactly what is not yet safe at the broker. Beyond
``max_messages`` the oldest are dropped (counted and logged): a bounded disk beats an
unbounded one when a broker stays down for weeks.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from gateway.errors import QueueError

log = logging.getLogger(__name__)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS messages (
    id      INTEGER PRIMARY KEY AUTOINCREMENT,
    topic   TEXT NOT NULL,
    payload BLOB NOT NULL,
    qos     INTEGER NOT NULL,
    retain  INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS sequences (
    meter TEXT PRIMARY KEY,
    seq   INTEGER NOT NULL
);
"""


@dataclass(frozen=True, slots=True)
class QueuedMessage:
    id: int
    topic: str
    payload: bytes
    qos: int
    retain: bool


class DiskQueue:
    """Thread-safe: the poll loop appends, the MQTT network thread acknowledges."""

    def __init__(self, path: Path, max_messages: int) -> None:
        self.path = path
        self.max_messages = max_messages
        self.dropped = 0
        self._lock = threading.Lock()
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.executescript(_SCHEMA)
            self._count = int(self._db.execute("SELECT count(*) FROM messages").fetchone()[0])
        except (OSError, sqlite3.Error) as exc:
            raise QueueError(f"cannot open the queue {path}: {exc}") from exc

    def __len__(self) -> int:
        return self._count

    def next_seq(self, meter: str) -> int:
        """The next sequence number of ``meter`` (1 for a new meter), persisted."""
        with self._lock:
            try:
                row = self._db.execute(
                    "INSERT INTO sequences (meter, seq) VALUES (?, 1)"
                    " ON CONFLICT (meter) DO UPDATE SET seq = seq + 1 RETURNING seq",
                    (meter,),
                ).fetchone()
            except sqlite3.Error as exc:
                raise QueueError(
                    f"{self.path}: cannot advance the sequence of {meter}: {exc}"
                ) from exc
        return int(row[0])

    def put(self, topic: str, payload: bytes, qos: int = 1, retain: bool = False) -> int:
        """Append a message; returns its id. Drops the oldest beyond ``max_messages``."""
        with self._lock:
            try:
                self._db.execute("BEGIN")
                cur = self._db.execute(
                    "INSERT INTO messages (topic, payload, qos, retain) VALUES (?, ?, ?, ?)",
                    (topic, payload, qos, int(retain)),
                )
                self._count += 1
                excess = self._count - self.max_messages
                if excess > 0:
                    self._db.execute(
                        "DELETE FROM messages WHERE id IN (SELECT id FROM messages ORDER BY id LIMIT ?)",
                        (excess,),
                    )
                    self._count -= excess
                    self.dropped += excess
                self._db.execute("COMMIT")
            except sqlite3.Error as exc:
                self._db.execute("ROLLBACK")
                raise QueueError(f"{self.path}: cannot store a message for {topic}: {exc}") from exc
        if excess > 0:
            log.error(
                "queue full (%d messages): dropped the %d oldest",
                self.max_messages,
                excess,
                extra={"action": "queue_drop", "dropped_total": self.dropped},
            )
        return int(cur.lastrowid or 0)

    def after(self, last_id: int, limit: int) -> list[QueuedMessage]:
        """Up to ``limit`` messages with an id above ``last_id``, oldest first."""
        with self._lock:
            rows = self._db.execute(
                "SELECT id, topic, payload, qos, retain FROM messages WHERE id > ? ORDER BY id LIMIT ?",
                (last_id, limit),
            ).fetchall()
        return [QueuedMessage(int(i), str(t), bytes(p), int(q), bool(r)) for i, t, p, q, r in rows]

    def remove(self, ids: Iterable[int]) -> None:
        batch = [(i,) for i in ids]
        if not batch:
            return
        with self._lock:
            try:
                self._db.execute("BEGIN")
                before = self._db.total_changes
                self._db.executemany("DELETE FROM messages WHERE id = ?", batch)
                self._count -= self._db.total_changes - before
                self._db.execute("COMMIT")
            except sqlite3.Error as exc:
                self._db.execute("ROLLBACK")
                raise QueueError(
                    f"{self.path}: cannot remove acknowledged messages: {exc}"
                ) from exc

    def close(self) -> None:
        with self._lock:
            self._db.close()
