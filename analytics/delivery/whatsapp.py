"""WhatsApp alerts through the WhatsApp Business Cloud API (Graph API).

One ``POST {api_url}/{phone_number_id}/messages`` per recipient, ``Authorization: Bearer
<EMUSA_WHATSAPP_TOKEN>``, carrying an approved *template* message: the Cloud API refuses
free text to a number that has not written to the business in the last 24 hours, and an
alert is exactly that case. The template's body takes four text parameters, in the
configured language (see docs/analytics-and-reports.md, "Alerts"):

    {{1}} severity  {{2}} site/meter  {{3}} local date and time  {{4}} what happened

Errors are read from the Graph error body (``{"error": {"code": ..., "message": ...}}``)
and handled by code: an expired or invalid token (190) stops the whole send; a number
that cannot receive (131026) or a message outside the service window (131047) is final
for that recipient; rate limits (130429, 131056, 4, 80007) and server errors are
retried with a growing delay (``Retry-After`` when the API gives one).
"""

from __future__ import annotations

import json
import logging
import re
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

from analytics.errors import AnalyticsError

log = logging.getLogger(__name__)

#: Graph error codes that mean "slow down": retried after a delay.
RATE_LIMIT_CODES: Final = frozenset({4, 80007, 130429, 131056})
#: The token is expired or invalid: nothing can be sent until it is renewed.
AUTH_CODES: Final = frozenset({190})
#: The template does not exist, is not approved in that language, or its parameters
#: do not match: a configuration error, the same for every recipient.
TEMPLATE_CODES: Final = frozenset({132000, 132001, 132005, 132007, 132012, 132015, 132016})

_EXPLAIN: Final[Mapping[int, str]] = {
    190: "access token expired or invalid: renew EMUSA_WHATSAPP_TOKEN",
    131026: "message undeliverable: the number has no WhatsApp or cannot receive it",
    131047: "outside the 24-hour service window: only approved templates can be sent",
    130429: "throughput rate limit reached",
    131056: "too many messages to this number: pair rate limit",
    132001: "template does not exist or is not approved in this language",
    132000: "the template's parameter count does not match",
}
_PARAM_LIMIT = 900  # characters per parameter, well under the template body's 1,024
_SPACES = re.compile(r"\s+")


class WhatsAppError(AnalyticsError):
    """The WhatsApp Cloud API refused or could not take a message; names the code."""


class WhatsAppAuthError(WhatsAppError):
    """The access token is expired or invalid (Graph error 190)."""


class WhatsAppTemplateError(WhatsAppError):
    """The template is unknown, unapproved, or its parameters do not match."""


@dataclass(frozen=True, slots=True)
class Delivery:
    """What happened to one recipient: the message id, or the final error."""

    to: str
    message_id: str | None
    error: str | None = None
    code: int | None = None

    @property
    def ok(self) -> bool:
        return self.message_id is not None


@dataclass(frozen=True, slots=True)
class Template:
    name: str
    language: str  # the template's language code as approved, e.g. pt_BR
    parameters: Sequence[str]


def clean_parameter(text: str) -> str:
    """A template parameter the API accepts: no new lines, tabs or runs of spaces."""
    flat = _SPACES.sub(" ", text).strip()
    return flat if len(flat) <= _PARAM_LIMIT else flat[: _PARAM_LIMIT - 1] + "…"


def message_body(to: str, template: Template) -> dict[str, Any]:
    return {
        "messaging_product": "whatsapp",
        "recipient_type": "individual",
        "to": to,
        "type": "template",
        "template": {
            "name": template.name,
            "language": {"code": template.language},
            "components": [
                {
                    "type": "body",
                    "parameters": [
                        {"type": "text", "text": clean_parameter(p)} for p in template.parameters
                    ],
                }
            ],
        },
    }


def _graph_error(status: int, raw: bytes) -> tuple[int | None, str]:
    """The Graph error code and a one-line explanation from an error response."""
    try:
        err = json.loads(raw.decode("utf-8"))["error"]
        code = int(err["code"])
        message = str(err.get("message", ""))[:300]
    except (ValueError, KeyError, TypeError, UnicodeDecodeError):
        return None, f"HTTP {status}: {raw[:200].decode('utf-8', 'replace')}"
    explained = _EXPLAIN.get(code)
    text = f"error {code}: {explained} ({message})" if explained else f"error {code}: {message}"
    return code, text


def _retry_after(headers: Mapping[str, str] | None) -> float | None:
    value = (headers or {}).get("Retry-After")
    try:
        return max(0.0, float(value)) if value is not None else None
    except ValueError:
        return None


@dataclass(frozen=True, slots=True)
class Client:
    """Sends template messages from one business phone number."""

    api_url: str
    phone_number_id: str
    token: str
    timeout: float = 10.0
    attempts: int = 4
    backoff: float = 2.0
    sleep: Callable[[float], None] = time.sleep

    @property
    def endpoint(self) -> str:
        return f"{self.api_url.rstrip('/')}/{self.phone_number_id}/messages"

    def _post(self, body: Mapping[str, Any]) -> tuple[int, bytes, Mapping[str, str]]:
        data = json.dumps(body, ensure_ascii=False).encode("utf-8")
        req = urllib.request.Request(  # noqa: S310 - the URL's scheme is checked by the config
            self.endpoint,
            data=data,
            method="POST",
            headers={
                "Authorization": f"Bearer {self.token}",
                "Content-Type": "application/json; charset=utf-8",
                "User-Agent": "emusa-analytics",
            },
        )
        try:
            with urllib.request.urlopen(req, timeout=self.timeout) as resp:  # noqa: S310
                return int(resp.status), resp.read(), dict(resp.headers.items())
        except urllib.error.HTTPError as exc:
            with exc:
                return int(exc.code), exc.read(), dict(exc.headers.items())

    def send(self, to: str, template: Template) -> Delivery:
        """One template message to ``to``; retries rate limits and server errors.

        Raises WhatsAppAuthError / WhatsAppTemplateError for errors that no other
        recipient could escape; returns a failed Delivery for errors of this recipient."""
        body = message_body(to, template)
        last = ""
        code: int | None = None
        for attempt in range(1, self.attempts + 1):
            wait: float | None = None
            try:
                status, raw, headers = self._post(body)
            except (urllib.error.URLError, OSError) as exc:
                status, raw, headers = 0, b"", {}
                last = f"cannot reach the WhatsApp API: {getattr(exc, 'reason', exc)}"
            if 200 <= status < 300:
                try:
                    message_id = str(json.loads(raw)["messages"][0]["id"])
                except (ValueError, KeyError, IndexError, TypeError):
                    message_id = "?"
                return Delivery(to, message_id)
            if status:
                code, last = _graph_error(status, raw)
                if code in AUTH_CODES or status == 401:
                    raise WhatsAppAuthError(f"WhatsApp {last}")
                if code in TEMPLATE_CODES:
                    raise WhatsAppTemplateError(f"WhatsApp template {template.name!r}: {last}")
                retryable = code in RATE_LIMIT_CODES or status == 429 or status >= 500
                if not retryable:
                    return Delivery(to, None, last, code)
                wait = _retry_after(headers)
            if attempt < self.attempts:
                delay = wait if wait is not None else self.backoff * 2 ** (attempt - 1)
                log.warning(
                    "WhatsApp to %s: attempt %d/%d failed (%s); next in %.1f s",
                    mask(to), attempt, self.attempts, last, delay,
                    extra={"action": "whatsapp"},
                )  # fmt: skip
                self.sleep(delay)
        return Delivery(to, None, last, code)


def mask(number: str) -> str:
    """A phone number for logs: country code and last four digits only."""
    digits = number.lstrip("+")
    return f"+{digits[:2]}…{digits[-4:]}" if len(digits) > 6 else "+…"
