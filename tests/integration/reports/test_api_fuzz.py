"""Property test: arbitrary query strings at every endpoint of the real API server (real
TimescaleDB behind it) never get a 5xx; a refusal is a 400 naming the parameter."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote, quote_from_bytes

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from analytics.delivery.config import ApiSettings, DeliveryConfig
from tests.conftest import PgServer
from tests.integration.reports.api_server import get, serve_api
from tests.integration.reports.plant import SITE

pytestmark = pytest.mark.integration
#: each endpoint and the parameters it takes (the fuzzer mostly sends those)
PATHS = {
    "/health": (),
    "/reports": ("site", "kind", "limit"),
    "/reports/latest.pdf": ("site", "kind"),
    "/reports/1.pdf": (),
    "/export.csv": ("from", "to", "site", "meter", "sep", "decimal"),
    "/powerbi.pbids": ("site",),
}
NAMES = ("from", "to", "site", "meter", "sep", "decimal", "kind", "limit")


@pytest.fixture(scope="module")
def base(
    pg_server: PgServer, plant_template: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    name = pg_server.create_database(template=plant_template)
    config = DeliveryConfig(
        site=SITE,
        reports_dir=Path(tmp_path_factory.mktemp("reports")),
        api=ApiSettings(export_max_days=2),  # an accepted export stays small
    )
    try:
        with serve_api(pg_server.dsn(name), config) as url:
            yield url
    finally:
        pg_server.drop_database(name)


_instants = st.builds(
    "{:04d}-{:02d}-{:02d}T{:02d}:{:02d}{}".format,
    st.sampled_from([1, 2026, 2026, 9999]), st.integers(0, 13), st.integers(0, 32),
    st.integers(0, 25), st.integers(0, 61),
    st.sampled_from(["Z", "-03:00", "+05:00", " 03:00", "+24:00", "", ".5Z"]),
)  # fmt: skip
_values = st.one_of(
    st.text(max_size=20),  # any code point, control characters included
    st.binary(max_size=12),  # percent-encoded bytes, not always UTF-8
    _instants,
    st.sampled_from(["plant", "m1", "m2", "m9", "nowhere", "daily", "weekly", ";", ",", "tab"]),
    st.integers(-5, 1005).map(str),
    st.integers(-(10**30), 10**30).map(str),
    st.sampled_from(["\x00", "a\x00b", "bad1\n", "-1", "0", "%00", "1e3", " 1"]),
)
_raw = st.text(
    st.characters(min_codepoint=0x21, max_codepoint=0x7E, exclude_characters="#"), max_size=40
)


def _encode(value: str | bytes) -> str:
    return quote_from_bytes(value, safe="") if isinstance(value, bytes) else quote(value, safe="")


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(path=st.sampled_from(sorted(PATHS)), data=st.data(), raw=st.one_of(st.just(""), _raw))
def test_no_query_string_gets_a_5xx(base: str, path: str, data: st.DataObject, raw: str) -> None:
    own = st.sampled_from(PATHS[path]) if PATHS[path] else st.sampled_from(NAMES)
    names = st.one_of(own, own, st.sampled_from(NAMES), st.text(max_size=8))
    pairs = data.draw(st.lists(st.tuples(names, _values), max_size=6), label="pairs")
    query = "&".join(f"{_encode(k)}={_encode(v)}" for k, v in pairs)
    query = f"{query}&{raw}" if query and raw else query or raw
    status, headers, body = get(f"{base}{path}?{query}")
    assert status < 500, (path, query, status, body[:200])
    if status == 400:
        doc = json.loads(body)
        assert doc["parameter"] and doc["allowed"] and doc["error"], (path, query, doc)
    if status in (200, 404):
        assert headers["content-type"].split(";")[0] in (
            "application/json", "application/pdf", "text/csv"
        ), (path, query)  # fmt: skip
