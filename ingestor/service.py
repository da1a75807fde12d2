"""The running ingestor: MQTT deliveries -> validation -> batches -> database -> acks.

Threads: paho's network thread only queues deliveries; the pipeline thread validates,
batches, writes and acknowledges; the status thread writes the heartbeat file once a
second. A delivery is acknowledged only after the transaction holding it committed.
While the database is unavailable the same batch is retried with exponential backoff and
nothing is acknowledged; the broker then stops sending at ``receive_maximum``
unacknowledged messages, so memory stays bounded and the backlog waits in the broker.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta

from contract import Reading
from contract.diagnostics import Diagnostics
from contract.meterinfo import MeterInfo
from ingestor.batcher import Batcher
from ingestor.config import IngestorConfig
from ingestor.errors import BatchError, DatabaseError, DatabaseUnavailable
from ingestor.health import Status, write_status
from ingestor.metrics import Counters
from ingestor.subscriber import Delivery, Subscriber
from ingestor.validate import Policy, Reject, unparseable, validate
from ingestor.writer import Message, Writer, WriteResult

log = logging.getLogger(__name__)

Item = tuple[Delivery, Reading | Diagnostics | MeterInfo | Reject]
CommitHook = Callable[[Sequence[Reading], float], None]


class Service:
    def __init__(
        self,
        config: IngestorConfig,
        *,
        on_committed: CommitHook | None = None,
        status_interval: float = 1.0,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        """``clock``: "now" of the future and retention checks (tests pass their instant)."""
        self.config = config
        self._clock = clock or (lambda: datetime.now(UTC))
        self.counters = Counters()
        self._on_committed = on_committed
        self._status_interval = status_interval
        self._policy = Policy(
            root=config.topic_root,
            retention=timedelta(days=config.retention_days),
            max_future=timedelta(seconds=config.max_future_s),
            keep_bytes=config.reject_keep_bytes,
        )
        self._queue: queue.SimpleQueue[Delivery] = queue.SimpleQueue()
        # The broker honours receive_maximum; this is only a guard against one that does not.
        self._hard_limit = 2 * config.receive_maximum + config.batch_rows
        self._batcher: Batcher[Item] = Batcher(config.batch_rows, config.batch_ms / 1000)
        self._writer = Writer(
            config.database_url, limits=config.limits, keep_bytes=config.reject_keep_bytes
        )
        self._subscriber = Subscriber(
            config.mqtt,
            root=config.topic_root,
            client_id=config.client_id,
            shared_group=config.shared_group,
            session_expiry=config.session_expiry,
            receive_maximum=config.receive_maximum,
            on_delivery=self._on_delivery,
        )
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._db_down_since: float | None = None
        self._db_error = ""
        self._started = time.time()
        self._last_commit: float | None = None
        self.fatal: str | None = None  # set when the pipeline died of an unexpected error

    # --- lifecycle --------------------------------------------------------------------

    @property
    def subscriber(self) -> Subscriber:
        return self._subscriber

    def start(self) -> None:
        log.info(
            "ingestor starting",
            extra={
                "action": "start",
                "topic": ", ".join(self._subscriber.topic_filters),
                "client_id": self.config.client_id,
                "batch_rows": self.config.batch_rows,
                "batch_ms": self.config.batch_ms,
                "receive_maximum": self.config.receive_maximum,
            },
        )
        self._subscriber.start()
        for name, target in (("pipeline", self._guarded_pipeline), ("status", self._status_loop)):
            t = threading.Thread(target=target, name=f"ingestor-{name}", daemon=True)
            t.start()
            self._threads.append(t)

    def stop(self, timeout: float = 10.0) -> None:
        """Commit and acknowledge what is batched (if the database answers), then leave."""
        self._stop.set()
        deadline = time.monotonic() + timeout
        for t in self._threads:
            t.join(max(0.0, deadline - time.monotonic()))
        self._subscriber.stop()
        self._writer.close()
        self._write_status()
        log.info("ingestor stopped", extra={"action": "stop", **self.counters.snapshot()})

    def wait(self, timeout: float | None = None) -> bool:
        """Block until :meth:`stop` is requested; True when it was."""
        return self._stop.wait(timeout)

    def request_stop(self) -> None:
        self._stop.set()

    # --- MQTT thread --------------------------------------------------------------------

    def _on_delivery(self, delivery: Delivery) -> None:
        self.counters.received += 1
        while self._queue.qsize() >= self._hard_limit and not self._stop.is_set():
            time.sleep(0.01)  # stop reading: the broker keeps the rest
        self._queue.put(delivery)

    # --- pipeline thread ------------------------------------------------------------------

    def _guarded_pipeline(self) -> None:
        try:
            self._pipeline()
        except Exception as exc:  # a bug: stop, so the supervisor restarts us
            log.critical(
                "pipeline failed, stopping: %s", exc, exc_info=True, extra={"action": "crash"}
            )
            self.fatal = f"{type(exc).__name__}: {exc}"
            self._stop.set()

    def _pipeline(self) -> None:
        try:
            self._writer.connect()
        except DatabaseError as exc:
            self._db_failed(exc)
        batcher = self._batcher
        get = self._queue.get
        policy = self._policy
        while not self._stop.is_set():
            wait = batcher.wait_time(time.monotonic())
            try:
                delivery = get(timeout=0.2 if wait is None else max(wait, 0.0005))
            except queue.Empty:
                delivery = None
            if delivery is not None:
                now = self._clock()
                mono = time.monotonic()
                full = batcher.add(self._classify(delivery, policy, now), mono)
                while not full:  # drain what is already queued without waiting
                    try:
                        delivery = self._queue.get_nowait()
                    except queue.Empty:
                        break
                    full = batcher.add(self._classify(delivery, policy, now), mono)
            self.counters.pending = self._queue.qsize() + len(batcher)
            if batcher.due(time.monotonic()):
                self._flush(batcher.take(), give_up=self._stop)
        if len(batcher):
            self._flush(batcher.take(), give_up=None, attempts=3)

    def _classify(self, delivery: Delivery, policy: Policy, now: datetime) -> Item:
        """The delivery with its reading, diagnostics or reject; never raises.

        ``validate`` already refuses what it cannot understand; should anything else go
        wrong with one message, that message is dead-lettered (and acknowledged with its
        batch) rather than stopping the service, which the broker would answer by
        redelivering the same message after every restart.
        """
        try:
            return delivery, validate(delivery.topic, delivery.payload, policy, now)
        except Exception as exc:
            return delivery, unparseable(delivery.topic, delivery.payload, exc, policy.keep_bytes)

    def _flush(
        self, items: list[Item], give_up: threading.Event | None, attempts: int | None = None
    ) -> None:
        readings = [o for _, o in items if isinstance(o, Reading)]
        diagnostics = [o for _, o in items if isinstance(o, Diagnostics)]
        infos = [o for _, o in items if isinstance(o, MeterInfo)]
        rejects = [o for _, o in items if isinstance(o, Reject)]
        delay = 0.25
        tried = 0
        while True:
            tried += 1
            try:
                result = self._write(items, readings, rejects, diagnostics, infos)
                break
            except DatabaseError as exc:
                self.counters.retries += 1
                self._db_failed(exc)
                if (give_up is not None and give_up.is_set()) or (
                    attempts is not None and tried >= attempts
                ):
                    log.warning(
                        "leaving %d messages unacknowledged: the broker redelivers them",
                        len(items),
                        extra={"action": "abandon_batch", "messages": len(items)},
                    )
                    return
                if give_up is not None:
                    give_up.wait(delay)  # woken by stop: one last attempt, then give up
                else:
                    time.sleep(min(delay, 1.0))
                delay = min(delay * 2, self.config.retry_max_s)
        self._committed(items, readings, rejects, result)

    def _write(
        self,
        items: list[Item],
        readings: list[Reading],
        rejects: list[Reject],
        diagnostics: list[Diagnostics],
        infos: list[MeterInfo],
    ) -> WriteResult:
        messages = [
            Message(o, d.topic, d.payload)
            for d, o in items
            if isinstance(o, Reading | Diagnostics | MeterInfo)
        ]
        try:
            return self._writer.write(readings, rejects, diagnostics, infos=infos, sources=messages)
        except BatchError as exc:
            log.error(
                "database refused a batch, writing its messages one by one: %s",
                exc,
                extra={"action": "isolate_batch", "messages": len(items)},
            )
            try:
                return self._writer.write_isolated(messages, rejects, self.config.reject_keep_bytes)
            except BatchError as again:
                # Even dead letters are refused (schema missing, privileges): keep retrying.
                raise DatabaseUnavailable(str(again)) from again

    def _committed(
        self,
        items: list[Item],
        readings: list[Reading],
        rejects: list[Reject],
        result: WriteResult,
    ) -> None:
        done = time.time()
        if self._db_down_since is not None:
            log.info(
                "database back after %.1f s",
                time.monotonic() - self._db_down_since,
                extra={"action": "db_recovered"},
            )
            self._db_down_since = None
            self._db_error = ""
        c = self.counters
        c.batches += 1
        c.written += result.inserted
        c.rejected += result.rejected
        c.rejects_unstored += result.rejects_unstored
        c.diagnostics += result.diagnostics
        c.infos += result.infos
        # the rest was stored before: readings and diagnostics (whose redelivery is skipped)
        c.duplicates += (
            len(items) - result.inserted - result.rejected - result.diagnostics - result.infos
        )
        c.commit_ms = result.seconds * 1000
        self._last_commit = done
        if readings:
            c.lag_s = done - max(r.ts for r in readings).timestamp()
        for r in rejects:
            if c.rejected <= 100 or c.rejected % 1000 == 0:
                log.warning(
                    "rejected a message on %s: %s (%s)",
                    r.topic,
                    r.reason,
                    r.detail,
                    extra={"action": "reject", "topic": r.topic, "reason": r.reason},
                )
        acked = self._subscriber.ack([d for d, _ in items])
        c.acked += acked
        log.debug(
            "batch committed",
            extra={
                "action": "commit",
                "readings": len(readings),
                "inserted": result.inserted,
                "rejected": result.rejected,
                "acked": acked,
                "ms": round(c.commit_ms, 1),
            },
        )
        if self._on_committed is not None:
            self._on_committed(readings, done)

    def _db_failed(self, exc: DatabaseError) -> None:
        if self._db_down_since is None:
            self._db_down_since = time.monotonic()
            log.error(
                "database unavailable, retrying with backoff: %s",
                exc,
                extra={"action": "db_unavailable"},
            )
        else:
            log.debug("database still unavailable: %s", exc, extra={"action": "db_retry"})
        self._db_error = str(exc).splitlines()[0][:300]

    # --- status thread --------------------------------------------------------------------

    def _status_loop(self) -> None:
        while not self._stop.wait(self._status_interval):
            self._write_status()

    def status(self) -> Status:
        return Status(
            pid_started=self._started,
            heartbeat=time.time(),
            mqtt_connected=self._subscriber.connected.is_set(),
            subscribed=self._subscriber.subscribed.is_set(),
            db_ok=self._db_down_since is None,
            db_error=self._db_error,
            last_commit=self._last_commit,
            counters=self.counters.snapshot(),
        )

    def _write_status(self) -> None:
        try:
            write_status(self.config.status_file, self.status())
        except OSError as exc:
            log.warning(
                "cannot write the status file %s: %s",
                self.config.status_file,
                exc,
                extra={"action": "status_file"},
            )
