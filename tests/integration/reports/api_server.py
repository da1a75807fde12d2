"""The HTTP API served by a real uvicorn on a free port, and a client for it."""

from __future__ import annotations

import contextlib
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator

import uvicorn

from analytics.api.app import create_app
from analytics.delivery.config import DeliveryConfig
from ingestor.localstack import free_port

TOKEN = "api-test-token"
AUTH = f"Bearer {TOKEN}"


@contextlib.contextmanager
def serve_api(dsn: str, config: DeliveryConfig) -> Iterator[str]:
    """Serve ``create_app(dsn, config)`` (token ``TOKEN``); yields the base URL."""
    port = free_port()
    app = create_app(dsn, config.model_copy(update={"api_token": TOKEN}))
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not server.started:
        assert time.monotonic() < deadline, "uvicorn did not start in 15 s"
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=15)
        assert not thread.is_alive()


def get(url: str, *, auth: str | None = AUTH) -> tuple[int, dict[str, str], bytes]:
    """Status, headers (lower-case names) and body of a GET."""
    req = urllib.request.Request(url)
    if auth:
        req.add_header("Authorization", auth)
    try:
        with urllib.request.urlopen(req, timeout=60) as resp:
            return resp.status, {k.lower(): v for k, v in resp.headers.items()}, resp.read()
    except urllib.error.HTTPError as exc:
        with exc:
            return exc.code, {k.lower(): v for k, v in exc.headers.items()}, exc.read()
