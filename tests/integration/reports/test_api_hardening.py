"""The HTTP API under bad input, a failing database and clients that go away, over real
HTTP (uvicorn) against a real TimescaleDB holding a month of 2-meter history."""

from __future__ import annotations

import http.client
import json
import socket
import struct
import threading
import time
from collections.abc import Iterator
from urllib.parse import quote, urlsplit

import psycopg
import pytest
from psycopg.conninfo import conninfo_to_dict

from analytics.api.app import APPLICATION_NAME
from analytics.delivery.config import ApiSettings, DeliveryConfig
from ingestor.localstack import free_port
from tests.conftest import PgServer
from tests.integration.reports.api_server import AUTH, get, serve_api

pytestmark = pytest.mark.integration
MONTH = "from=2026-10-16T03:00Z&to=2026-11-16T09:00Z"  # all of the history: ~30,000 rows


def _with(config: DeliveryConfig, **api: float) -> DeliveryConfig:
    return config.model_copy(update={"api": ApiSettings(**api)})  # type: ignore[arg-type]


def _sessions(pg: PgServer, dsn: str) -> list[tuple[str, str]]:
    """(application_name, state) of every client session on the API's database."""
    with psycopg.connect(pg.admin_dsn, autocommit=True) as conn:
        rows = conn.execute(
            "SELECT application_name, state FROM pg_stat_activity"
            " WHERE datname = %s AND backend_type = 'client backend' AND pid <> pg_backend_pid()",
            (conninfo_to_dict(dsn)["dbname"],),
        ).fetchall()
    return [(str(a), str(s)) for a, s in rows]


def _wait_no_session(pg: PgServer, dsn: str, within: float) -> list[tuple[str, str]]:
    """Poll until the API's database has no client session; the last list seen."""
    deadline = time.monotonic() + within
    while (seen := _sessions(pg, dsn)) and time.monotonic() < deadline:
        time.sleep(0.1)
    return seen


def _open_export(base: str, path: str, rcvbuf: int = 4096) -> http.client.HTTPConnection:
    """A GET whose client reads slowly: a small receive buffer, so the server blocks on send."""
    url = urlsplit(base)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    sock.settimeout(60)
    sock.connect((url.hostname, url.port))
    conn = http.client.HTTPConnection(str(url.hostname), url.port, timeout=60)
    conn.sock = sock
    conn.request("GET", path, headers={"Authorization": AUTH})
    return conn


@pytest.fixture
def api(plant_db: str, config: DeliveryConfig) -> Iterator[str]:
    with serve_api(plant_db, _with(config, export_max_days=40)) as base:
        yield base


@pytest.mark.parametrize(
    ("path", "parameter"),
    [
        ("/reports?limit=-1", "limit"),
        ("/reports?limit=0", "limit"),
        ("/reports?limit=99999999999999999999", "limit"),
        ("/reports?limit=1&limit=2", "limit"),
        ("/reports?site=%00", "site"),
        ("/reports?site=bad1%0A", "site"),
        ("/reports?site=%FF%FE", "site"),
        ("/reports?sort=id", "'sort'"),
        ("/reports/latest.pdf?kind=weekly", "kind"),
        ("/reports/1.pdf?download=1", "'download'"),
        ("/powerbi.pbids?site=%00", "site"),
        ("/health?x=1", "'x'"),
        (f"/export.csv?{MONTH}&site=%00", "site"),
        (f"/export.csv?{MONTH}&meter=m1&meter=%07", "meter"),
        ("/export.csv?from=2026-11-10&to=2026-11-11T00:00Z", "from"),
        ("/export.csv?from=2026-11-10T00:00Z&to=2026-11-10T25:00Z", "to"),
        ("/export.csv?from=0001-01-01T00:00%2B05:00&to=2026-11-10T00:00Z", "from"),
        ("/export.csv?from=2026-11-10T00:00Z", "to"),
        ("/export.csv?from=2026-11-10T00:00Z&to=2026-11-09T00:00Z", "to"),
        (f"/export.csv?{MONTH}&sep=%7C", "sep"),
        (f"/export.csv?{MONTH}&sep=%3B&decimal=%3B", "decimal"),
        (f"/export.csv?{MONTH}&limit=10", "'limit'"),
    ],
)
def test_bad_parameters_are_400_naming_the_parameter(api: str, path: str, parameter: str) -> None:
    status, headers, body = get(api + path)
    assert status == 400, body
    assert headers["content-type"] == "application/json"
    doc = json.loads(body)
    assert doc["parameter"] == parameter
    assert doc["error"].startswith(f"{parameter}: ") and doc["allowed"]


def test_unknown_site_or_meter_is_404(api: str) -> None:
    for path, parameter, name in (
        ("/reports?site=nowhere", "site", "nowhere"),
        ("/reports/latest.pdf?site=nowhere", "site", "nowhere"),
        (f"/export.csv?{MONTH}&site=nowhere&meter=m1", "site", "nowhere"),
        (f"/export.csv?{MONTH}&meter=m1&meter=m9", "meter", "m9"),
        (f"/export.csv?{MONTH}&site=plant&meter=m9", "meter", "m9"),
    ):
        status, _, body = get(api + path)
        doc = json.loads(body)
        assert (status, doc["parameter"]) == (404, parameter), path
        assert f"unknown {parameter} '{name}'" in doc["error"]
    assert get(api + "/reports/9223372036854775808.pdf")[0] == 404  # beyond bigint
    assert get(api + "/reports?site=plant")[0] == 200


def test_export_range_is_capped(plant_db: str, config: DeliveryConfig) -> None:
    with serve_api(plant_db, _with(config, export_max_days=2)) as base:
        ok = get(base + "/export.csv?from=2026-11-10T00:00Z&to=2026-11-12T00:00Z&meter=m1")
        assert ok[0] == 200 and len(ok[2].splitlines()) == 1 + 2 * 480  # a row every 3 min
        for to in ("2026-11-12T00:01Z", "9999-12-31T00:00Z"):
            status, _, body = get(base + f"/export.csv?from=2026-11-10T00:00Z&to={to}")
            doc = json.loads(body)
            assert (status, doc["parameter"]) == (400, "to")
            assert "at most 2 days" in doc["allowed"] and "api.export_max_days" in doc["allowed"]
        status, _, body = get(base + "/export.csv?from=0001-01-01T00:00Z&to=9999-12-31T00:00Z")
        assert status == 400 and "at most 2 days" in json.loads(body)["allowed"]


def test_unreachable_database_is_503_before_any_csv(config: DeliveryConfig) -> None:
    dead = f"host=127.0.0.1 port={free_port()} dbname=emusa user=emusa connect_timeout=3"
    with serve_api(dead, config) as base:
        for path in (f"/export.csv?{MONTH}", "/reports", "/reports/latest.pdf", "/reports/1.pdf"):
            status, headers, body = get(base + path)
            assert status == 503, (path, status, body[:80])
            assert headers["content-type"] == "application/json"
            assert json.loads(body)["error"] == "the database is unreachable; try again later"
        assert get(base + "/health")[0] == 503


def test_query_failure_is_503_before_the_200(
    plant_db: str, config: DeliveryConfig, pg_server: PgServer
) -> None:
    """The export's query waits for a lock held by another session: its lock timeout
    comes back as a 503 with a message, not as a 200 followed by a cut-off CSV."""
    with (
        serve_api(plant_db, _with(config, lock_timeout_s=0.2)) as base,
        psycopg.connect(plant_db) as holder,
    ):
        holder.execute("LOCK TABLE meters IN ACCESS EXCLUSIVE MODE")  # until rollback
        status, headers, body = get(base + f"/export.csv?{MONTH}")
        holder.rollback()
        assert status == 503 and headers["content-type"] == "application/json"
        assert "api.lock_timeout_s" in json.loads(body)["error"]
        assert get(base + f"/export.csv?{MONTH}&meter=m1")[0] == 200  # lock gone
    with serve_api(plant_db, _with(config, statement_timeout_s=0.001)) as base:
        status, _, body = get(base + f"/export.csv?{MONTH}")
        assert status == 503 and "api.statement_timeout_s" in json.loads(body)["error"]


def test_client_disconnect_mid_stream_releases_the_session(
    plant_db: str, config: DeliveryConfig, pg_server: PgServer
) -> None:
    """A client reads the start of a month's export and resets the connection: the
    API's session (cursor, transaction, connection) is gone well before its 60 s
    idle-in-transaction guard would end it."""
    with serve_api(plant_db, _with(config, export_batch_rows=100)) as base:
        conn = _open_export(base, f"/export.csv?{MONTH}")
        resp = conn.getresponse()
        assert resp.status == 200
        assert resp.read(2000).startswith(b"time_local,time_utc,site_id,meter")
        during = _sessions(pg_server, plant_db)
        assert len(during) == 1  # the export's session, blocked behind the slow client
        assert conn.sock is not None
        conn.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        conn.sock.close()  # RST: the client is gone mid-stream
        conn.close()
        left = _wait_no_session(pg_server, plant_db, within=20)
        assert left == [], f"sessions left after the client went away: {left}"
        assert during[0][0] == APPLICATION_NAME
        assert get(base + "/reports")[0] == 200  # the server goes on serving


def test_idle_export_is_ended_and_the_client_sees_an_incomplete_body(
    plant_db: str, config: DeliveryConfig, pg_server: PgServer
) -> None:
    """A client that stops reading leaves the export's transaction idle: the server-side
    guard (idle_in_transaction_session_timeout) ends it, the next fetch fails, and the API
    drops the connection before the chunked body's end, so the client knows the CSV is cut."""
    cfg = _with(config, export_batch_rows=100, idle_in_transaction_timeout_s=0.5)
    with serve_api(plant_db, cfg) as base:
        conn = _open_export(base, f"/export.csv?{MONTH}")
        resp = conn.getresponse()
        assert resp.status == 200 and resp.getheader("transfer-encoding") == "chunked"
        head = resp.read(2000)
        left = _wait_no_session(pg_server, plant_db, within=30)  # the guard ended it
        assert left == [], f"the idle export's session was not ended: {left}"
        with pytest.raises(http.client.IncompleteRead) as cut:
            resp.read()
        rows = (head + cut.value.partial).count(b"\r\n")
        assert 1 < rows < 29_000  # some rows came, not the month
        conn.close()


def test_concurrent_exports_each_close_their_session(
    plant_db: str, config: DeliveryConfig, pg_server: PgServer
) -> None:
    with serve_api(plant_db, _with(config, export_batch_rows=500)) as base:
        bodies: list[int] = []

        def fetch() -> None:
            status, _, body = get(base + f"/export.csv?{MONTH}&meter=m2")
            bodies.append(len(body.splitlines()) if status == 200 else -status)

        threads = [threading.Thread(target=fetch) for _ in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=120)
        assert len(set(bodies)) == 1 and bodies[0] > 14_000
        assert _wait_no_session(pg_server, plant_db, within=10) == []


def test_every_message_is_quoted_safely(api: str) -> None:
    """Names echoed in errors are repr-quoted and cut: no raw control characters."""
    status, _, body = get(api + "/reports?" + quote("\x1b[2J" * 30, safe="") + "=1")
    doc = json.loads(body)
    assert status == 400 and "\x1b" not in doc["error"] and len(doc["parameter"]) < 200
