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
"""

from __future__ import annotations

import base64
import binascii
import hmac
import json
import logging
from collections.abc import Awaitable, Callable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any, LiteralString

import psycopg
import uvicorn
from starlette.applications import Starlette
from starlette.concurrency import iterate_in_threadpool, run_in_threadpool
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from analytics import export
from analytics.delivery_config import DeliveryConfig
from analytics.errors import AnalyticsError

log = logging.getLogger(__name__)

_REPORT_COLUMNS = (
    "report_id, site_id, kind, lang, period_start, period_end, path, bytes, created_at, emailed_at"
)
Handler = Callable[[Request], Awaitable[Response]]


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


def _instant(request: Request, name: str) -> datetime:
    text = request.query_params.get(name)
    if not text:
        raise ValueError(f"missing query parameter {name!r} (ISO 8601 with offset)")
    value = datetime.fromisoformat(text.replace(" ", "+") if "T" in text else text)
    if value.tzinfo is None:
        raise ValueError(f"{name}: an ISO 8601 instant with a UTC offset is needed")
    return value


_WHERE = (
    " WHERE (%(site)s::text IS NULL OR site_id = %(site)s)"
    " AND (%(kind)s::text IS NULL OR kind = %(kind)s)"
)


def _filters(request: Request) -> dict[str, Any]:
    kind = request.query_params.get("kind")
    if kind is not None and kind not in ("daily", "fortnightly", "adhoc"):
        raise ValueError("kind must be daily, fortnightly or adhoc")
    return {"site": request.query_params.get("site"), "kind": kind}


def _pdf(row: tuple[Any, ...] | None) -> Response:
    if row is None:
        return JSONResponse({"error": "no such report"}, status_code=404)
    path = Path(row[6])
    if not path.is_file():
        return JSONResponse({"error": "report file missing on disk"}, status_code=410)
    return FileResponse(path, media_type="application/pdf", filename=path.name)


class _Api:
    """The endpoints; each runs in Starlette's thread pool (psycopg is synchronous)."""

    def __init__(self, dsn: str, config: DeliveryConfig) -> None:
        self.dsn = dsn
        self.config = config

    def _query(self, text: LiteralString, params: dict[str, Any]) -> list[tuple[Any, ...]]:
        with psycopg.connect(self.dsn) as conn:
            return conn.execute(text, params).fetchall()

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
            except (ValueError, export.ExportError) as exc:
                return JSONResponse({"error": str(exc)}, status_code=400)
            except (AnalyticsError, psycopg.Error) as exc:
                log.error("API %s failed: %s", request.url.path, exc, extra={"action": "api"})
                return JSONResponse({"error": "internal error"}, status_code=500)

        return _threaded(checked)

    def health(self, request: Request) -> Response:
        try:
            with psycopg.connect(self.dsn, connect_timeout=3) as conn:
                conn.execute("SELECT 1")
        except psycopg.Error:
            return JSONResponse({"status": "degraded", "database": False}, status_code=503)
        return JSONResponse({"status": "ok", "database": True})

    def reports(self, request: Request) -> Response:
        params = _filters(request)
        params["limit"] = min(int(request.query_params.get("limit", "100")), 1000)
        rows = self._query(
            "SELECT "
            + _REPORT_COLUMNS
            + " FROM reports"
            + _WHERE
            + " ORDER BY created_at DESC, report_id DESC LIMIT %(limit)s",
            params,
        )
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
        rows = self._query(
            "SELECT "
            + _REPORT_COLUMNS
            + " FROM reports"
            + _WHERE
            + " ORDER BY period_end DESC, created_at DESC LIMIT 1",
            _filters(request),
        )
        return _pdf(rows[0] if rows else None)

    def one(self, request: Request) -> Response:
        rows = self._query(
            "SELECT " + _REPORT_COLUMNS + " FROM reports WHERE report_id = %(id)s",
            {"id": request.path_params["report_id"]},
        )
        return _pdf(rows[0] if rows else None)

    def export_csv(self, request: Request) -> Response:
        q = request.query_params
        start, end = _instant(request, "from"), _instant(request, "to")
        sep = q.get("sep", ",")
        sep = "\t" if sep in ("tab", "\\t") else sep
        chunks: Iterator[str] = export.csv_rows(
            self.dsn,
            start,
            end,
            meters=q.getlist("meter"),
            site=q.get("site"),
            sep=sep,
            decimal=q.get("decimal"),
        )
        first = next(chunks)  # argument errors surface here, before the 200
        name = f"emusa_{start:%Y%m%d%H%M}_{end:%Y%m%d%H%M}.csv"

        def body() -> Iterator[str]:
            yield first
            yield from chunks

        return StreamingResponse(
            iterate_in_threadpool(body()),
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": f'attachment; filename="{name}"'},
        )

    def powerbi(self, request: Request) -> Response:
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
