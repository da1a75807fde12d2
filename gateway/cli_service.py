"""``emusa-gateway run`` and ``emusa-gateway check-config``."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys
from pathlib import Path

from contract import logs
from gateway import config as gateway_config
from gateway import health, paths
from gateway.errors import GatewayError
from gateway.service import budget, load_meters, run
from gateway.stopping import stop_on_signals

log = logging.getLogger(__name__)

CONFIG_VAR = "EMUSA_GATEWAY_CONFIG"


def add_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    for name, help_text in (
        ("run", "poll the configured meters and publish to MQTT until stopped"),
        ("check-config", "validate the configuration, its register maps and the poll budget"),
    ):
        p = sub.add_parser(name, help=help_text, description=help_text)
        p.add_argument(
            "--config",
            type=Path,
            default=None,
            help=f"gateway YAML file (default: ${CONFIG_VAR})",
        )
    sub.choices["run"].add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub.choices["run"].add_argument(
        "--status-file",
        type=Path,
        default=None,
        help=f"status JSON rewritten every 2 s (default: ${paths.STATUS_VAR}, else"
        f" {paths.STATUS_FILE} in the data folder, {paths.data_dir()})",
    )
    h = sub.add_parser(
        "health",
        help="exit 0 when the running gateway read a meter recently (docker healthcheck)",
    )
    h.add_argument("--status-file", type=Path, default=None, help="default: as for run")
    h.add_argument("--max-age", type=float, default=30.0, help="seconds (default %(default)s)")


def _status_file(args: argparse.Namespace) -> Path:
    return args.status_file if args.status_file is not None else paths.default_status_file()


def _config_path(args: argparse.Namespace) -> Path:
    path = args.config or (Path(os.environ[CONFIG_VAR]) if os.environ.get(CONFIG_VAR) else None)
    if path is None:
        raise GatewayError(f"no configuration: pass --config or set {CONFIG_VAR}")
    return Path(path)


def cmd_check_config(args: argparse.Namespace) -> int:
    try:
        path = _config_path(args)
        cfg = gateway_config.load(path)
        ok = True
        for bus in cfg.buses:
            meters = load_meters(bus, path.parent)
            report = budget(bus, meters, cfg.poll_interval)
            ok &= report.fits
            print(report.describe())
            for m in meters:
                print(
                    f"  {m.name}: {m.regmap.model} unit {m.config.unit},"
                    f" {len(m.regmap.registers)} quantities in {len(m.blocks)} reads"
                    + (f" (channel {m.channel.name!r})" if m.channel is not None else "")
                )
                for warning in m.regmap.warnings:
                    print(f"    warning: {warning}")
    except GatewayError as exc:
        print(f"emusa-gateway check-config: error: {exc}", file=sys.stderr)
        return 2
    if not ok:
        print(
            "emusa-gateway check-config: the poll interval is shorter than what a bus can do",
            file=sys.stderr,
        )
        return 1
    print(f"{path}: valid")
    return 0


def cmd_run(args: argparse.Namespace) -> int:
    logs.setup(verbose=args.verbose, quiet=("pymodbus",))
    try:
        path = _config_path(args)
        cfg = gateway_config.load(path)
    except GatewayError as exc:
        print(f"emusa-gateway run: error: {exc}", file=sys.stderr)
        return 2

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        with stop_on_signals(loop, stop):  # Ctrl-C, Ctrl-Break (Windows), SIGTERM
            await run(cfg, path.parent, stop, status_file=_status_file(args))

    try:
        asyncio.run(main())
    except GatewayError as exc:
        print(f"emusa-gateway run: error: {exc}", file=sys.stderr)
        return 2
    return 0


def cmd_health(args: argparse.Namespace) -> int:
    healthy, reason = health.check(_status_file(args), args.max_age)
    print(f"{'healthy' if healthy else 'unhealthy'}: {reason}")
    return 0 if healthy else 1


COMMANDS = {"run": cmd_run, "check-config": cmd_check_config, "health": cmd_health}
