"""``emusa-analytics``: command line of the analytics service."""

from __future__ import annotations

import argparse
import logging
import signal
import sys
from datetime import datetime, timedelta
from types import FrameType
from typing import Any

from analytics import config
from analytics.delivery import cli as delivery_cli
from analytics.delivery.config import DeliveryConfig
from analytics.delivery.config import load as load_delivery_config
from analytics.delivery.jobs import delivery_jobs
from analytics.demand import job as demand
from analytics.detection.job import detect
from analytics.errors import AnalyticsError, ConfigError
from analytics.shifts import cli as shifts_cli
from analytics.summaries.job import summarize
from analytics.worker import rollups
from analytics.worker.context import Context
from analytics.worker.outbox import publish
from analytics.worker.registry import scheduled
from analytics.worker.scheduler import Scheduler, clock_from, utcnow
from contract import logs
from contract.errors import SettingsError
from contract.settings import DATABASE_URL, database_url, utc_database_sessions


def _instant(text: str) -> datetime:
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an ISO 8601 instant: {text!r}") from None
    if value.tzinfo is None:
        raise argparse.ArgumentTypeError(f"instant without a UTC offset: {text!r}")
    return value


def _worker_flags(p: argparse.ArgumentParser, *, mqtt: bool = True) -> None:
    p.add_argument("--site", help="only this site (default: $EMUSA_SITE, else every site)")
    p.add_argument("--tz", help="time zone of CLI output (default: $EMUSA_TZ, America/Sao_Paulo)")
    p.add_argument("--lang", choices=("pt-BR", "en"), help="default: $EMUSA_LANG, pt-BR")
    p.add_argument("--llm-url", help="OpenAI-compatible base URL (default: $EMUSA_LLM_URL)")
    p.add_argument("--llm-model", help="model name (default: $EMUSA_LLM_MODEL)")
    p.add_argument("--no-model", action="store_true", help="rules only, no statistical model")
    p.add_argument("--settle-minutes", type=float, help="wait for late data (default 5)")
    p.add_argument("--catch-up-days", type=float, help="how far back to catch up (default 7)")
    if mqtt:
        p.add_argument("--mqtt-url", help="default: $EMUSA_MQTT_URL")
        p.add_argument("--topic-root", help="default: $EMUSA_TOPIC_ROOT, emusa")


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="emusa-analytics",
        description="EMUSA analytics: rollups, anomaly detection, summaries and reports.",
    )
    p.add_argument("--database-url", help=f"libpq URL (default: ${DATABASE_URL})")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")
    r = sub.add_parser("refresh-rollups", help="re-aggregate the rollups over a range")
    r.add_argument("--from", dest="start", type=_instant, help="ISO 8601 with offset")
    r.add_argument("--to", dest="end", type=_instant, help="ISO 8601 with offset")
    r.add_argument("--pending", action="store_true", help="only what the ingestor logged")
    t = sub.add_parser("tariff-period", help="tariff period of an instant at a site")
    t.add_argument("--site", required=True)
    t.add_argument("--at", required=True, type=_instant, help="ISO 8601 with offset")
    run = sub.add_parser("run", help="the scheduler: rollups, detection, summaries, publishing")
    _worker_flags(run)
    run.add_argument("--detect-every", type=float, default=5.0, help="minutes (default 5)")
    run.add_argument("--tick", type=float, default=5.0, help="seconds between checks (default 5)")
    run.add_argument(
        "--delivery-config",
        help="reports, e-mail and alerts YAML (default: $EMUSA_DELIVERY_CONFIG; see docs/analytics-and-reports.md)",
    )
    run.add_argument(
        "--clock-start",
        type=_instant,
        help="for tests: the worker's clock starts at this instant (ISO 8601 with offset)",
    )
    d = sub.add_parser("detect", help="run detection once, up to now (or --at)")
    _worker_flags(d, mqtt=False)
    d.add_argument("--at", type=_instant, help="pretend it is this instant")
    s = sub.add_parser("summarize", help="write the missing 6-hour summaries once")
    _worker_flags(s, mqtt=False)
    s.add_argument("--at", type=_instant, help="pretend it is this instant")
    dem = sub.add_parser(
        "demand", help="project the running 15-minute demand interval once (and alert)"
    )
    _worker_flags(dem)
    dem.add_argument("--at", type=_instant, help="pretend it is this instant")
    pub = sub.add_parser("publish", help="send unpublished alerts and summaries to MQTT once")
    pub.add_argument("--mqtt-url", help="default: $EMUSA_MQTT_URL")
    pub.add_argument("--topic-root", help="default: $EMUSA_TOPIC_ROOT, emusa")
    delivery_cli.add_commands(sub)  # report, send-test-email, export, pbids, serve-api, deliver
    shifts_cli.add_commands(sub)  # shifts set|show|clear
    return p


def _settings(args: argparse.Namespace) -> config.Settings:
    flags: dict[str, Any] = {"database_url": args.database_url}
    for name in ("site", "tz", "lang", "llm_url", "llm_model", "mqtt_url", "topic_root"):
        flags[name] = getattr(args, name, None)
    if getattr(args, "no_model", False):
        flags["model_enabled"] = False
    if getattr(args, "settle_minutes", None) is not None:
        flags["settle"] = timedelta(minutes=args.settle_minutes)
    if getattr(args, "catch_up_days", None) is not None:
        flags["catch_up"] = timedelta(days=args.catch_up_days)
    if getattr(args, "detect_every", None) is not None:
        flags["detect_every"] = timedelta(minutes=args.detect_every)
    return config.load(flags)


def _run(
    settings: config.Settings,
    tick: float,
    delivery: DeliveryConfig,
    clock_start: datetime | None = None,
) -> None:
    if settings.mqtt_url is None:
        raise ConfigError("EMUSA_MQTT_URL: is not set (alerts and summaries go to MQTT)")
    ctx = Context(settings)
    scheduler = Scheduler(
        [*scheduled(ctx), *delivery_jobs(settings.database_url, delivery)],
        clock=utcnow if clock_start is None else clock_from(clock_start),
        tick=tick,
    )

    def stop(signum: int, _frame: FrameType | None) -> None:
        logging.getLogger("analytics").info("signal %d: stopping", signum)
        scheduler.stop()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    try:
        scheduler.run_forever()
    finally:
        ctx.close()


def _once(args: argparse.Namespace) -> None:
    """``detect``, ``demand``, ``summarize`` or ``publish``, once."""
    settings = _settings(args)
    ctx = Context(settings)
    now = getattr(args, "at", None) or utcnow()
    try:
        if args.command == "detect":
            rollups.refresh_rollups(ctx, now)
            for site, counts in detect(ctx, now).items():
                print(f"{site}: {counts if counts is not None else 'busy (another worker)'}")
        elif args.command == "demand":
            for p in demand.run(ctx, now, demand.params_from_env()).values():
                print(demand.describe(p))
        elif args.command == "summarize":
            print(f"wrote {len(summarize(ctx, now))} summaries")
        else:
            if settings.mqtt_url is None:
                raise ConfigError("EMUSA_MQTT_URL: is not set")
            print(f"published {publish(ctx, now)} messages")
    finally:
        ctx.close()


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    utc_database_sessions()
    logs.setup()
    try:
        if args.command in delivery_cli.COMMANDS:
            return delivery_cli.COMMANDS[args.command](args)
        if args.command in shifts_cli.COMMANDS:
            return shifts_cli.COMMANDS[args.command](args)
        if args.command == "refresh-rollups":
            url = database_url(args.database_url)
            if args.pending:
                print(f"refreshed {rollups.refresh_pending(url)} pending ranges")
            elif args.start and args.end:
                how = rollups.refresh(url, args.start, args.end)
                print(f"refreshed {args.start.isoformat()} .. {args.end.isoformat()} ({how})")
            else:
                parser.error("refresh-rollups needs --from and --to, or --pending")
        elif args.command == "tariff-period":
            print(rollups.tariff_period(database_url(args.database_url), args.site, args.at))
        elif args.command == "run":
            delivery = load_delivery_config(args.delivery_config)
            _run(_settings(args), args.tick, delivery, args.clock_start)
        else:
            _once(args)
    except (AnalyticsError, SettingsError) as exc:
        print(f"emusa-analytics {args.command}: error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
