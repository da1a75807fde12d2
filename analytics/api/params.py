"""Strict checking of the HTTP API's query parameters (pure logic, no web or database client).

Every endpoint names the parameters it takes; anything else is refused with
:class:`ParameterError`, which the API answers with 400 and a JSON body naming the parameter
and what it allows. Refused: unknown parameters, a parameter given twice (but ``meter``),
empty values, control characters (``%00``, newlines, bytes that are not UTF-8), limits that
are not a whole number from 1 to 1000, names that are not site/meter ids, instants that are
not ISO 8601 with a UTC offset or do not fit in years 1-9999 in UTC, export ranges that end
before they start or span more than the configured number of days.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from analytics.errors import AnalyticsError
from contract import ContractError, check_name

REPORT_KINDS = ("daily", "fortnightly", "adhoc")
MAX_LIMIT = 1000
MAX_METERS = 100
_LIMIT_RE = re.compile(r"[0-9]{1,7}")
# Date, 'T' (or a space), hours and minutes, optional seconds and fraction, then Z or an
# offset; a '+' in a URL reads as a space, so "00:00 03:00" is taken as "00:00+03:00".
_INSTANT_RE = re.compile(
    r"(\d{4}-\d{2}-\d{2})[T ](\d{2}:\d{2}(?::\d{2}(?:\.\d{1,6})?)?)(Z|[+\- ]\d{2}:\d{2})",
    re.ASCII,
)
_SEPARATORS = {",": ",", ";": ";", "tab": "\t", "\\t": "\t", "\t": "\t"}
INSTANT_HELP = (
    "an ISO 8601 instant with a UTC offset, e.g. 2026-11-01T00:00-03:00 or 2026-11-01T03:00:00Z"
)


class ParameterError(AnalyticsError):
    """A query parameter the API refuses; ``parameter`` names it, ``allowed`` says what fits."""

    def __init__(self, parameter: str, problem: str, allowed: str) -> None:
        super().__init__(f"{parameter}: {problem}; allowed: {allowed}")
        self.parameter = parameter
        self.allowed = allowed

    def body(self) -> dict[str, str]:
        return {"error": str(self), "parameter": self.parameter, "allowed": self.allowed}


@dataclass(frozen=True)
class ReportFilter:
    site: str | None
    kind: str | None
    limit: int


@dataclass(frozen=True)
class ExportRequest:
    start: datetime
    end: datetime
    site: str | None
    meters: tuple[str, ...]
    sep: str
    decimal: str | None


def _show(value: str) -> str:
    return repr(value if len(value) <= 40 else value[:40] + "…")


def _single(
    items: Iterable[tuple[str, str]], allowed: Iterable[str], many: Iterable[str] = ()
) -> dict[str, list[str]]:
    """The values of each parameter; unknown, repeated (unless in ``many``), empty or
    control-character values refused."""
    allowed, many = tuple(allowed), set(many)
    out: dict[str, list[str]] = {}
    for name, value in items:
        if name not in allowed:
            known = ", ".join(allowed) or "none"
            raise ParameterError(_show(name), "unknown parameter", f"parameters: {known}")
        if name in out and name not in many:
            raise ParameterError(name, "given more than once", "one value")
        if value == "":
            raise ParameterError(name, "empty value", "leave the parameter out or give a value")
        bad = next(
            (
                c
                for c in value
                if unicodedata.category(c) in ("Cc", "Cf", "Cs", "Co") or c == "\ufffd"
            ),
            None,
        )
        if bad is not None and not (name == "sep" and value == "\t"):
            raise ParameterError(
                name, f"control or undecodable character U+{ord(bad):04X}", "printable UTF-8 text"
            )
        out.setdefault(name, []).append(value)
    return out


def _name(parameter: str, value: str) -> str:
    try:
        return check_name(parameter, value)
    except ContractError:
        raise ParameterError(
            parameter,
            f"{_show(value)} is not a {parameter} id",
            "1-64 letters, digits, '_', '.', '-', starting with a letter or digit",
        ) from None


def _kind(value: str | None) -> str | None:
    if value is not None and value not in REPORT_KINDS:
        raise ParameterError(
            "kind", f"{_show(value)} is not a report kind", " | ".join(REPORT_KINDS)
        )
    return value


def _limit(value: str | None) -> int:
    if value is None:
        return 100
    allowed = f"a whole number from 1 to {MAX_LIMIT} (default 100)"
    if not _LIMIT_RE.fullmatch(value) or not 1 <= int(value) <= MAX_LIMIT:
        raise ParameterError("limit", f"{_show(value)} is out of range", allowed)
    return int(value)


def instant(parameter: str, value: str | None) -> datetime:
    """An aware instant in UTC from the ISO 8601 text of ``parameter``."""
    if value is None:
        raise ParameterError(parameter, "missing", INSTANT_HELP)
    match = _INSTANT_RE.fullmatch(value)
    if match is None:
        raise ParameterError(parameter, f"{_show(value)} is not an instant", INSTANT_HELP)
    day, clock, offset = match.groups()
    offset = "+" + offset[1:] if offset.startswith(" ") else offset
    try:
        parsed = datetime.fromisoformat(f"{day}T{clock}{'+00:00' if offset == 'Z' else offset}")
        return parsed.astimezone(UTC)
    except (ValueError, OverflowError):
        raise ParameterError(
            parameter,
            f"{_show(value)} is not a valid date, time or offset",
            INSTANT_HELP + ", within years 1-9999 in UTC",
        ) from None


def _get(values: Mapping[str, list[str]], name: str) -> str | None:
    got = values.get(name)
    return got[0] if got else None


def no_parameters(items: Iterable[tuple[str, str]]) -> None:
    _single(items, ())


def site_only(items: Iterable[tuple[str, str]]) -> str | None:
    """``?site=`` (optional): the ``.pbids`` link of the dashboards carries it."""
    site = _get(_single(items, ("site",)), "site")
    return _name("site", site) if site is not None else None


def report_filter(items: Iterable[tuple[str, str]], *, with_limit: bool) -> ReportFilter:
    names = ("site", "kind", "limit") if with_limit else ("site", "kind")
    values = _single(items, names)
    site = _get(values, "site")
    return ReportFilter(
        site=_name("site", site) if site is not None else None,
        kind=_kind(_get(values, "kind")),
        limit=_limit(_get(values, "limit")),
    )


def export_request(items: Iterable[tuple[str, str]], max_days: int) -> ExportRequest:
    values = _single(items, ("from", "to", "site", "meter", "sep", "decimal"), many=("meter",))
    start, end = instant("from", _get(values, "from")), instant("to", _get(values, "to"))
    if end <= start:
        raise ParameterError("to", "the range ends before it starts", "an instant after 'from'")
    if end - start > timedelta(days=max_days):
        raise ParameterError(
            "to",
            f"the range spans {(end - start) / timedelta(days=1):.1f} days",
            f"at most {max_days} days after 'from' (api.export_max_days)",
        )
    meters = tuple(dict.fromkeys(_name("meter", m) for m in values.get("meter", ())))
    if len(meters) > MAX_METERS:
        raise ParameterError("meter", f"{len(meters)} meters", f"at most {MAX_METERS} meters")
    sep_text = _get(values, "sep") or ","
    if sep_text not in _SEPARATORS:
        raise ParameterError("sep", f"{_show(sep_text)} is not a separator", "',' ';' or tab")
    sep = _SEPARATORS[sep_text]
    decimal = _get(values, "decimal")
    if decimal is not None and (decimal not in (",", ".") or decimal == sep):
        raise ParameterError(
            "decimal",
            f"{_show(decimal)} does not fit separator {sep!r}",
            "',' or '.', not the separator",
        )
    site = _get(values, "site")
    return ExportRequest(
        start=start,
        end=end,
        site=_name("site", site) if site is not None else None,
        meters=meters,
        sep=sep,
        decimal=decimal,
    )


def not_found(parameter: str, name: str, site: str | None) -> ParameterError:
    """A site or meter the database does not hold (the API answers 404)."""
    where = f" in site {_show(site)}" if parameter == "meter" and site is not None else ""
    return ParameterError(
        parameter, f"unknown {parameter} {_show(name)}{where}", f"a {parameter} in the database"
    )
