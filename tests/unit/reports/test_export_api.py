from __future__ import annotations

import base64
import json
from datetime import UTC, datetime

import pytest
from starlette.requests import Request

from analytics.api import export
from analytics.api.app import _authorized

pytestmark = pytest.mark.unit


def test_number_format() -> None:
    assert export._fmt(216.6, ",") == "216,6"
    assert export._fmt(216.6, ".") == "216.6"
    assert export._fmt(1e-9, ",") == "0"
    assert export._fmt(3.0, ".") == "3"
    assert export._fmt(None, ",") == ""
    assert export._fmt(datetime(2026, 11, 10, 3, tzinfo=UTC), ",") == "2026-11-10 03:00:00+00:00"


def test_argument_errors_before_any_query() -> None:
    t0, t1 = datetime(2026, 11, 10, tzinfo=UTC), datetime(2026, 11, 11, tzinfo=UTC)
    for kwargs, msg in (
        ({"sep": "|"}, "separator"),
        ({"sep": ";", "decimal": ";"}, "does not fit"),
        ({"columns": ["p_total", "drop table"]}, r"unknown column\(s\): drop table"),
    ):
        with pytest.raises(export.ExportError, match=msg):
            next(export.csv_rows("dbname=none", t0, t1, **kwargs))
    with pytest.raises(export.ExportError, match="ends before"):
        next(export.csv_rows("dbname=none", t1, t0))


def test_pbids() -> None:
    doc = export.pbids("plant:5432", "emusa", "DirectQuery")
    assert json.loads(json.dumps(doc)) == {
        "version": "0.1",
        "connections": [{
            "details": {"protocol": "postgresql", "address": {"server": "plant:5432", "database": "emusa"}},
            "options": {}, "mode": "DirectQuery",
        }],
    }  # fmt: skip


def _req(auth: str | None) -> Request:
    headers = [(b"authorization", auth.encode())] if auth else []
    return Request({"type": "http", "headers": headers, "method": "GET", "path": "/"})


def test_token_auth() -> None:
    assert _authorized(_req("Bearer s3cret"), "s3cret")
    assert not _authorized(_req("Bearer s3cre"), "s3cret")
    basic = base64.b64encode(b"anyone:s3cret").decode()
    assert _authorized(_req(f"Basic {basic}"), "s3cret")
    assert not _authorized(_req("Basic !!!"), "s3cret")
    assert not _authorized(_req(None), "s3cret")
