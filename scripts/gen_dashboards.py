"""Generate the provisioned Grafana dashboards (pt-BR) from one description.

    python scripts/gen_dashboards.py          # rewrite grafana/provisioning/dashboards/emusa/*.json
    python scripts/gen_dashboards.py --check  # exit 1 when a committed JSON differs

The JSON files are what Grafana loads and what the tests read; the package
``scripts/dashboards`` describes them (one module per dashboard, a shared panel kit and
SQL builders), so that every dashboard uses one datasource uid, the same variables, the
same relation switch for long ranges and the same PRODIST thresholds. Edit there, then
run this script.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from dashboards import DASHBOARDS

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "grafana" / "provisioning" / "dashboards" / "emusa"


def render() -> dict[str, str]:
    return {
        name: json.dumps(build(), indent=2, ensure_ascii=False) + "\n"
        for name, build in DASHBOARDS.items()
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="fail when a file is out of date")
    args = parser.parse_args()
    stale = []
    for name, content in render().items():
        path = OUT / name
        if args.check:
            if not path.exists() or path.read_text(encoding="utf-8") != content:
                stale.append(name)
            continue
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(content, encoding="utf-8")
    if stale:
        print(f"out of date (run scripts/gen_dashboards.py): {', '.join(stale)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
