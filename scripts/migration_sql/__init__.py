"""The registry-driven parts of the schema (``contract/quantities.py``) as SQL migrations.

``grains`` holds the rollup grains and the generated header, ``columns`` the aggregate
columns of the internal rollups; one module per migration family: ``timescale`` and
``apache`` (0002 on each build, 0008 on the Apache build), ``views`` and ``bi`` (0003),
``added_0016`` (a quantity added later). ``scripts/gen_migration_sql.py`` prints
``MIGRATIONS`` by name; ``scripts/gen_migration_0017.py`` uses the grains and the header.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Mapping

from . import added_0016, apache, timescale, views

# subcommand of scripts/gen_migration_sql.py -> builder of the migration's SQL
MIGRATIONS: dict[str, Callable[[], str]] = {
    "added-0016-apache": added_0016.added_apache,
    "added-0016-timescale": added_0016.added_timescale,
    "rollups-apache": apache.rollups_apache,
    "rollups-timescale": timescale.rollups_timescale,
    "views": views.views,
    "refresh-from-minutes": apache.refresh_from_minutes,
}


def main(argv: list[str], builders: Mapping[str, Callable[[], str]] = MIGRATIONS) -> int:
    """Print the SQL of the subcommand ``argv[1]`` (one of ``builders``); 2 on bad usage."""
    if len(argv) != 2 or argv[1] not in builders:
        print(f"usage: {argv[0]} {{{','.join(builders)}}}", file=sys.stderr)
        return 2
    sys.stdout.write(builders[argv[1]]())
    return 0
