"""Subcommands of ``emusa-analytics`` for reports and delivery: ``report``,
``send-test-email``, ``export``, ``pbids``, ``serve-api``, ``deliver``.

``__main__`` registers them with ``add_commands(subparsers)`` and dispatches through
``COMMANDS[name](args)``; each returns the exit status and raises AnalyticsError (or
contract's SettingsError for the database URL) for ``__main__`` to print.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import psycopg

from analytics.api import app, export
from analytics.delivery import alerts, mail
from analytics.delivery.config import CONFIG_VAR, DeliveryConfig
from analytics.delivery.config import load as load_config
from analytics.errors import AnalyticsError, DatabaseError
from analytics.reports import data, periods, service
from analytics.reports.delivery import deliver_due_reports
from contract.settings import database_url


def _config(args: argparse.Namespace, **overrides: Any) -> DeliveryConfig:
    cfg = load_config(args.delivery_config)
    updates = {k: v for k, v in overrides.items() if v is not None}
    return cfg.model_copy(update=updates) if updates else cfg


def _when(text: str | None, tz: ZoneInfo) -> datetime | None:
    """An ISO date (local midnight) or instant; without an offset, local time in ``tz``."""
    if text is None:
        return None
    try:
        if len(text) == 10:
            d = date.fromisoformat(text)
            return datetime(d.year, d.month, d.day, tzinfo=tz)
        value = datetime.fromisoformat(text)
    except ValueError:
        raise AnalyticsError(f"not an ISO 8601 date or instant: {text!r}") from None
    return value if value.tzinfo else value.replace(tzinfo=tz)


def _site(cfg: DeliveryConfig, dsn: str, given: str | None) -> str:
    if given or cfg.site:
        return str(given or cfg.site)
    try:
        with psycopg.connect(dsn) as conn:
            ids = data.sites(conn)
    except psycopg.Error as exc:
        raise DatabaseError(f"listing sites: {exc}") from exc
    if len(ids) != 1:
        raise AnalyticsError(
            f"name the site with --site or EMUSA_SITE (sites: {', '.join(ids) or 'none'})"
        )
    return ids[0]


def cmd_report(args: argparse.Namespace) -> int:
    cfg = _config(args, lang=args.lang)
    dsn = database_url(args.database_url)
    site_id = _site(cfg, dsn, args.site)
    try:
        with psycopg.connect(dsn) as conn:
            tz = data.site(conn, site_id).tz
    except psycopg.Error as exc:
        raise DatabaseError(f"reading site {site_id}: {exc}") from exc
    start, end = _when(args.start, tz), _when(args.end, tz)
    today = datetime.now(tz).date()
    if start is None:
        if args.kind == "daily":
            start, default_end = periods.day_period(today - timedelta(days=1), tz)
        else:
            a, _ = periods.fortnight_dates(today)
            start, default_end = periods.fortnight_period(a - timedelta(days=1), tz)
        end = end or default_end
    if end is None:
        end = start + (timedelta(days=1) if args.kind == "daily" else timedelta(days=15))
    out = Path(args.out) if args.out else None
    rec = service.generate(dsn, site_id, args.kind, start=start, end=end, config=cfg, out=out)
    print(
        f"report {rec.report_id}: {out or rec.path} ({rec.bytes} bytes, sha256 {rec.sha256[:12]}…)"
    )
    return 0


def cmd_send_test_email(args: argparse.Namespace) -> int:
    cfg = _config(args)
    to = args.to or cfg.recipients.daily or cfg.recipients.alerts
    if not to:
        raise AnalyticsError("no recipient: --to ADDRESS, or recipients.daily in the configuration")
    settings = mail.parse_smtp_url(cfg.smtp_url)
    pt = cfg.lang == "pt-BR"
    msg = mail.build_message(
        cfg.mail_from,
        to,
        "[EMUSA] E-mail de teste" if pt else "[EMUSA] Test e-mail",
        (
            "Este é um e-mail de teste do EMUSA: o envio de relatórios está configurado.\n\n"
            if pt
            else "This is a test e-mail from EMUSA: report delivery is configured.\n\n"
        )
        + cfg.branding
        + "\n",
    )
    used = mail.send(settings, msg, attempts=cfg.smtp_attempts, delay=cfg.smtp_retry_delay_s)
    print(
        f"sent to {', '.join(to)} via {settings.host}:{settings.port} ({settings.security}, {used} attempt(s))"
    )
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    cfg = _config(args)
    dsn = database_url(args.database_url)
    tz = ZoneInfo(cfg.timezone)
    start, end = _when(args.start, tz), _when(args.end, tz)
    if start is None or end is None:
        raise AnalyticsError("export needs --from and --to")
    chunks = export.csv_rows(
        dsn, start, end, meters=args.meter or (), site=args.site, sep=args.sep, decimal=args.decimal
    )
    if args.out:
        with open(args.out, "w", encoding="utf-8", newline="") as f:
            for c in chunks:
                f.write(c)
    else:
        for c in chunks:
            sys.stdout.write(c)
    return 0


def cmd_pbids(args: argparse.Namespace) -> int:
    cfg = _config(args)
    pb = cfg.powerbi
    text = json.dumps(
        export.pbids(args.server or pb.server, args.database or pb.database, pb.mode), indent=2
    )
    if args.out:
        Path(args.out).write_text(text + "\n", encoding="utf-8")
    else:
        print(text)
    return 0


def cmd_serve_api(args: argparse.Namespace) -> int:
    cfg = _config(args)
    if not cfg.api_token:
        raise AnalyticsError("EMUSA_API_TOKEN is not set: the API refuses to serve without a token")
    app.serve(database_url(args.database_url), cfg, host=args.host, port=args.port)
    return 0


def cmd_deliver(args: argparse.Namespace) -> int:
    cfg = _config(args)
    dsn = database_url(args.database_url)
    now = datetime.now(UTC)
    for d in deliver_due_reports(dsn, now, cfg):
        state = "e-mailed" if d.emailed else (f"not e-mailed: {d.error}" if d.error else "built")
        print(f"{d.kind} {d.site_id} {d.period_start.isoformat()}: report {d.report_id} {state}")
    for a in alerts.deliver_alerts(dsn, now, cfg):
        print(f"alert {a.anomaly_id}: {a.outcome} {','.join(a.channels)} {a.error or ''}".rstrip())
    return 0


COMMANDS: dict[str, Callable[[argparse.Namespace], int]] = {
    "report": cmd_report,
    "send-test-email": cmd_send_test_email,
    "export": cmd_export,
    "pbids": cmd_pbids,
    "serve-api": cmd_serve_api,
    "deliver": cmd_deliver,
}


def add_commands(sub: Any) -> None:
    """Add the delivery subcommands to ``emusa-analytics``'s subparsers."""
    cfg_help = f"delivery YAML (default: ${CONFIG_VAR})"
    r = sub.add_parser("report", help="build a PDF report now (recorded as adhoc)")
    r.add_argument("--kind", choices=("daily", "fortnightly"), default="daily")
    r.add_argument(
        "--from", dest="start", help="ISO date or instant (default: yesterday / last fortnight)"
    )
    r.add_argument("--to", dest="end", help="ISO date or instant (exclusive)")
    r.add_argument("--site", help="site id (default: $EMUSA_SITE, or the only site)")
    r.add_argument("--lang", choices=("pt-BR", "en"), help="default: $EMUSA_LANG or pt-BR")
    r.add_argument("--out", help="also write the PDF here")
    r.add_argument("--delivery-config", help=cfg_help)
    m = sub.add_parser("send-test-email", help="send a test e-mail through $EMUSA_SMTP_URL")
    m.add_argument("--to", action="append", help="recipient (repeatable)")
    m.add_argument("--delivery-config", help=cfg_help)
    e = sub.add_parser("export", help="CSV of bi.readings_1m over a range")
    e.add_argument("--from", dest="start", required=True)
    e.add_argument("--to", dest="end", required=True)
    e.add_argument("--meter", action="append", help="meter name (repeatable; default all)")
    e.add_argument("--site")
    e.add_argument("--sep", default=",", help="',' (default) or ';' (pt-BR, with decimal comma)")
    e.add_argument("--decimal", choices=(",", "."), help="default: ',' with --sep ';'")
    e.add_argument("--out", help="file (default: standard output)")
    e.add_argument("--delivery-config", help=cfg_help)
    p = sub.add_parser("pbids", help="write the Power BI data source file (.pbids)")
    p.add_argument("--server", help="host:port Power BI reaches (default: powerbi.server)")
    p.add_argument("--database", help="database name (default: powerbi.database)")
    p.add_argument("--out", help="file (default: standard output)")
    p.add_argument("--delivery-config", help=cfg_help)
    s = sub.add_parser("serve-api", help="HTTP API: PDFs, CSV export, .pbids, health")
    s.add_argument("--host", default="0.0.0.0")  # noqa: S104 - a container service
    s.add_argument("--port", type=int, default=8080)
    s.add_argument("--delivery-config", help=cfg_help)
    d = sub.add_parser("deliver", help="build/e-mail due reports and send pending alerts once")
    d.add_argument("--delivery-config", help=cfg_help)
