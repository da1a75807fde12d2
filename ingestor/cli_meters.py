"""``emusa-ingestor admit-meter`` and ``refused-meters``: the operator's side of the
registration limits (``ingestor/bounds.py``).

A meter (or site) seen for the first time beyond ``EMUSA_INGESTOR_MAX_METERS`` /
``EMUSA_INGESTOR_MAX_SITES`` is refused, its messages kept in ``ingest_rejects`` with
reason ``unknown_meter_limit`` / ``unknown_site_limit``. ``refused-meters`` lists them
(from the dead letters, which are kept 30 days); ``admit-meter SITE METER`` registers
one (and its site), so that the running ingestors store its next readings. Messages in
pt-BR (default, or ``EMUSA_LANG``) or English (``--lang en``).
"""

from __future__ import annotations

import argparse
import os
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import psycopg

from contract import (
    DEFAULT_ROOT,
    ContractError,
    check_name,
    parse_diagnostics_topic,
    parse_meter_info_topic,
    parse_reading_topic,
)
from contract.settings import DATABASE_URL, database_url
from ingestor.bounds import SITE_LIMIT
from ingestor.errors import ConfigError, DatabaseError
from ingestor.writer import bound_queries

_TEXT = {
    "admitted": (
        "medidor {site}/{meter} admitido (id {id}): as próximas leituras dele serão gravadas",
        "meter {site}/{meter} admitted (id {id}): its next readings will be stored",
    ),
    "known": (
        "medidor {site}/{meter} já estava cadastrado (id {id})",
        "meter {site}/{meter} was already registered (id {id})",
    ),
    "none": (
        "nenhum medidor ou site recusado por limite nos últimos 30 dias",
        "no meter or site refused for a limit in the last 30 days",
    ),
    "header": (
        "site  medidor  motivo  mensagens  primeira  última  situação",
        "site  meter  reason  messages  first  last  state",
    ),
    "pending": ("pendente", "pending"),
    "admitted_state": ("admitido", "admitted"),
    "bad_name": ("nome inválido: {detail}", "invalid name: {detail}"),
}


def text(key: str, lang: str, **values: Any) -> str:
    pt, en = _TEXT[key]
    return (en if lang == "en" else pt).format(**values)


@dataclass(frozen=True, slots=True)
class Refused:
    site: str
    meter: str  # "" for a site refused with its bus diagnostics
    reason: str
    messages: int
    first: datetime
    last: datetime
    admitted: bool


def add_parsers(sub: Any) -> None:
    """The two subcommands, on ``emusa-ingestor``'s subparsers."""
    a = sub.add_parser(
        "admit-meter",
        help="register a meter refused by EMUSA_INGESTOR_MAX_METERS/MAX_SITES",
        description=(
            "Register METER of SITE (and SITE when new), whatever the limits: the running"
            " ingestors store its next readings. Readings refused before stay in"
            " ingest_rejects."
        ),
    )
    a.add_argument("site")
    a.add_argument("meter")
    r = sub.add_parser(
        "refused-meters",
        help="list the meters and sites refused for the registration limits",
        description="From ingest_rejects (kept 30 days): each refused meter or site, newest first.",
    )
    r.add_argument("--limit", type=int, default=200, help="at most this many topics (200)")
    r.add_argument("--topic-root", help=f"($EMUSA_TOPIC_ROOT, default {DEFAULT_ROOT})")
    for p in (a, r):
        p.add_argument("--database-url", help=f"libpq URL (default: ${DATABASE_URL})")
        p.add_argument("--lang", choices=("pt-BR", "en"), help="default: $EMUSA_LANG or pt-BR")


def _lang(args: argparse.Namespace) -> str:
    return str(args.lang or os.environ.get("EMUSA_LANG") or "pt-BR")


def admit(conninfo: str, site: str, meter: str) -> tuple[int, bool]:
    """Register ``site``/``meter``; (meter id, whether it is new)."""
    q = bound_queries()
    params = {"site": site, "meter": meter}
    try:
        with psycopg.connect(conninfo) as conn:
            row = conn.execute(q["find_meter"], params).fetchone()
            if row is not None:
                return int(row[0]), False
            conn.execute(q["lock_registration"])
            conn.execute(q["register_site"], params)
            conn.execute(q["register_meter"], params)
            row = conn.execute(q["find_meter"], params).fetchone()
    except psycopg.Error as exc:
        raise DatabaseError(f"cannot admit meter {site}/{meter}: {exc}") from exc
    if row is None:  # pragma: no cover - the insert above guarantees a row
        raise DatabaseError(f"meter {site}/{meter} could not be registered")
    return int(row[0]), True


def refused(conninfo: str, root: str, limit: int) -> list[Refused]:
    """The meters (and sites) refused for a limit, newest first, merged over topics."""
    q = bound_queries()
    try:
        with psycopg.connect(conninfo) as conn:
            rows = conn.execute(q["refused_meters"], {"limit": limit}).fetchall()
            known = {(str(s), str(n)) for s, n, _ in conn.execute(q["load_meters"])}
    except psycopg.Error as exc:
        raise DatabaseError(f"cannot read ingest_rejects: {exc}") from exc
    out: dict[tuple[str, str, str], Refused] = {}
    for topic, reason, n, first, last in rows:
        site, meter = _names(str(topic), root)
        key = (site, meter, str(reason))
        seen = out.get(key)
        admitted = (site, meter) in known or (
            reason == SITE_LIMIT and not meter and any(s == site for s, _ in known)
        )
        out[key] = Refused(
            site,
            meter,
            str(reason),
            int(n) + (seen.messages if seen else 0),
            min(first, seen.first) if seen else first,
            max(last, seen.last) if seen else last,
            admitted,
        )
    return sorted(out.values(), key=lambda r: r.last, reverse=True)


def _names(topic: str, root: str) -> tuple[str, str]:
    """(site, meter) of a reading, diagnostics or info topic; the topic itself when foreign."""
    try:
        if topic.endswith("/diagnostics"):
            kind, names = parse_diagnostics_topic(topic, root)
            return names[0], names[1] if kind == "meter" else ""
        if topic.endswith("/info"):
            return parse_meter_info_topic(topic, root)
        return parse_reading_topic(topic, root)
    except ContractError:
        return topic, ""


def cmd_admit(args: argparse.Namespace) -> int:
    lang = _lang(args)
    try:
        site, meter = check_name("site", args.site), check_name("meter", args.meter)
    except ContractError as exc:
        raise ConfigError(text("bad_name", lang, detail=exc.detail)) from None
    meter_id, new = admit(database_url(args.database_url), site, meter)
    print(text("admitted" if new else "known", lang, site=site, meter=meter, id=meter_id))
    return 0


def cmd_refused(args: argparse.Namespace) -> int:
    lang = _lang(args)
    root = args.topic_root or os.environ.get("EMUSA_TOPIC_ROOT") or DEFAULT_ROOT
    found = refused(database_url(args.database_url), root, args.limit)
    if not found:
        print(text("none", lang))
        return 0
    print(text("header", lang))
    for r in found:
        state = text("admitted_state" if r.admitted else "pending", lang)
        print(
            f"{r.site}  {r.meter or '-'}  {r.reason}  {r.messages}"
            f"  {r.first.astimezone(UTC):%Y-%m-%dT%H:%MZ}  {r.last.astimezone(UTC):%Y-%m-%dT%H:%MZ}"
            f"  {state}"
        )
    return 0


COMMANDS = {"admit-meter": cmd_admit, "refused-meters": cmd_refused}
