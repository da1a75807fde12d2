"""A small HTTP API (Starlette, served by uvicorn): PDFs, CSV export, the Power BI file.

| path | returns |
|---|---|
| ``GET /health`` | ``{"status": "ok", "database": true}`` (no auth; 503 when the database is down) |
| ``GET /reports`` | JSON list of recorded reports (``?site=&kind=&limit=``) |
| ``GET /reports/latest.pdf`` | the newest report (``?site=&kind=daily|fortnightly|adhoc``) |
| ``GET /reports/{id}.pdf`` | one report |
| ``GET /export.csv`` | ``?from=&to=&meter=&site=&sep=;&decimal=,`` CSV of ``bi.readings_1m`` |
| ``GET /powerbi.pbids`` | Power BI data source file |

Auth: ``Authorization: Bearer <EMUSA_API_TOKEN>``, or HTTP Basic with the token as the
password (any user name; browsers opened from Grafana links prompt for it). Without a
token configured, every path but ``/health`` answers 503.

Query parameters are checked strictly (:mod:`analytics.api.params`): 400 with a JSON body naming the
parameter, 404 for a site or meter the database does not hold. The export runs its query
before the 200 (a database error is a 503/500 with a message); a failure while it streams
drops the connection before the chunked body's last chunk. Each request has its own
session (``application_name`` emusa-api) with statement, lock and idle-in-transaction
timeouts (``api:`` in the delivery configuration).
"""

from __future__ import annotations

import base64
import binascii
import hmac
import json
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any, LiteralString

import anyio
import psycopg
import uvicorn
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response, StreamingResponse
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from analytics.api import export
from analytics.api import params as api_params
from analytics.delivery.config import DeliveryConfig
from analytics.errors import AnalyticsError
from contract import sqlfiles

log = logging.getLogger(__name__)

APPLICATION_NAME = "emusa-api"
_MAX_BIGINT = 2**63 - 1
Handler = Callable[[Request], Awaitable[Response]]


def _q(name: str) -> LiteralString:
    """A query of ``api/queries.sql`` (our own file, never a value)."""
    return sqlfiles.beside(__file__)[name]


def _authorized(request: Request, token: str) -> bool:
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() == "bearer":
        return hmac.compare_digest(value.strip().encode(), token.encode())
    if scheme.lower() == "basic":
        try:
            decoded = base64.b64decode(value.strip(), validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            return False
        _, _, password = decoded.partition(":")
        return hmac.compare_digest(password.encode(), token.encode())
    return False


def _pdf(row: tuple[Any, ...] | None) -> Response:
    if row is None:
        return JSONResponse({"error": "no such report"}, status_code=404)
    path = Path(row[6])
    if not path.is_file():
        return JSONResponse({"error": "report file missing on disk"}, status_code=410)
    return FileResponse(path, media_type="application/pdf", filename=path.name)


class _ExportResponse(StreamingResponse):
    """The CSV of an opened :class:`export.CsvExport`; the export is closed when the
    response ends, fails or its client goes away (cancelled or not)."""

    def __init__(self, csv_export: export.CsvExport, filename: str) -> None:
        self._export = csv_export
        super().__init__(
            self._chunks(),
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": f'attachment; filename="{filename}"'},
        )

    async def _chunks(self) -> AsyncIterator[str]:
        yield self._export.first
        while (chunk := await anyio.to_thread.run_sync(self._export.next_chunk)) is not None:
            yield chunk

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await super().__call__(scope, receive, send)
        except AnalyticsError as exc:
            # After the 200: raising makes the server drop the connection before the
            # chunked body's last chunk, so the client sees an incomplete transfer.
            log.error("export aborted mid-stream: %s", exc, extra={"action": "api"})
            raise
        finally:
            # no fetch runs any more (thread calls are not abandoned on cancel)
            with anyio.CancelScope(shield=True):
                await anyio.to_thread.run_sync(self._export.close)


def _error(exc: Exception, path: str) -> Response:
    """The answer to a failed request: 400/404 for a refused parameter, 503 when the
    database is unreachable, busy or too slow, 500 for any other database error."""
    if isinstance(exc, api_params.ParameterError):
        return JSONResponse(exc.body(), status_code=400)
    if isinstance(exc, _NotFoundError):
        return JSONResponse(exc.error.body(), status_code=404)
    if isinstance(exc, export.ExportError):
        return JSONResponse({"error": str(exc)}, status_code=400)
    cause = exc.__cause__ if isinstance(exc, AnalyticsError) else exc
    log.error("API %s failed: %s", path, exc, extra={"action": "api"})
    if isinstance(cause, psycopg.errors.QueryCanceled):
        problem = "the query ran longer than api.statement_timeout_s"
    elif isinstance(cause, psycopg.errors.LockNotAvailable):
        problem = "the database is busy (a lock wait passed api.lock_timeout_s)"
    elif isinstance(cause, psycopg.OperationalError):
        problem = "the database is unreachable"
    else:
        problem = None
    if problem is not None:
        return JSONResponse({"error": f"{problem}; try again later"}, status_code=503)
    return JSONResponse({"error": "database error; see the analytics service log"}, status_code=500)


class _NotFoundError(AnalyticsError):
    def __init__(self, error: api_params.ParameterError) -> None:
        super().__init__(str(error))
        self.error = error


class _Api:
    """The endpoints; each runs in Starlette's thread pool (psycopg is synchronous)."""

    def __init__(self, dsn: str, config: DeliveryConfig) -> None:
        self.dsn = dsn
        self.config = config

    def connect(self) -> psycopg.Connection[Any]:
        """A session of the API (``application_name`` emusa-api unless the URL names one)
        with its statement, lock and idle-in-transaction timeouts set (autocommit)."""
        s = self.config.api
        conn = psycopg.connect(
            self.dsn,
            autocommit=True,
            connect_timeout=s.connect_timeout_s,
            fallback_application_name=APPLICATION_NAME,
        )
        try:
            conn.execute(
                _q("session"),
                {
                    "statement_timeout_ms": str(round(s.statement_timeout_s * 1000)),
                    "lock_timeout_ms": str(round(s.lock_timeout_s * 1000)),
                    "idle_in_transaction_ms": str(round(s.idle_in_transaction_timeout_s * 1000)),
                },
            )
        except BaseException:
            conn.close()
            raise
        return conn

    def _query(self, name: str, params: dict[str, Any]) -> list[tuple[Any, ...]]:
        with self.connect() as conn:
            self._check_names(conn, params.get("site"), params.get("meters", ()))
            return conn.execute(_q(name), params).fetchall()

    @staticmethod
    def _check_names(conn: psycopg.Connection[Any], site: str | None, meters: Any) -> None:
        if site is None and not meters:
            return
        missing = conn.execute(
            _q("missing_names"), {"site": site, "meters": list(meters)}
        ).fetchone()
        if missing is not None:
            raise _NotFoundError(api_params.not_found(missing[0], missing[1], site))

    def guard(self, fn: Callable[[Request], Response]) -> Handler:
        token = self.config.api_token

        def checked(request: Request) -> Response:
            if not token:
                return JSONResponse({"error": "EMUSA_API_TOKEN is not set"}, status_code=503)
            if not _authorized(request, token):
                return Response(
                    "authentication required\n",
                    status_code=401,
                    headers={"WWW-Authenticate": 'Basic realm="emusa", charset="UTF-8"'},
                )
            try:
                return fn(request)
            except (AnalyticsError, psycopg.Error) as exc:
                return _error(exc, request.url.path)

        return _threaded(checked)

    def health(self, request: Request) -> Response:
        try:
            api_params.no_parameters(request.query_params.multi_items())
        except api_params.ParameterError as exc:
            return _error(exc, request.url.path)
        try:
            with self.connect() as conn:
                conn.execute(_q("health"))
        except psycopg.Error:
            return JSONResponse({"status": "degraded", "database": False}, status_code=503)
        return JSONResponse({"status": "ok", "database": True})

    def reports(self, request: Request) -> Response:
        f = api_params.report_filter(request.query_params.multi_items(), with_limit=True)
        rows = self._query("reports", {"site": f.site, "kind": f.kind, "limit": f.limit})
        return JSONResponse(
            [
                {
                    "id": r[0],
                    "site": r[1],
                    "kind": r[2],
                    "lang": r[3],
                    "period_start": r[4].isoformat(),
                    "period_end": r[5].isoformat(),
                    "bytes": r[7],
                    "created_at": r[8].isoformat(),
                    "emailed_at": r[9].isoformat() if r[9] else None,
                    "url": f"/reports/{r[0]}.pdf",
                }
                for r in rows
            ]
        )

    def latest(self, request: Request) -> Response:
        f = api_params.report_filter(request.query_params.multi_items(), with_limit=False)
        rows = self._query("latest_report", {"site": f.site, "kind": f.kind})
        return _pdf(rows[0] if rows else None)

    def one(self, request: Request) -> Response:
        api_params.no_parameters(request.query_params.multi_items())
        report_id = request.path_params["report_id"]
        if report_id > _MAX_BIGINT:  # no such report; the driver would refuse the number
            return _pdf(None)
        return _pdf(next(iter(self._query("report", {"id": report_id})), None))

    def export_csv(self, request: Request) -> Response:
        s = self.config.api
        req = api_params.export_request(request.query_params.multi_items(), s.export_max_days)

        def connect() -> psycopg.Connection[Any]:
            conn = self.connect()
            try:
                self._check_names(conn, req.site, req.meters)
            except BaseException:
                conn.close()
                raise
            return conn

        opened = export.CsvExport.open(
            connect,
            req.start,
            req.end,
            meters=req.meters,
            site=req.site,
            sep=req.sep,
            decimal=req.decimal,
            batch=s.export_batch_rows,
        )
        name = f"emusa_{req.start:%Y%m%d%H%M}_{req.end:%Y%m%d%H%M}.csv"
        return _ExportResponse(opened, name)

    def powerbi(self, request: Request) -> Response:
        api_params.site_only(request.query_params.multi_items())  # the same file for every site
        pb = self.config.powerbi
        return Response(
            json.dumps(export.pbids(pb.server, pb.database, pb.mode), indent=2),
            media_type="application/json",
            headers={"Content-Disposition": 'attachment; filename="emusa.pbids"'},
        )


def _threaded(fn: Callable[[Request], Response]) -> Handler:
    async def endpoint(request: Request) -> Response:
        return await run_in_threadpool(fn, request)

    return endpoint


def create_app(dsn: str, config: DeliveryConfig) -> Starlette:
    """The API over ``dsn`` (the ``emusa_analytics`` role can read ``reports``)."""
    api = _Api(dsn, config)
    return Starlette(
        routes=[
            Route("/health", _threaded(api.health)),
            Route("/reports", api.guard(api.reports)),
            Route("/reports/latest.pdf", api.guard(api.latest)),
            Route("/reports/{report_id:int}.pdf", api.guard(api.one)),
            Route("/export.csv", api.guard(api.export_csv)),
            Route("/powerbi.pbids", api.guard(api.powerbi)),
        ]
    )


def serve(dsn: str, config: DeliveryConfig, host: str = "0.0.0.0", port: int = 8080) -> None:  # noqa: S104 - a container service
    uvicorn.run(create_app(dsn, config), host=host, port=port, log_level="info")
