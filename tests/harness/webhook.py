"""A real HTTP server receiving webhook POSTs (JSON bodies), on a free local port."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler
from typing import Any

from tests.harness.http import local_http_server


@dataclass
class Hook:
    url: str
    received: list[dict[str, Any]]
    headers: list[dict[str, str]]
    status: list[int]  # status to answer with (mutable, default 200)


@contextmanager
def webhook_server() -> Iterator[Hook]:
    """Answers each POST with ``status[0]``; keeps the JSON body and headers of the 200s."""
    received: list[dict[str, Any]] = []
    headers: list[dict[str, str]] = []
    status = [200]

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            if status[0] == 200:
                received.append(json.loads(body))
                headers.append(dict(self.headers))
            self.send_response(status[0])
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            return

    with local_http_server(Handler) as base:
        yield Hook(f"{base}/hook", received, headers, status)
