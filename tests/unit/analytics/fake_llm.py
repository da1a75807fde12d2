"""A local chat-completions server (stdlib http.server in a thread) for the LLM tests.

``mode``: ``echo`` (rewrites by prefixing, numbers kept), ``drop`` (loses the numbers),
``error`` (HTTP 500), ``slow`` (answers after ``delay`` s), ``garbage`` (not JSON),
``shape`` (JSON without choices).
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class FakeLlm:
    url: str
    mode: str = "echo"
    delay: float = 2.0
    requests: list[dict[str, Any]] = field(default_factory=list)
    headers: list[dict[str, str]] = field(default_factory=list)


@contextmanager
def fake_llm(mode: str = "echo") -> Iterator[FakeLlm]:
    state = FakeLlm("", mode)

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *_a: object) -> None:
            pass

        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            state.requests.append(body)
            state.headers.append(dict(self.headers))
            if self.path != "/v1/chat/completions":
                self._send(404, b"{}")
            elif state.mode == "error":
                self._send(500, b'{"error": "boom"}')
            elif state.mode == "garbage":
                self._send(200, b"<html>not json")
            elif state.mode == "shape":
                self._send(200, b'{"id": "x"}')
            else:
                if state.mode == "slow":
                    time.sleep(state.delay)
                text = body["messages"][-1]["content"]
                content = "Sem números aqui." if state.mode == "drop" else f"Reescrito. {text}"
                answer = {
                    "choices": [{"index": 0, "message": {"role": "assistant", "content": content}}]
                }
                self._send(200, json.dumps(answer).encode())

        def _send(self, code: int, payload: bytes) -> None:
            try:
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client gave up (timeout test)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    state.url = f"http://127.0.0.1:{server.server_address[1]}/v1"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)
