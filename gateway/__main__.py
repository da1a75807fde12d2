"""``emusa-gateway``: command line of the gateway service."""

from __future__ import annotations

import argparse
import json
import sys

from gateway.quantities import QUANTITIES


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
    return p


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


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    return {"quantities": _cmd_quantities}[args.command](args)


if __name__ == "__main__":
    raise SystemExit(main())
