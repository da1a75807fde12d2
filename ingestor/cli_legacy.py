"""``emusa-ingestor import-legacy``: its flags, settings and the printed summary."""

from __future__ import annotations

import argparse
import os
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from contract import DEFAULT_ROOT, ContractError, check_name, check_root
from contract.settings import DATABASE_URL, TOPIC_ROOT, database_url
from ingestor import config as ingest_config
from ingestor.bounds import Limits
from ingestor.errors import ConfigError
from ingestor.legacy_import import PAGE_ROWS, ImportRequest, ImportResult, run_import
from ingestor.legacy_text import LANGS, summary, t, when
from ingestor.progress import progress
from ingestor.validate import Policy

LANG_VAR = "EMUSA_LANG"
TZ_VAR = "EMUSA_TZ"
# The live ingestor's policy knobs, so history is held to the same rules.
_POLICY_VARS = {
    "retention_days": ingest_config.ENV["retention_days"],
    "max_future_s": ingest_config.ENV["max_future_s"],
    "reject_keep_bytes": ingest_config.ENV["reject_keep_bytes"],
    "max_sites": ingest_config.ENV["max_sites"],
    "max_meters": ingest_config.ENV["max_meters"],
    "rejects_per_reason": ingest_config.ENV["rejects_per_reason"],
}


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "import-legacy",
        help="import the old Dash app's history (table leituras) into readings",
        description=(
            "Read the old app's table (database emusa_energy) in keyset pages, validate every"
            " row as a live reading (same reject reasons, kept in ingest_rejects), skip"
            " instants already stored, write with the live ingestor's COPY path, refresh the"
            " rollups of the imported range and print a summary. Idempotent: a second run"
            f" adds nothing. Writes into ${DATABASE_URL} (use the schema owner's URL, as for"
            " migrate, so the rollups can be refreshed); never writes to the old database."
            f" Same rules as `run`: ${_POLICY_VARS['retention_days']},"
            f" ${_POLICY_VARS['max_future_s']}, ${TOPIC_ROOT}."
        ),
    )
    p.add_argument("--source-url", required=True, help="libpq URL of the old app's database")
    p.add_argument("--site", required=True, help="site the readings belong to")
    p.add_argument("--meter", required=True, help="meter the readings belong to")
    p.add_argument("--table", default="leituras", help="old app's table (default leituras)")
    p.add_argument(
        "--since",
        help=f"first instant imported (ISO 8601; without offset: ${TZ_VAR}, America/Sao_Paulo)",
    )
    p.add_argument("--until", help="import rows before this instant (same format)")
    p.add_argument("--dry-run", action="store_true", help="read and count, write nothing")
    p.add_argument("--database-url", help=f"libpq URL (default: ${DATABASE_URL})")
    p.add_argument("--lang", choices=LANGS, help=f"default: ${LANG_VAR}, pt-BR")
    p.add_argument("--page-rows", type=int, default=PAGE_ROWS, help=argparse.SUPPRESS)


def _instant(flag: str, value: str | None, default: datetime, tz: ZoneInfo, lang: str) -> datetime:
    if value is None:
        return default
    try:
        ts = datetime.fromisoformat(value)
    except ValueError:
        raise ConfigError(t("bad_instant", lang, flag=flag, value=value)) from None
    return ts if ts.tzinfo else ts.replace(tzinfo=tz)


def _int_var(env: Mapping[str, str], var: str, default: int) -> int:
    raw = env.get(var)
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(f"{var} ({raw!r}) is not an integer") from None
    if value < 0:
        raise ConfigError(f"{var} ({raw!r}) must not be negative")
    return value


def _settings(env: Mapping[str, str]) -> dict[str, int]:
    fields = ingest_config.IngestorConfig.model_fields
    return {k: _int_var(env, var, int(fields[k].default)) for k, var in _POLICY_VARS.items()}


def limits_from_env(env: Mapping[str, str]) -> Limits:
    """The live ingestor's registration and dead-letter limits (same variables)."""
    values = _settings(env)
    return Limits(
        max_sites=values["max_sites"],
        max_meters=values["max_meters"],
        rejects_per_reason=values["rejects_per_reason"],
    )


def policy_from_env(env: Mapping[str, str]) -> Policy:
    """The live ingestor's validation policy, from the same variables and defaults."""
    values = _settings(env)
    root = env.get(TOPIC_ROOT) or DEFAULT_ROOT
    try:
        check_root(root)
    except ContractError as exc:
        raise ConfigError(f"{TOPIC_ROOT}: {exc.detail}") from None
    return Policy(
        root=root,
        retention=timedelta(days=values["retention_days"]),
        max_future=timedelta(seconds=values["max_future_s"]),
        keep_bytes=values["reject_keep_bytes"],
    )


def request(args: argparse.Namespace, env: Mapping[str, str]) -> ImportRequest:
    lang = args.lang or env.get(LANG_VAR) or "pt-BR"
    if lang not in LANGS:
        raise ConfigError(f"{LANG_VAR} ({lang!r}) must be one of {', '.join(LANGS)}")
    for flag, value in (("--site", args.site), ("--meter", args.meter)):
        try:
            check_name(flag.removeprefix("--"), value)
        except ContractError as exc:
            raise ConfigError(t("bad_name", lang, flag=flag, err=exc.detail)) from None
    try:
        tz = ZoneInfo(env.get(TZ_VAR) or "America/Sao_Paulo")
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigError(f"{TZ_VAR} ({env.get(TZ_VAR)!r}) is not a known time zone") from None
    since = _instant("--since", args.since, datetime.min.replace(tzinfo=UTC), tz, lang)
    until = _instant("--until", args.until, datetime.max.replace(tzinfo=UTC), tz, lang)
    if since >= until:
        raise ConfigError(t("bad_range", lang, since=args.since, until=args.until))
    if args.page_rows < 1:
        raise ConfigError("--page-rows must be at least 1")
    return ImportRequest(
        source_url=args.source_url,
        database_url=database_url(args.database_url, env),
        site=args.site,
        meter=args.meter,
        table=args.table,
        since=since,
        until=until,
        dry_run=args.dry_run,
        page_rows=args.page_rows,
        lang=lang,
    )


def report(result: ImportResult, req: ImportRequest) -> list[str]:
    lines = summary(
        result.tally,
        result.plan,
        table=result.table,
        site=req.site,
        meter=req.meter,
        lang=req.lang,
        dry_run=req.dry_run,
        new_meter=result.new_meter,
        seconds=result.seconds,
    )
    tally = result.tally
    if result.rollups and tally.first and tally.last:
        lines.append(
            "  "
            + t(
                "rollups",
                req.lang,
                start=when(tally.first),
                end=when(tally.last),
                how=result.rollups,
            )
        )
    if result.rollup_error:
        lines.append("  " + t("rollups_failed", req.lang, err=result.rollup_error))
    return lines


def run(
    args: argparse.Namespace,
    env: Mapping[str, str] | None = None,
    now: datetime | None = None,
) -> int:
    """The command; ``now`` (default the clock) dates the retention and future checks."""
    env = os.environ if env is None else env
    req = request(args, env)
    result = run_import(
        req,
        policy=policy_from_env(env),
        limits=limits_from_env(env),
        now=now or datetime.now(UTC),
        progress=lambda total, label: progress(total, label=label, lang=req.lang),
    )
    print("\n".join(report(result, req)))
    return 1 if result.rollup_error else 0
