"""The HTTP API's parameter checks: every refusal names the parameter and what fits."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from analytics.api import params as api_params
from analytics.api.params import ParameterError
from analytics.delivery.config import ApiSettings

pytestmark = pytest.mark.unit
RANGE = [("from", "2026-11-01T00:00-03:00"), ("to", "2026-11-02T00:00-03:00")]


@pytest.mark.parametrize(
    ("items", "parameter", "message"),
    [
        ([("limit", "-1")], "limit", "from 1 to 1000"),
        ([("limit", "0")], "limit", "from 1 to 1000"),
        ([("limit", "1001")], "limit", "from 1 to 1000"),
        ([("limit", "9" * 40)], "limit", "out of range"),
        ([("limit", "1_0")], "limit", "out of range"),
        ([("limit", "\u0661\u0662")], "limit", "out of range"),  # Arabic-Indic digits
        ([("limit", "1"), ("limit", "2")], "limit", "more than once"),
        ([("site", "\x00")], "site", "U+0000"),
        ([("site", "bad1\n")], "site", "U+000A"),
        ([("site", "a\ufffdb")], "site", "U+FFFD"),  # bytes that were not UTF-8
        ([("site", "")], "site", "empty value"),
        ([("site", "a b")], "site", "not a site id"),
        ([("kind", "weekly")], "kind", "daily | fortnightly | adhoc"),
        ([("format", "json")], "'format'", "parameters: site, kind, limit"),
    ],
)
def test_report_filter_refusals(items: list[tuple[str, str]], parameter: str, message: str) -> None:
    with pytest.raises(ParameterError, match=re.escape(message)) as err:
        api_params.report_filter(items, with_limit=True)
    assert err.value.parameter == parameter
    assert set(err.value.body()) == {"error", "parameter", "allowed"}
    assert err.value.body()["error"].startswith(f"{parameter}: ")


def test_report_filter_defaults_and_values() -> None:
    assert api_params.report_filter([], with_limit=True) == api_params.ReportFilter(None, None, 100)
    got = api_params.report_filter(
        [("site", "plant"), ("kind", "daily"), ("limit", "1000")], with_limit=True
    )
    assert got == api_params.ReportFilter("plant", "daily", 1000)
    with pytest.raises(ParameterError, match="unknown parameter"):
        api_params.report_filter([("limit", "5")], with_limit=False)


@pytest.mark.parametrize(
    ("items", "parameter", "message"),
    [
        ([("to", "2026-11-02T00:00Z")], "from", "missing"),
        ([("from", "2026-11-01"), ("to", "2026-11-02T00:00Z")], "from", "not an instant"),
        ([("from", "2026-11-01T00:00"), ("to", "2026-11-02T00:00Z")], "from", "not an instant"),
        ([("from", "2026-13-01T00:00Z"), ("to", "2026-11-02T00:00Z")], "from", "not a valid date"),
        ([("from", "2026-11-01T00:00+24:00"), ("to", "2026-11-02T00:00Z")], "from", "offset"),
        ([("from", "0001-01-01T00:00+05:00"), ("to", "2026-11-02T00:00Z")], "from", "years 1-9999"),
        ([("from", "2026-11-01T00:00Z"), ("to", "9999-12-31T23:59-05:00")], "to", "years 1-9999"),
        ([("from", "2026-11-01T00:00Z\x00"), ("to", "2026-11-02T00:00Z")], "from", "U+0000"),
        ([("from", "2026-11-02T00:00Z"), ("to", "2026-11-01T00:00Z")], "to", "ends before"),
        ([("from", "0001-01-01T00:00Z"), ("to", "9999-12-31T00:00Z")], "to", "at most 400 days"),
        ([*RANGE, ("sep", "|")], "sep", "',' ';' or tab"),
        ([*RANGE, ("sep", ";"), ("decimal", ";")], "decimal", "does not fit"),
        ([*RANGE, ("meter", "m1"), ("meter", "m\x7f")], "meter", "U+007F"),
        ([*RANGE, *[("meter", f"m{i}") for i in range(101)]], "meter", "at most 100"),
        ([*RANGE, ("limit", "5")], "'limit'", "parameters: from, to, site, meter"),
    ],
)
def test_export_refusals(items: list[tuple[str, str]], parameter: str, message: str) -> None:
    with pytest.raises(ParameterError, match=re.escape(message)) as err:
        api_params.export_request(items, ApiSettings().export_max_days)
    assert err.value.parameter == parameter


def test_export_request() -> None:
    req = api_params.export_request(
        [("from", "2026-11-01T00:00 03:00"), ("to", "2026-11-10T03:00:00.000Z"), ("site", "plant"),
         ("meter", "m1"), ("meter", "m2"), ("meter", "m1"), ("sep", "tab")],
        max_days=10,
    )  # fmt: skip
    assert req.start == datetime(2026, 10, 31, 21, tzinfo=UTC)  # '+' read as a space
    assert req.end == datetime(2026, 11, 10, 3, tzinfo=UTC)
    assert (req.site, req.meters, req.sep, req.decimal) == ("plant", ("m1", "m2"), "\t", None)
    with pytest.raises(ParameterError, match=r"spans 9\.0 days.*at most 8 days"):
        api_params.export_request(
            [("from", "2026-11-01T00:00Z"), ("to", "2026-11-10T00:00Z")], max_days=8
        )


def test_no_parameters_and_pbids_site() -> None:
    api_params.no_parameters([])
    with pytest.raises(ParameterError, match="parameters: none"):
        api_params.no_parameters([("x", "1")])
    assert api_params.site_only([("site", "plant")]) == "plant"
    with pytest.raises(ParameterError, match="site"):
        api_params.site_only([("site", "\x00")])


def test_default_export_cap() -> None:
    assert ApiSettings().export_max_days == 400


_TEXT = st.text(st.characters(codec="utf-8"), max_size=30)
_NAMES = st.sampled_from(["from", "to", "site", "meter", "sep", "decimal", "kind", "limit", "x"])


@given(st.lists(st.tuples(st.one_of(_NAMES, _TEXT), _TEXT), max_size=8))
def test_any_parameters_are_accepted_or_refused_by_name(items: list[tuple[str, str]]) -> None:
    for check in (
        lambda: api_params.export_request(items, 400),
        lambda: api_params.report_filter(items, with_limit=True),
        lambda: api_params.site_only(items),
        lambda: api_params.no_parameters(items),
    ):
        refused: ParameterError | None = None
        try:
            check()
        except ParameterError as exc:
            refused = exc
        assert refused is None or (refused.parameter and refused.allowed)
