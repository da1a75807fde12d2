"""The chat-completions client against a local HTTP server: success and every failure."""

from __future__ import annotations

import pytest

from analytics.config import LlmSettings
from analytics.errors import LlmError
from analytics.summaries import llm
from tests.unit.analytics.fake_llm import fake_llm

pytestmark = pytest.mark.unit
TEXT = "Consumo: 1.637,8 kWh. Demanda máxima: 373,5 kW."
KEEP = ["1.637,8", "373,5"]


def _settings(url: str, timeout: float = 5.0) -> LlmSettings:
    return LlmSettings(url=url, model="tiny", api_key="secret", timeout=timeout)


def test_rewrite_keeps_numbers_and_sends_the_protocol() -> None:
    with fake_llm("echo") as server:
        out = llm.rewrite(_settings(server.url), TEXT, "pt-BR", KEEP)
    assert out == f"Reescrito. {TEXT}"
    (req,) = server.requests
    assert req["model"] == "tiny" and req["messages"][0]["role"] == "system"
    assert req["messages"][1] == {"role": "user", "content": TEXT}
    assert server.headers[0]["Authorization"] == "Bearer secret"


def test_full_endpoint_url_is_accepted() -> None:
    assert llm.endpoint("http://h/v1/") == "http://h/v1/chat/completions"
    assert llm.endpoint("http://h/v1/chat/completions") == "http://h/v1/chat/completions"


@pytest.mark.parametrize(
    ("mode", "match"),
    [
        ("error", "HTTP 500"),
        ("garbage", "malformed"),
        ("shape", "malformed"),
        ("drop", "dropped key numbers"),
    ],
)
def test_failures_raise(mode: str, match: str) -> None:
    with fake_llm(mode) as server, pytest.raises(LlmError, match=match):
        llm.rewrite(_settings(server.url), TEXT, "pt-BR", KEEP)


def test_timeout_raises() -> None:
    with fake_llm("slow") as server:
        server.delay = 1.5
        with pytest.raises(LlmError, match="unreachable or too slow"):
            llm.rewrite(_settings(server.url, timeout=0.3), TEXT, "pt-BR", KEEP)


def test_unreachable_raises() -> None:
    with fake_llm("echo") as server:
        url = server.url
    with pytest.raises(LlmError, match="unreachable"):
        llm.rewrite(_settings(url, timeout=2), TEXT, "pt-BR", KEEP)
