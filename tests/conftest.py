"""Session fixtures reaching real services; see tests/harness/services.py.

With ``CI=true`` or ``EMUSA_REQUIRE_SERVICES=1`` a service that cannot be started fails
the run (and so does an integration test that skipped); otherwise integration tests
skip with the reason.
"""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import psycopg
import pytest
from hypothesis import settings
from psycopg import sql
from psycopg.conninfo import make_conninfo

from ingestor.localstack import LocalPostgres, ServiceUnavailable
from ingestor.migrate import migrate
from tests.harness.clock import TEST_NOW, session_now
from tests.harness.services import Broker, mosquitto, require_services, timescaledb
from tests.harness.worker import close_worker_contexts

# Property tests: the same examples on every run (no example database, no deadline, so no
# timing flakiness); HYPOTHESIS_PROFILE=explore searches further with random examples.
settings.register_profile("ci", derandomize=True, database=None, deadline=None, max_examples=150)
settings.register_profile("explore", database=None, deadline=None, max_examples=5000)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))

_SERVICE_MARKERS = ("integration", "e2e", "benchmark")
_skipped_service_tests: list[str] = []


def _unavailable(exc: Exception) -> None:
    message = f"required service unavailable: {exc}"
    if require_services():
        pytest.fail(message, pytrace=False)
    pytest.skip(message)


@dataclass(frozen=True)
class PgServer:
    admin_dsn: str
    local: LocalPostgres | None

    def dsn(self, dbname: str, **kwargs: str) -> str:
        return make_conninfo(self.admin_dsn, dbname=dbname, **kwargs)

    def create_database(self, template: str | None = None) -> str:
        name = f"emusa_test_{uuid.uuid4().hex[:12]}"
        query = sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name))
        if template:
            query = sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(
                sql.Identifier(name), sql.Identifier(template)
            )
        with psycopg.connect(self.admin_dsn, autocommit=True) as conn:
            conn.execute(query)
        return name

    def drop_database(self, name: str) -> None:
        with psycopg.connect(self.admin_dsn, autocommit=True) as conn:
            conn.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )


@pytest.fixture(scope="session")
def pg_server() -> Iterator[PgServer]:
    with contextlib.ExitStack() as stack:
        try:
            dsn, local = stack.enter_context(timescaledb())
            with psycopg.connect(dsn, connect_timeout=10) as conn:
                conn.execute("SELECT 1")
        except (ServiceUnavailable, psycopg.OperationalError) as exc:
            _unavailable(exc)
        yield PgServer(dsn, local)


@pytest.fixture(scope="session")
def template_db(pg_server: PgServer) -> Iterator[str]:
    """A database migrated to head, copied for each test that needs one."""
    name = pg_server.create_database()
    migrate(pg_server.dsn(name))
    yield name
    pg_server.drop_database(name)


@pytest.fixture
def db(pg_server: PgServer, template_db: str) -> Iterator[str]:
    """DSN of an isolated, migrated database, dropped after the test."""
    name = pg_server.create_database(template=template_db)
    yield pg_server.dsn(name)
    pg_server.drop_database(name)


@pytest.fixture
def empty_db(pg_server: PgServer) -> Iterator[str]:
    """DSN of an isolated empty database (for migration tests)."""
    name = pg_server.create_database()
    yield pg_server.dsn(name)
    pg_server.drop_database(name)


@pytest.fixture(scope="session")
def mqtt_broker() -> Iterator[Broker]:
    with contextlib.ExitStack() as stack:
        try:
            broker = stack.enter_context(mosquitto())
        except ServiceUnavailable as exc:
            _unavailable(exc)
        yield broker


@pytest.fixture
def topic_root() -> str:
    """A topic prefix of this test alone, so tests never see each other's messages."""
    return f"emusa-test-{uuid.uuid4().hex[:10]}"


def pytest_report_header() -> str:
    return (
        f"test clock: {session_now().isoformat()}"
        f" (replay with {TEST_NOW}=<ISO 8601 instant with offset>)"
    )


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    if report.skipped and any(m in report.keywords for m in _SERVICE_MARKERS):
        _skipped_service_tests.append(report.nodeid)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    if require_services() and _skipped_service_tests:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if require_services() and _skipped_service_tests:
        terminalreporter.write_line(
            f"FAILED: {len(_skipped_service_tests)} service-backed tests skipped while services"
            " are required (CI=true or EMUSA_REQUIRE_SERVICES=1):",
            red=True,
        )
        for nodeid in _skipped_service_tests[:20]:
            terminalreporter.write_line(f"  {nodeid}")


@pytest.fixture(autouse=True)
def _close_worker_contexts() -> Iterator[None]:
    yield
    close_worker_contexts()


@pytest.fixture(autouse=True)
def _gateway_data_dir(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each test's gateway files (queue, status) in a folder of its own, never the user's."""
    monkeypatch.setenv("EMUSA_GATEWAY_DATA_DIR", str(tmp_path_factory.mktemp("gateway-data")))
