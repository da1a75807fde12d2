"""``emusa-gateway``: command line of the gateway service."""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import sys
import time
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from contract.quantities import QUANTITIES
from gateway import cli_service, registers
from gateway.errors import GatewayError

if TYPE_CHECKING:
    from gateway.config import RtuBusConfig, TcpBusConfig
    from gateway.mapmodel import RegisterMap


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="emusa-gateway",
        description="EMUSA gateway: polls Modbus meters (RTU/TCP) and publishes readings to MQTT.",
    )
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")
    q = sub.add_parser(
        "quantities",
        help="list the canonical quantities (names used by maps, MQTT, the database)",
    )
    q.add_argument("--format", choices=("table", "json"), default="table")
    q.add_argument("--lang", choices=("pt-BR", "en"), default="pt-BR", help="label language")
    _add_modbus_commands(sub)
    cli_service.add_commands(sub)
    return p


# --- Modbus commands: simulate, scan-ports, read ----------------------------------------


def _host_port(text: str) -> tuple[str, int]:
    host, sep, port = text.rpartition(":")
    if not sep or not (port.isascii() and port.isdigit()):  # int() also reads other digits
        raise argparse.ArgumentTypeError(f"{text!r} is not HOST:PORT")
    return host or "127.0.0.1", int(port)


def _map_args(p: argparse.ArgumentParser, default_model: str | None = "kron_konect") -> None:
    g = p.add_mutually_exclusive_group()
    g.add_argument(
        "--model", default=default_model, help="shipped register map (default %(default)s)"
    )
    g.add_argument("--map", type=Path, dest="map_file", help="a register map file of your own")


def _serial_args(p: argparse.ArgumentParser) -> None:
    """Serial line; default: the map file's ``settings`` (plant file), else 9600 8N2."""
    p.add_argument("--baudrate", type=int)
    p.add_argument("--parity", choices=("N", "E", "O"))
    p.add_argument("--stopbits", type=int, choices=(1, 2))
    p.add_argument("--bytesize", type=int, choices=(7, 8))


def _line(args: argparse.Namespace, regmap: RegisterMap, timeout: float | None = None) -> Any:
    from gateway.scan import SerialSettings  # noqa: PLC0415

    return SerialSettings.for_map(
        regmap,
        timeout,
        baudrate=args.baudrate,
        parity=args.parity,
        stopbits=args.stopbits,
        bytesize=args.bytesize,
    )


def _add_modbus_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    s = sub.add_parser(
        "simulate",
        help="serve a simulated meter (any shipped map) over Modbus TCP and/or RTU",
        description="A real Modbus server answering from a seeded plant model. "
        "Scenarios: KIND[@START][+DURATION] in seconds from now, KIND one of "
        "sag, swell, pf_drop, demand_peak, phase_loss, silent.",
    )
    _map_args(s)
    s.add_argument(
        "--tcp", type=_host_port, metavar="HOST:PORT", help="listen on TCP (port 0 = any)"
    )
    s.add_argument("--serial", metavar="PORT", help="answer Modbus RTU on this serial port")
    s.add_argument(
        "--pty", action="store_true", help="create a pseudo-terminal pair, print the path to open"
    )
    _serial_args(s)
    s.add_argument(
        "--unit",
        type=int,
        action="append",
        help="unit id (repeat for several meters; default: the map's channels, else 1)",
    )
    s.add_argument(
        "--at", type=float, metavar="UNIX_TIME", help="freeze the plant model at this instant"
    )
    s.add_argument("--seed", type=int, default=0)
    s.add_argument("--scenario", action="append", default=[], metavar="KIND[@START][+DURATION]")
    s.add_argument("--duration", type=float, help="stop after this many seconds")

    sc = sub.add_parser(
        "scan-ports",
        help="find the serial port where a meter answers (probe read on each port)",
    )
    sc.add_argument("ports", nargs="*", help="ports to try (default: every serial port listed)")
    _map_args(sc)
    _serial_args(sc)
    sc.add_argument("--unit", type=int, help="unit id (default: the map's channels, else 1)")
    sc.add_argument(
        "--timeout", type=float, help="seconds per probe (default: the map's, else 0.5)"
    )

    r = sub.add_parser("read", help="read a meter once and print canonical values (commissioning)")
    _map_args(r)
    where = r.add_mutually_exclusive_group(required=True)
    where.add_argument("--tcp", type=_host_port, metavar="HOST:PORT")
    where.add_argument(
        "--serial", metavar="PORT", help="serial port, or 'auto' to scan for the meter"
    )
    _serial_args(r)
    r.add_argument("--unit", type=int, help="unit id (default: the map's, else 1)")
    r.add_argument("--timeout", type=float, help="seconds (default: the map's, else 1.0)")
    r.add_argument("--retries", type=int, default=1)
    r.add_argument("--format", choices=("table", "json"), default="table")


def _cli_bus(
    args: argparse.Namespace, line: Any, common: dict[str, Any]
) -> TcpBusConfig | RtuBusConfig:
    """The bus a command-line read talks to: ``--tcp HOST:PORT`` or ``--serial PORT``."""
    from gateway.config import RtuBusConfig, TcpBusConfig  # noqa: PLC0415

    if args.tcp is not None:
        return TcpBusConfig(type="tcp", host=args.tcp[0], port=args.tcp[1], **common)
    return RtuBusConfig(
        type="rtu",
        port=args.serial,
        baudrate=line.baudrate,
        parity=line.parity,
        stopbits=line.stopbits,
        bytesize=line.bytesize,
        **common,
    )


def _quiet_pymodbus() -> None:
    """pymodbus logs every timeout at ERROR with frame dumps; our errors already say it."""
    logging.getLogger("pymodbus").setLevel(logging.CRITICAL)


def _cmd_simulate(args: argparse.Namespace) -> int:
    from gateway.simulator.run import parse_scenario, serve  # noqa: PLC0415 - the simulator

    _quiet_pymodbus()
    if args.tcp is None and args.serial is None and not args.pty:
        args.tcp = ("127.0.0.1", 5020)
    if args.pty and sys.platform == "win32":
        print(
            "emusa-gateway simulate: --pty needs Linux or macOS; on Windows use --tcp, or"
            " --serial COMx on one end of a virtual null-modem pair (com0com)",
            file=sys.stderr,
        )
        return 2
    now = time.time()
    try:
        regmap = registers.load(args.model, args.map_file)
        events = tuple(parse_scenario(text, now) for text in args.scenario)
    except (GatewayError, ValueError) as exc:
        print(f"emusa-gateway simulate: {exc}", file=sys.stderr)
        return 2
    line = _line(args, regmap)
    serial_settings = {
        "baudrate": line.baudrate,
        "parity": line.parity,
        "stopbits": line.stopbits,
        "bytesize": line.bytesize,
    }
    serial = {"port": args.serial, **serial_settings} if args.serial else None

    def say(line: str) -> None:
        print(line, flush=True)

    asyncio.run(
        serve(
            regmap,
            units=args.unit or [c.unit for c in regmap.channels] or [1],
            seed=args.seed,
            events=events,
            tcp=args.tcp,
            serial=serial,
            pty=args.pty,
            duration=args.duration,
            say=say,
            clock=time.time if args.at is None else (lambda: float(args.at)),
        )
    )
    return 0


def _cmd_scan_ports(args: argparse.Namespace) -> int:
    from gateway.cli_plant import print_scan  # noqa: PLC0415
    from gateway.scan import scan_ports  # noqa: PLC0415

    _quiet_pymodbus()
    try:
        regmap = registers.load(args.model, args.map_file)
    except GatewayError as exc:
        print(f"emusa-gateway scan-ports: {exc}", file=sys.stderr)
        return 2
    settings = _line(args, regmap, args.timeout)
    results = asyncio.run(scan_ports(settings, args.unit, regmap, args.ports or None))
    if regmap.channels or regmap.serial is not None:
        return print_scan(regmap, settings, results)
    print(f"probing unit {args.unit or 1} as {regmap.model} at {settings}")
    print(f"{'port':<24} {'status':<9} detail")
    for r in results:
        print(
            f"{r.port:<24} {'ANSWERED' if r.answered else 'silent':<9} {r.description} {r.detail}".rstrip()
        )
    if not results:
        print("no serial port found")
    return 0 if any(r.answered for r in results) else 1


def _cmd_read(args: argparse.Namespace) -> int:
    from gateway.buses import open_bus  # noqa: PLC0415
    from gateway.config import MeterConfig  # noqa: PLC0415
    from gateway.meter import MeterRead, read_meter  # noqa: PLC0415
    from gateway.planner import plan  # noqa: PLC0415

    _quiet_pymodbus()
    try:
        regmap = registers.load(args.model, args.map_file)
        line = _line(args, regmap, args.timeout)
        if regmap.serial is None and args.timeout is None:
            line = replace(line, timeout=1.0)
        if regmap.channels:
            return _read_channels(args, regmap, line)
        unit = args.unit if args.unit is not None else (regmap.default_unit or 1)
        meter = (
            MeterConfig(name="meter", model=args.model, unit=unit)
            if args.map_file is None
            else MeterConfig(name="meter", map_file=args.map_file, unit=unit)
        )
        common = {
            "name": "cli",
            "timeout": line.timeout,
            "retries": args.retries,
            "meters": [meter],
        }
        config = _cli_bus(args, line, common)
    except (GatewayError, ValueError) as exc:
        print(f"emusa-gateway read: {exc}", file=sys.stderr)
        return 2

    async def once() -> MeterRead:
        bus = open_bus(config)
        try:
            return await read_meter(bus, unit, regmap, plan(regmap))
        finally:
            await bus.close()

    try:
        result = asyncio.run(once())
    except GatewayError as exc:
        print(f"emusa-gateway read: {exc}", file=sys.stderr)
        return 1
    values, dropped = result.values, result.dropped
    if args.format == "json":
        json.dump(
            {"model": regmap.model, "unit": unit, "values": values, "dropped": dropped},
            sys.stdout,
            indent=2,
        )
        sys.stdout.write("\n")
        return 0
    print(f"{regmap.model} unit {unit}: {result.requests} requests, {result.elapsed * 1000:.0f} ms")
    for name, value in values.items():
        print(f"{name:<12} {value:>14.4f} {QUANTITIES[name].unit}")
    for name, reason in dropped.items():
        print(f"{name:<12} {'dropped':>14} {reason}")
    return 0


def _read_channels(args: argparse.Namespace, regmap: RegisterMap, line: Any) -> int:
    """``read --map`` on the plant's register file: every channel (or ``--unit``'s)."""
    from gateway.cli_plant import channel_meters, print_reads, read_channels  # noqa: PLC0415

    common: dict[str, Any] = {
        "name": "cli",
        "timeout": line.timeout,
        "retries": args.retries,
        "meters": channel_meters(regmap, args.map_file.resolve()),
    }
    config = _cli_bus(args, line, common)
    units = None if args.unit is None else [args.unit]
    try:
        reads = asyncio.run(read_channels(config, regmap, units))
    except GatewayError as exc:
        print(f"emusa-gateway read: {exc}", file=sys.stderr)
        return 1
    return print_reads(regmap, reads, args.format)


def _cmd_quantities(args: argparse.Namespace) -> int:
    rows = [
        {
            "name": q.name,
            "unit": q.unit,
            "group": q.group.value,
            "kind": q.kind.value,
            "label": q.label_pt if args.lang == "pt-BR" else q.label_en,
            "low": q.low,
            "high": q.high,
        }
        for q in QUANTITIES.values()
    ]
    if args.format == "json":
        json.dump(rows, sys.stdout, ensure_ascii=False, indent=2)
        sys.stdout.write("\n")
        return 0
    for r in rows:
        print(f"{r['name']:<12} {r['unit']:<6} {r['kind']:<8} {r['label']}")
    return 0


COMMANDS = {
    "quantities": _cmd_quantities,
    "simulate": _cmd_simulate,
    "scan-ports": _cmd_scan_ports,
    "read": _cmd_read,
    **cli_service.COMMANDS,
}


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    return COMMANDS[args.command](args)


if __name__ == "__main__":
    raise SystemExit(main())
