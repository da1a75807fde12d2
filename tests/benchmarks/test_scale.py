"""Scale run: 200 simulated meters at 1 Hz through two ingestors sharing one subscription.

    .venv/bin/pytest -m benchmark tests/benchmarks/test_scale.py -s

Every service is a real process started from its console script, as in production:

* 8 ``emusa-gateway simulate`` Modbus TCP servers with 25 unit ids each (KRON Konect map):
  eight RS-485 lines of 25 meters (a real line carries at most 32) behind eight Modbus
  TCP gateways;
* 2 ``emusa-gateway run`` processes (gw1, gw2), 4 TCP buses of 25 meters each, polling
  every second with the default settings (retained per-quantity state topics on; off
  with ``EMUSA_BENCH_SCALE_STATE_TOPICS=0``; at most every N s with
  ``EMUSA_BENCH_SCALE_STATE_INTERVAL=N``);
* the session's Mosquitto;
* 2 ``emusa-ingestor run`` processes in the MQTT v5 shared group ``$share/bench/...``;
* 1 ``emusa-analytics run`` worker on the same database (for its CPU and memory).

After ``WARMUP_S`` the run is measured for ``MEASURE_S``; then the gateways stop (a clean
stop flushes their queues), the ingestors drain, and everything is counted:

* published: each gateway's persistent sequence numbers (its SQLite queue; ``seq`` starts
  at 1 and every reading takes the next one), and its queue must be empty;
* stored: per meter ``count(*)``, ``count(DISTINCT seq)``, ``min(seq)``, ``max(seq)``:
  loss = 0 and duplicates = 0 are hard assertions;
* lag: the schema has no insert-time column, so this throwaway database gets one
  (``bench_stored_at DEFAULT clock_timestamp()``, filled by the server as the ingestor's
  COPY inserts each row; the commit follows within the batch's ``commit_ms``);
  lag = stored_at - reading ts, where ts is the instant the gateway started polling that
  meter (so it includes the Modbus read, the gateway queue, MQTT, batching and the COPY);
* poll rate and overruns: readings per meter per second in the measured window, gaps
  over 1.5 s between a meter's stored readings, and from the gateway status files the
  failed reads and per bus the cycles, overruns (the first cycle, which connects, is
  not one) and the last cycle time;
* each ingestor's share of the rows (status file counters);
* CPU seconds and peak RSS (VmHWM) per process (``/proc``).

Writes ``bench-results/scale.json``. Asserts no loss and no duplicates; never a speed.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg
import pytest
import yaml

from ingestor.localstack import free_port, wait_for_port
from tests.benchmarks import procstats, results
from tests.harness.services import Broker

pytestmark = pytest.mark.benchmark

BIN = Path(sys.executable).parent
SIMULATORS = 8
METERS_PER_SIM = 25
GATEWAYS = 2
INGESTORS = 2
METERS = SIMULATORS * METERS_PER_SIM
MODEL = "kron_konect"
WARMUP_S = float(os.environ.get("EMUSA_BENCH_SCALE_WARMUP", "20"))
MEASURE_S = float(os.environ.get("EMUSA_BENCH_SCALE_SECONDS", "120"))
STATE_TOPICS = os.environ.get("EMUSA_BENCH_SCALE_STATE_TOPICS", "1") == "1"
# mqtt.state_interval in seconds (unset: state topics on every reading, the default)
STATE_INTERVAL = float(os.environ.get("EMUSA_BENCH_SCALE_STATE_INTERVAL") or 0) or None
DRAIN_S = 60.0
STOP_S = 20.0
GROUP = "bench"


@dataclass
class Proc:
    name: str
    kind: str
    popen: subprocess.Popen[bytes]
    log: Path
    cpu_at_start: float = 0.0
    stopping: bool = False

    @property
    def pid(self) -> int:
        return self.popen.pid


class Stack:
    def __init__(self, tmp: Path) -> None:
        self.tmp = tmp
        self.procs: list[Proc] = []

    def spawn(self, name: str, kind: str, argv: list[str], env: dict[str, str]) -> Proc:
        log = self.tmp / f"{name}.log"
        with log.open("ab") as out:
            popen = subprocess.Popen(
                argv,
                env={**os.environ, **env},
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                cwd=self.tmp,
            )
        proc = Proc(name, kind, popen, log)
        self.procs.append(proc)
        return proc

    def alive(self) -> None:
        for p in self.procs:
            code = p.popen.poll()
            if code is not None and not p.stopping:
                tail = p.log.read_text(errors="replace")[-1500:]
                raise AssertionError(f"{p.name} exited with {code}:\n{tail}")

    def stop(self, procs: list[Proc]) -> None:
        for p in procs:
            p.stopping = True
            if p.popen.poll() is None:
                p.popen.send_signal(signal.SIGTERM)
        for p in procs:
            try:
                p.popen.wait(STOP_S)
            except subprocess.TimeoutExpired:
                p.popen.kill()
                p.popen.wait(STOP_S)

    def close(self) -> None:
        self.stop(list(reversed(self.procs)))


@contextlib.contextmanager
def _stack(tmp: Path) -> Iterator[Stack]:
    stack = Stack(tmp)
    try:
        yield stack
    finally:
        stack.close()


def _script(name: str) -> str:
    return str(BIN / name)


def _meter(n: int) -> str:
    return f"m{n:03d}"


def _gateway_config(
    tmp: Path, gw: int, broker: Broker, root: str, sim_ports: list[int]
) -> tuple[Path, Path]:
    """Gateway ``gw`` (1-based) polls simulators ``sim_ports``, one TCP bus each."""
    buses = []
    for port in sim_ports:
        sim = (port, sim_ports.index(port))
        first = ((gw - 1) * len(sim_ports) + sim[1]) * METERS_PER_SIM
        buses.append(
            {
                "name": f"bus{first // METERS_PER_SIM + 1}",
                "type": "tcp",
                "host": "127.0.0.1",
                "port": port,
                "timeout": 1.0,
                "meters": [
                    {"name": _meter(first + u), "model": MODEL, "unit": u}
                    for u in range(1, METERS_PER_SIM + 1)
                ],
            }
        )
    queue = tmp / f"gw{gw}-queue.sqlite"
    doc = {
        "site": "plant",
        "gateway_id": f"gw{gw}",
        "poll_interval": 1.0,
        "mqtt": {
            "url": broker.url,
            "topic_root": root,
            "state_topics": STATE_TOPICS,
            **({"state_interval": STATE_INTERVAL} if STATE_INTERVAL and STATE_TOPICS else {}),
        },
        "queue": {"path": str(queue)},
        "buses": buses,
    }
    path = tmp / f"gw{gw}.yaml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return path, queue


def _read_json(path: Path) -> dict[str, Any]:
    for _ in range(20):  # written atomically, but may not exist yet
        with contextlib.suppress(OSError, ValueError):
            doc = json.loads(path.read_text())
            if isinstance(doc, dict):
                return doc
        time.sleep(0.25)
    raise AssertionError(f"no readable status file {path}")


def _wait(what: str, timeout: float, check: Any, stack: Stack) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        stack.alive()
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.25)


def _stored(db: str) -> int:
    with psycopg.connect(db) as conn:
        row = conn.execute("SELECT count(*) FROM readings").fetchone()
    return int(row[0]) if row else 0


def _published(queue: Path) -> tuple[dict[str, int], int]:
    """Per meter the last sequence number taken, and the messages left in the queue."""
    with contextlib.closing(sqlite3.connect(queue)) as conn:
        seqs = {str(m): int(s) for m, s in conn.execute("SELECT meter, seq FROM sequences")}
        left = int(conn.execute("SELECT count(*) FROM messages").fetchone()[0])
    return seqs, left


def _stats(proc: Proc, seconds: float) -> dict[str, Any]:
    s = procstats.read(proc.pid)
    return {
        "kind": proc.kind,
        "cpu_s": s.cpu_s,
        "cpu_s_measured": round(s.cpu_s - proc.cpu_at_start, 2),
        "cpu_share_of_one_core": round((s.cpu_s - proc.cpu_at_start) / seconds, 3),
        "peak_rss_mib": s.peak_rss_mib,
    }


LAG_SQL = """
SELECT count(*),
       percentile_cont(ARRAY[0.5, 0.95, 0.99])
           WITHIN GROUP (ORDER BY extract(epoch FROM bench_stored_at - time)),
       max(extract(epoch FROM bench_stored_at - time))
FROM readings WHERE time >= %s AND time < %s
"""

# Late polls: a meter's readings more than 1.5 poll intervals apart (the status files count
# overruns per bus; the stored timestamps tell which meters were late, and by how much).
GAPS_SQL = """
SELECT count(*) FILTER (WHERE gap > 1.5), max(gap)
FROM (SELECT extract(epoch FROM time - lag(time) OVER (PARTITION BY meter_id ORDER BY time)) gap
      FROM readings WHERE time >= %s AND time < %s) g
"""

PER_METER_SQL = """
SELECT m.name, count(*), count(DISTINCT r.seq), min(r.seq), max(r.seq),
       count(*) FILTER (WHERE r.time >= %s AND r.time < %s)
FROM readings r JOIN meters m USING (meter_id) GROUP BY m.name
"""


@pytest.mark.timeout(900)
def test_scale_200_meters_two_ingestors(
    db: str, mqtt_broker: Broker, topic_root: str, tmp_path: Path
) -> None:
    with psycopg.connect(db, autocommit=True) as conn:
        conn.execute(
            "ALTER TABLE readings ADD COLUMN bench_stored_at timestamptz DEFAULT clock_timestamp()"
        )
    broker_proc = mqtt_broker.local.proc if mqtt_broker.local else None
    broker_cpu0 = procstats.read(broker_proc.pid).cpu_s if broker_proc else 0.0
    with _stack(tmp_path) as stack:
        # --- simulators
        ports = [free_port() for _ in range(SIMULATORS)]
        units = [a for u in range(1, METERS_PER_SIM + 1) for a in ("--unit", str(u))]
        for i, port in enumerate(ports):
            stack.spawn(
                f"sim{i + 1}",
                "simulator",
                [_script("emusa-gateway"), "simulate", "--model", MODEL,
                 "--tcp", f"127.0.0.1:{port}", "--seed", str(100 * i), *units],
                {},
            )  # fmt: skip
        for port in ports:
            wait_for_port("127.0.0.1", port, 60, "simulator")

        # --- ingestors in one shared group
        common = {"EMUSA_MQTT_URL": mqtt_broker.url, "EMUSA_TOPIC_ROOT": topic_root}
        ingestors = []
        for i in range(1, INGESTORS + 1):
            status = tmp_path / f"ingestor{i}.status.json"
            env = {
                **common,
                "EMUSA_DATABASE_URL": db,
                "EMUSA_INGESTOR_SHARED_GROUP": GROUP,
                "EMUSA_INGESTOR_CLIENT_ID": f"bench-ingestor-{topic_root}-{i}",
                "EMUSA_INGESTOR_STATUS_FILE": str(status),
            }
            p = stack.spawn(f"ingestor{i}", "ingestor", [_script("emusa-ingestor"), "run"], env)
            ingestors.append((p, status))
        for _, status in ingestors:
            _wait(
                "the ingestors to subscribe",
                60,
                lambda s=status: s.exists() and _read_json(s).get("subscribed"),
                stack,
            )
        stack.spawn(
            "analytics",
            "analytics",
            [_script("emusa-analytics"), "run"],
            {**common, "EMUSA_DATABASE_URL": db},
        )

        # --- gateways
        gateways = []
        per_gw = SIMULATORS // GATEWAYS
        for gw in range(1, GATEWAYS + 1):
            config, queue = _gateway_config(
                tmp_path, gw, mqtt_broker, topic_root, ports[(gw - 1) * per_gw : gw * per_gw]
            )
            status = tmp_path / f"gw{gw}.status.json"
            p = stack.spawn(
                f"gw{gw}",
                "gateway",
                [_script("emusa-gateway"), "run", "--config", str(config),
                 "--status-file", str(status)],
                common,
            )  # fmt: skip
            gateways.append((p, queue, status))
        started = datetime.now(UTC)

        # --- warm-up, then the measured window
        time.sleep(WARMUP_S)
        stack.alive()
        window_start = datetime.now(UTC)
        for p in stack.procs:
            p.cpu_at_start = procstats.read(p.pid).cpu_s
        broker_cpu_w0 = procstats.read(broker_proc.pid).cpu_s if broker_proc else 0.0
        load0 = os.getloadavg()
        deadline = time.monotonic() + MEASURE_S
        while time.monotonic() < deadline:
            stack.alive()
            time.sleep(min(2.0, max(0.0, deadline - time.monotonic())))
        window_end = datetime.now(UTC)
        measured = (window_end - window_start).total_seconds()
        load1 = os.getloadavg()

        # --- figures of the running processes, then a clean stop of the gateways
        procs = {p.name: _stats(p, measured) for p in stack.procs}
        gw_status = {p.name: _read_json(status) for p, _, status in gateways}
        stack.stop([p for p, _, _ in gateways])
        codes = {p.name: p.popen.returncode for p, _, _ in gateways}
        published: dict[str, int] = {}
        left = 0
        for _, queue, _ in gateways:
            seqs, n = _published(queue)
            published.update(seqs)
            left += n
        total = sum(published.values())
        drain0 = time.monotonic()
        _wait("the ingestors to store every reading", DRAIN_S, lambda: _stored(db) >= total, stack)
        drain_s = time.monotonic() - drain0
        time.sleep(2.5)  # one more status-file write of each ingestor after the last commit
        ing_status = {p.name: _read_json(s)["counters"] for p, s in ingestors}
        for p, _ in ingestors:
            procs[p.name]["final_cpu_s"] = procstats.read(p.pid).cpu_s
    broker_stats = None
    if broker_proc is not None:
        b = procstats.read(broker_proc.pid)
        broker_stats = {
            "kind": "broker",
            "cpu_s_measured": round(b.cpu_s - broker_cpu_w0, 2),
            "cpu_s_whole_run": round(b.cpu_s - broker_cpu0, 2),
            "cpu_share_of_one_core": round((b.cpu_s - broker_cpu_w0) / measured, 3),
            "peak_rss_mib": b.peak_rss_mib,
            "note": "the session's Mosquitto: its peak includes the benchmarks run before",
        }

    # --- what the database holds
    with psycopg.connect(db) as conn:
        rows = conn.execute(PER_METER_SQL, (window_start, window_end)).fetchall()
        lag_row = conn.execute(LAG_SQL, (window_start, window_end)).fetchone()
        rejects = conn.execute("SELECT count(*) FROM ingest_rejects").fetchone()
        gaps_row = conn.execute(GAPS_SQL, (window_start, window_end)).fetchone()
    assert lag_row is not None and rejects is not None and gaps_row is not None
    per_meter = {
        str(name): {"stored": int(n), "distinct_seq": int(d), "min_seq": int(lo),
                    "max_seq": int(hi), "in_window": int(w)}
        for name, n, d, lo, hi, w in rows
    }  # fmt: skip
    missing_meters = sorted(set(published) - set(per_meter))
    lost = {
        m: published[m] - per_meter.get(m, {"stored": 0})["stored"]
        for m in published
        if published[m] != per_meter.get(m, {"stored": 0})["stored"]
    }
    duplicated = {
        m: r["stored"] - r["distinct_seq"]
        for m, r in per_meter.items()
        if r["stored"] != r["distinct_seq"]
    }
    gaps = {
        m: (r["min_seq"], r["max_seq"], r["stored"])
        for m, r in per_meter.items()
        if r["min_seq"] != 1 or r["max_seq"] != r["stored"]
    }
    stored_total = sum(r["stored"] for r in per_meter.values())
    in_window = sum(r["in_window"] for r in per_meter.values())
    rates = sorted(r["in_window"] / measured for r in per_meter.values())
    count, quantiles, lag_max = lag_row
    p50, p95, p99 = (float(x) for x in quantiles)
    written = {name: int(c["written"]) for name, c in ing_status.items()}
    failed_reads = {
        name: sum(int(m["failed_reads"]) for m in doc["meters"].values())
        for name, doc in gw_status.items()
    }
    expected_window = METERS * measured
    buses = {
        f"{gw}/{bus}": {k: b.get(k) for k in ("cycles", "overruns", "cycle_last_ms", "timeouts")}
        for gw, doc in gw_status.items()
        for bus, b in doc.get("buses", {}).items()
    }
    overruns = sum(int(b["overruns"] or 0) for b in buses.values())
    figures: dict[str, Any] = {
        "topology": {
            "meters": METERS,
            "model": MODEL,
            "simulators": SIMULATORS,
            "meters_per_bus": METERS_PER_SIM,
            "gateways": GATEWAYS,
            "buses_per_gateway": SIMULATORS // GATEWAYS,
            "ingestors": INGESTORS,
            "shared_group": GROUP,
            "poll_interval_s": 1.0,
            "state_topics": STATE_TOPICS,
            "state_interval_s": STATE_INTERVAL if STATE_TOPICS else None,
        },
        "started": started.isoformat(timespec="seconds"),
        "warmup_s": WARMUP_S,
        "measured_s": round(measured, 1),
        "load_avg_1m": {"window_start": round(load0[0], 2), "window_end": round(load1[0], 2)},
        "published": total,
        "stored": stored_total,
        "lost": sum(lost.values()),
        "duplicates": sum(duplicated.values()),
        "left_in_gateway_queues": left,
        "gateway_exit_codes": codes,
        "rejected": int(rejects[0]),
        "drain_after_gateway_stop_s": round(drain_s, 1),
        "readings_in_window": in_window,
        "readings_per_s_in_window": round(in_window / measured, 1),
        "expected_readings_per_s": METERS,
        "per_meter_rate_hz": {
            "min": round(rates[0], 3),
            "median": round(rates[len(rates) // 2], 3),
            "max": round(rates[-1], 3),
        },
        "failed_reads": failed_reads,
        "buses": buses,
        "late_polls": {
            "gaps_over_1_5_s": int(gaps_row[0]),
            "max_gap_s": round(float(gaps_row[1] or 0), 3),
        },
        "lag_s": {
            "readings": int(count),
            "p50": round(p50, 3),
            "p95": round(p95, 3),
            "p99": round(p99, 3),
            "max": round(float(lag_max), 3),
        },
        "ingestors": {
            name: {
                "written": written[name],
                "share": round(written[name] / max(1, sum(written.values())), 3),
                **{
                    k: c[k]
                    for k in (
                        "received",
                        "duplicates",
                        "rejected",
                        "diagnostics",
                        "batches",
                        "retries",
                        "commit_ms",
                    )
                },
            }
            for name, c in ing_status.items()
        },
        "processes": procs | ({"mosquitto": broker_stats} if broker_stats else {}),
        "problems": {
            "meters_without_rows": missing_meters,
            "lost": lost,
            "duplicated": duplicated,
            "seq_gaps": gaps,
        },
    }
    peak = _peak_by_kind(figures["processes"])
    services = {n: v for n, v in figures["processes"].items() if v["kind"] != "simulator"}
    shares = [v["share"] for v in figures["ingestors"].values()]
    headline = [
        results.Row(
            "readings stored / published",
            stored_total,
            "readings",
            "published (gateway sequence numbers)",
            total,
            goal="no loss, no duplicates",
            met=not lost and not duplicated,
        ),
        results.Row(
            "readings/s stored in the window",
            round(in_window / measured, 1),
            "readings/s",
            "200 meters x 1 Hz",
            METERS,
            goal=">= 0.99 of 200/s",
            met=in_window >= 0.99 * expected_window,
        ),
        results.Row(
            "late polls (gaps > 1.5 s between a meter's readings)", int(gaps_row[0]), "gaps"
        ),
        results.Row("poll-cycle overruns, all buses (gateway status files)", overruns, "cycles"),
        results.Row(
            "slowest bus's last poll cycle (25 meters, 50 requests)",
            max(float(b["cycle_last_ms"] or 0) for b in buses.values()),
            "ms",
            "poll interval",
            1000,
        ),
        results.Row("lag p50 (stored - reading ts)", round(p50 * 1000), "ms"),
        results.Row("lag p95", round(p95 * 1000), "ms"),
        results.Row("lag p99", round(p99 * 1000), "ms"),
        results.Row("lag max", round(float(lag_max) * 1000), "ms"),
        results.Row(
            "smaller ingestor's share of the rows",
            min(shares),
            "fraction",
            goal="roughly half each (>= 0.4)",
            met=min(shares) >= 0.4,
        ),
        *(
            results.Row(f"peak RSS (VmHWM), {name}", v["peak_rss_mib"], "MiB")
            for name, v in services.items()
        ),
        results.Row("peak RSS, simulator (test harness, largest)", peak["simulator"], "MiB"),
        *(
            results.Row(f"CPU in the window, {name}", v["cpu_share_of_one_core"], "cores")
            for name, v in services.items()
        ),
    ]
    path = results.write("scale", "Scale run: 200 meters at 1 Hz, two ingestors", headline, figures)
    print(json.dumps(figures, indent=1, default=str))
    print(f"written to {path}")
    assert left == 0, f"{left} readings left in the gateway queues"
    assert not missing_meters, f"meters without any stored reading: {missing_meters[:10]}"
    assert not lost, f"readings lost per meter: {dict(list(lost.items())[:10])}"
    assert not duplicated, f"readings stored twice per meter: {duplicated}"
    assert not gaps, f"stored sequence numbers not 1..n: {dict(list(gaps.items())[:10])}"


def _peak_by_kind(procs: dict[str, dict[str, Any]]) -> dict[str, float]:
    out: dict[str, float] = {}
    for p in procs.values():
        out[p["kind"]] = max(out.get(p["kind"], 0.0), float(p["peak_rss_mib"]))
    return out
