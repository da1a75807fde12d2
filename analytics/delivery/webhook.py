"""Generic webhook: a JSON POST per alert (a WhatsApp gateway, Node-RED, n8n, Slack...).

The body carries the event fields and a ready-to-send ``text`` in the configured
language, so a gateway that forwards text to WhatsApp needs no template. Optional
``Authorization: Bearer <EMUSA_WEBHOOK_TOKEN>``.
"""

from __future__ import annotations

import json
import logging
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping
from typing import Any

from analytics.errors import AnalyticsError

log = logging.getLogger(__name__)


class WebhookError(AnalyticsError):
    """The webhook did not accept the message (after the retries)."""


def post_json(
    url: str,
    payload: Mapping[str, Any],
    *,
    token: str | None = None,
    timeout: float = 10.0,
    attempts: int = 3,
    delay: float = 2.0,
    sleep: Callable[[float], None] = time.sleep,
) -> int:
    """POST ``payload`` as JSON; 2xx is success, 4xx (but 408/429) is final, the rest is
    retried with a doubling delay. Returns the HTTP status."""
    if not url.startswith(("http://", "https://")):
        raise WebhookError(f"webhook URL must be http(s): {url!r}")
    body = json.dumps(payload, ensure_ascii=False, default=str).encode("utf-8")
    headers = {"Content-Type": "application/json; charset=utf-8", "User-Agent": "emusa-analytics"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    last: str = ""
    for attempt in range(1, attempts + 1):
        req = urllib.request.Request(url, data=body, headers=headers, method="POST")  # noqa: S310 - scheme checked above
        try:
            with urllib.request.urlopen(req, timeout=timeout) as resp:  # noqa: S310
                status = int(resp.status)
                resp.read()
            return status
        except urllib.error.HTTPError as exc:
            exc.close()
            last = f"HTTP {exc.code}"
            if 400 <= exc.code < 500 and exc.code not in (408, 429):
                break
        except (urllib.error.URLError, OSError) as exc:
            last = str(getattr(exc, "reason", exc))
        log.warning(
            "webhook attempt %d/%d failed: %s", attempt, attempts, last, extra={"action": "webhook"}
        )
        if attempt < attempts:
            sleep(delay * 2 ** (attempt - 1))
    raise WebhookError(f"webhook {url} failed: {last}")
