"""A local HTTP server speaking the WhatsApp Business Cloud API's messages endpoint.

It checks what Graph checks at the protocol boundary (path, bearer token, the template
message's JSON shape) and answers with Graph's success body or its error body
(``{"error": {"message", "type", "code", "fbtrace_id"}}``). Tests script the answers per
recipient: ``graph.script["5511..."] = [error(131026)]``.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Any

from tests.harness.http import local_http_server

VERSION = "v21.0"
PHONE_NUMBER_ID = "106540352242922"

_MESSAGES = {
    100: "Invalid parameter",
    190: "Error validating access token: Session has expired on Sunday, 06-Dec-26.",
    131026: "Message undeliverable",
    131047: "Re-engagement message",
    130429: "Rate limit hit",
    131056: "(Business Account, Consumer Account) pair rate limit hit",
    132001: "Template name does not exist in the translation",
}


@dataclass(frozen=True)
class Answer:
    status: int
    body: dict[str, Any]
    headers: dict[str, str] = field(default_factory=dict)


def error(code: int, status: int = 400, retry_after: float | None = None) -> Answer:
    headers = {"Retry-After": str(retry_after)} if retry_after is not None else {}
    body = {
        "error": {
            "message": f"({'#'}{code}) {_MESSAGES.get(code, 'error')}",
            "type": "OAuthException",
            "code": code,
            "error_data": {"messaging_product": "whatsapp", "details": _MESSAGES.get(code, "")},
            "fbtrace_id": "AbCdEf123",
        }
    }
    return Answer(status, body, headers)


@dataclass
class Graph:
    url: str  # the api_url to configure (…/v21.0)
    token: str
    received: list[dict[str, Any]]  # every well-formed message body, in order
    script: dict[str, list[Answer]]  # recipient -> answers to give first, in order


def _shape_error(body: Any) -> str | None:
    """Why ``body`` is not a template message the Cloud API accepts (None: it is)."""
    try:
        assert body["messaging_product"] == "whatsapp"
        assert re.fullmatch(r"[1-9][0-9]{7,14}", body["to"])
        assert body["type"] == "template"
        tpl = body["template"]
        assert re.fullmatch(r"[a-z0-9_]+", tpl["name"])
        assert isinstance(tpl["language"]["code"], str)
        (component,) = tpl["components"]
        assert component["type"] == "body"
        for p in component["parameters"]:
            assert p["type"] == "text" and p["text"].strip()
            assert "\n" not in p["text"] and "\t" not in p["text"] and "     " not in p["text"]
    except (AssertionError, KeyError, TypeError, ValueError) as exc:
        return f"malformed template message: {exc!r}"
    return None


@contextmanager
def graph_server(token: str = "EAAG-test-token") -> Iterator[Graph]:
    received: list[dict[str, Any]] = []
    script: dict[str, list[Answer]] = {}
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        def _answer(self, answer: Answer) -> None:
            data = json.dumps(answer.body).encode()
            self.send_response(answer.status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            for k, v in answer.headers.items():
                self.send_header(k, v)
            self.end_headers()
            self.wfile.write(data)

        def do_POST(self) -> None:
            raw = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            if self.path != f"/{VERSION}/{PHONE_NUMBER_ID}/messages":
                self._answer(error(100, 404))
                return
            if self.headers.get("Authorization") != f"Bearer {token}":
                self._answer(error(190, 401))
                return
            try:
                body = json.loads(raw)
            except ValueError:
                self._answer(error(100))
                return
            if _shape_error(body) is not None:
                self._answer(error(100))
                return
            with lock:
                queue = script.get(body["to"], [])
                answer = queue.pop(0) if queue else None
                if answer is None:
                    received.append(body)
            if answer is None:
                answer = Answer(
                    200,
                    {
                        "messaging_product": "whatsapp",
                        "contacts": [{"input": body["to"], "wa_id": body["to"]}],
                        "messages": [{"id": f"wamid.TEST{len(received)}"}],
                    },
                )
            self._answer(answer)

        def log_message(self, format: str, *args: Any) -> None:
            return

    with local_http_server(Handler) as base:
        yield Graph(f"{base}/{VERSION}", token, received, script)
