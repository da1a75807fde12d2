"""Optional rewriting of a summary through an OpenAI-compatible chat-completions API.

``rewrite`` returns the model's text, or raises :class:`LlmError` on a timeout, an HTTP
error, a malformed answer, or a rewrite that lost one of the key numbers; the caller then
keeps the deterministic text. Standard library only (urllib).
"""

from __future__ import annotations

import json
import logging
import urllib.error
import urllib.request
from collections.abc import Sequence

from analytics.config import LlmSettings
from analytics.errors import LlmError

log = logging.getLogger(__name__)
MAX_ANSWER_BYTES = 64 * 1024

PROMPTS = {
    "pt-BR": (
        "Você reescreve resumos de energia de uma planta industrial para gerentes, em português "
        "do Brasil, em no máximo 6 frases curtas e claras. Mantenha EXATAMENTE todos os números "
        "como aparecem (mesma formatação, vírgula decimal), não invente dados, não use markdown."
    ),
    "en": (
        "You rewrite energy summaries of an industrial plant for managers, in English, in at most "
        "6 short, clear sentences. Keep EVERY number EXACTLY as written (same formatting), do not "
        "invent data, no markdown."
    ),
}


def endpoint(url: str) -> str:
    """The chat-completions URL from a base URL (``…/v1``) or the full one."""
    url = url.rstrip("/")
    return url if url.endswith("/chat/completions") else f"{url}/chat/completions"


def rewrite(settings: LlmSettings, text: str, lang: str, keep: Sequence[str]) -> str:
    body = json.dumps(
        {
            "model": settings.model,
            "temperature": 0.2,
            "messages": [
                {"role": "system", "content": PROMPTS[lang]},
                {"role": "user", "content": text},
            ],
        }
    ).encode()
    headers = {"Content-Type": "application/json"}
    if settings.api_key:
        headers["Authorization"] = f"Bearer {settings.api_key}"
    url = endpoint(settings.url)  # http(s) only: checked by analytics.config
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")  # noqa: S310
    try:
        with urllib.request.urlopen(request, timeout=settings.timeout) as response:  # noqa: S310
            raw = response.read(MAX_ANSWER_BYTES + 1)
    except urllib.error.HTTPError as exc:
        raise LlmError(f"LLM endpoint answered HTTP {exc.code}") from exc
    except (urllib.error.URLError, TimeoutError, OSError) as exc:
        raise LlmError(f"LLM endpoint unreachable or too slow: {exc}") from exc
    if len(raw) > MAX_ANSWER_BYTES:
        raise LlmError("LLM answer too large")
    try:
        answer = json.loads(raw)
        content = answer["choices"][0]["message"]["content"]
    except (ValueError, KeyError, IndexError, TypeError) as exc:
        raise LlmError(f"malformed chat-completions answer: {raw[:200]!r}") from exc
    if not isinstance(content, str) or not content.strip():
        raise LlmError("empty chat-completions answer")
    content = content.strip()
    missing = [n for n in keep if n not in content]
    if missing:
        raise LlmError(f"rewrite dropped key numbers {missing}")
    return content
